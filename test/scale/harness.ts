/**
 * Running the built `restjwt` CLI as real server processes for the scale and fault tests.
 *
 * The CLI is the built package `restjwt` (rebuilt first only when its sources are newer than the last build).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { builtCli } from '../helpers/built-cli.js';
import { waitForListening } from '../helpers/serve-process.js';
import { answer } from '../helpers/server.js';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

/** A fixed HMAC key every instance shares (RESTJWT_SIGNING_KEY). */
export const SHARED_SIGNING_KEY = 'restjwt-scale-test-signing-key-0123456789-abcdefghijklmnopqrstuvwxyz!';
export const PASSWORD = 'correct horse battery staple';

/** The built CLI, and how to remove what was prepared for it (nothing: the build is shared and read-only here). */
export function prepareCli(): { cli: string; remove: () => void } {
  return { cli: builtCli(), remove: () => {} };
}

/** The environment without the caller's RESTJWT_* and REDIS_URL variables, plus `extra`. */
export function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('RESTJWT_') && k !== 'REDIS_URL') env[k] = v;
  return { ...env, ...extra };
}

/** Runs a short CLI command to completion. */
export function runCli(cli: string, args: string[], options: { input?: string; env?: Record<string, string> } = {}) {
  const r = spawnSync(process.execPath, [cli, ...args], { input: options.input ?? '', env: cleanEnv(options.env), encoding: 'utf8', timeout: 60_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

export interface ServerProcess {
  url: string;
  child: ChildProcess;
  stderr(): string;
  stop(): Promise<void>;
}

/** Starts `restjwt serve` and resolves once it printed its listening line. */
export async function startServe(cli: string, args: string[], env: Record<string, string>): Promise<ServerProcess> {
  const child = spawn(process.execPath, [cli, 'serve', ...args], { env: cleanEnv(env), stdio: ['ignore', 'ignore', 'pipe'] });
  const exited = new Promise<void>((res) => child.once('exit', () => res()));
  const started = waitForListening(child, exited, 30_000);
  const url = await started.url;
  return {
    url,
    child,
    stderr: started.stderr,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const killer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(killer);
    },
  };
}

export interface Answer {
  status: number;
  json: any;
  ms: number;
}

/** One HTTP request; `json` is the parsed body (undefined when not JSON). */
export async function call(url: string, method: 'GET' | 'POST', path: string, body?: unknown, headers: Record<string, string> = {}): Promise<Answer> {
  const started = performance.now();
  const res = await fetch(url + path, {
    method,
    headers: body === undefined ? headers : { 'content-type': 'application/json', ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(30_000),
  });
  const { json } = await answer(res);
  return { status: res.status, json, ms: performance.now() - started };
}

/** The payload of a JWT, unverified (to read its jti in assertions). */
export function claims(token: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString('utf8')) as Record<string, unknown>;
}

/** The body every store outage answers with (the core's catalogue, English). */
export const STORE_UNAVAILABLE = {
  detail: 'The token store is unavailable. Nothing was issued or changed; try again shortly.',
  code: 'store_unavailable',
};
