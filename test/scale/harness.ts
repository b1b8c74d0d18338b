/**
 * Running the built `restjwt` CLI as real server processes for the scale and fault tests.
 *
 * The CLI is built when the sources are newer than `dist/`, then copied to a private directory under
 * `node_modules/.cache/`, so that another test file rebuilding `dist/` meanwhile cannot hand a half-written file to a
 * starting server.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { waitForListening } from '../helpers/serve-process.js';
import { answer } from '../helpers/server.js';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const DIST_CLI = join(ROOT, 'dist/cli/main.js');

/** A fixed HMAC key every instance shares (RESTJWT_SIGNING_KEY). */
export const SHARED_SIGNING_KEY = 'restjwt-scale-test-signing-key-0123456789-abcdefghijklmnopqrstuvwxyz!';
export const PASSWORD = 'correct horse battery staple';

function newestMtime(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestMtime(path) : statSync(path).mtimeMs);
  }
  return newest;
}

/** Builds `dist/` if needed and returns the path of a private copy of the CLI, and how to remove it. */
export function prepareCli(): { cli: string; remove: () => void } {
  if (!existsSync(DIST_CLI) || statSync(DIST_CLI).mtimeMs < newestMtime(join(ROOT, 'src'))) {
    // tsc emits despite type errors elsewhere (other work in progress); only a missing entry point is fatal.
    spawnSync(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json'], { cwd: ROOT, stdio: 'ignore' });
  }
  if (!existsSync(DIST_CLI)) throw new Error(`${DIST_CLI} is missing: run "npm run build" and look at its errors`);
  const base = join(ROOT, 'node_modules/.cache/restjwt-scale', `${process.pid}-${randomBytes(4).toString('hex')}`);
  for (let attempt = 1; ; attempt++) {
    rmSync(base, { recursive: true, force: true });
    mkdirSync(base, { recursive: true });
    cpSync(join(ROOT, 'dist'), join(base, 'dist'), { recursive: true });
    const cli = join(base, 'dist/cli/main.js');
    // A copy taken while another build was writing fails to load: take it again.
    if (spawnSync(process.execPath, [cli, '--help'], { stdio: 'ignore', timeout: 20_000 }).status === 0) {
      return { cli, remove: () => rmSync(base, { recursive: true, force: true }) };
    }
    if (attempt === 5) throw new Error(`the copied CLI ${cli} does not start`);
  }
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
