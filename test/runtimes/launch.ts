/**
 * Starts a program under one runtime as a real process on 127.0.0.1 and waits for its `listening on <url>` line
 * (workerd prints `Listening on <url>` itself once its socket is bound). Shared by test/runtimes/ and bench/runtimes/.
 *
 * A program is one TypeScript entry per kind of runtime: Node runs the JavaScript tsc made of it (Node 20 strips no
 * types), Bun runs the TypeScript, Deno too (with `--sloppy-imports`, for the `./x.js` specifiers Node's resolution
 * wants), and workerd runs a rolldown bundle of the Worker entry, with the environment as text bindings.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT, runtimeBinary, type RuntimeName } from './binaries.js';
import { freePort } from '../helpers/free-port.js';

export { ROOT };

/**
 * The tsconfig Bun reads instead of the root's, whose `paths` point `@restjwt/*` at the packages' sources: with it
 * Bun imports the built packages, as every other runtime here does and as an app would.
 */
const BUN_TSCONFIG = 'examples/runtimes/tsconfig.json';

/** The entries of one program, as paths from the repository root. */
export interface Program {
  /** The JavaScript tsc compiled from the Node entry (see {@link compileForNode}). */
  nodeJs: string;
  /** The TypeScript entry for Bun. */
  bunTs: string;
  /** The TypeScript entry for Deno. */
  denoTs: string;
  /** The rolldown bundle of the Worker entry (see {@link bundleWorker}). */
  workerBundle: string;
}

/** Compiles a tsconfig project (its outDir inside the repository, so that bare imports find node_modules). */
export function compileForNode(tsconfig: string): void {
  const tsc = join(ROOT, 'node_modules/typescript/bin/tsc');
  const out = spawnSync(process.execPath, [tsc, '-p', join(ROOT, tsconfig)], { cwd: ROOT, encoding: 'utf8' });
  if (out.status !== 0) throw new Error(`tsc -p ${tsconfig} failed:\n${out.stdout}${out.stderr}`);
}

/**
 * Bundles a Worker entry into one ES module. `node:*` stay imports (workerd's Node compatibility serves them); the
 * native argon2, bcryptjs (only for Django bcrypt hashes) and the SQL store (not on Workers) are left out.
 */
export async function bundleWorker(entry: string, file: string, external: (string | RegExp)[] = [/^node:/, '@node-rs/argon2', 'bcryptjs', '@restjwt/sql']): Promise<void> {
  const { build } = await import('rolldown');
  await build({
    input: join(ROOT, entry),
    platform: 'neutral',
    external,
    logLevel: 'silent',
    output: { file: join(ROOT, file), format: 'esm' },
  });
}


/** A capnp text literal. */
const capnpText = (value: string) => JSON.stringify(value);

/**
 * The workerd config serving `bundle` on `port`, with `env` as text bindings and loopback fetches allowed. `webOnly`:
 * a Worker of a compatibility date before Node compatibility became the default (2026-08-04), without the
 * `nodejs_compat` flag — no `node:*` module, no `Buffer`, no `process`: the web platform alone, as many deployed
 * Workers still run.
 */
function workerdConfig(bundle: string, port: number, env: Readonly<Record<string, string>>, webOnly: boolean): string {
  const bindings = Object.entries(env).map(([name, text]) => `(name = ${capnpText(name)}, text = ${capnpText(text)})`);
  return `using Workerd = import "/workerd/workerd.capnp";
const config :Workerd.Config = (
  services = [
    (name = "main", worker = .worker),
    # The default "internet" service reaches public addresses only: the tests' JWKS server is on 127.0.0.1.
    (name = "internet", network = (allow = ["public", "private", "local"])),
  ],
  sockets = [ (name = "http", address = "127.0.0.1:${port}", http = (), service = "main") ],
);
const worker :Workerd.Worker = (
  modules = [ (name = "worker", esModule = embed ${capnpText(bundle)}) ],
  compatibilityDate = "${webOnly ? '2024-09-23' : '2026-11-01'}",
  bindings = [ ${bindings.join(', ')} ],
);
`;
}

/** The command that runs `program` under a runtime other than workerd. */
export function command(runtime: Exclude<RuntimeName, 'workerd'>, program: Omit<Program, 'workerBundle'>): { bin: string; args: string[] } {
  const bin = runtimeBinary(runtime).path;
  switch (runtime) {
    case 'bun':
      return { bin, args: [`--tsconfig-override=${join(ROOT, BUN_TSCONFIG)}`, join(ROOT, program.bunTs)] };
    case 'deno':
      return { bin, args: ['run', '-A', '--sloppy-imports', '--no-lock', join(ROOT, program.denoTs)] };
    default:
      return { bin, args: [join(ROOT, program.nodeJs)] };
  }
}

/** The environment of a child process: only what it needs, plus `env`. */
export function childEnv(env: Readonly<Record<string, string>>): Record<string, string> {
  return { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? tmpdir(), DENO_NO_UPDATE_CHECK: '1', NO_COLOR: '1', ...env };
}

/** Runs a program that prints and exits (not workerd); resolves with its exit and output. */
export function runOnce(
  runtime: Exclude<RuntimeName, 'workerd'>,
  program: Omit<Program, 'workerBundle'>,
  env: Readonly<Record<string, string>>,
  timeoutMs = 60_000,
): Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }> {
  const { bin, args } = command(runtime, program);
  const child = spawn(bin, args, { cwd: ROOT, env: childEnv(env), stdio: ['ignore', 'pipe', 'pipe'], timeout: timeoutMs, killSignal: 'SIGKILL' });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

export interface Launched {
  url: string;
  child: ChildProcess;
  /** Everything the process printed so far (stdout and stderr). */
  output(): string;
  /** SIGTERM, then waits for the exit (SIGKILL after `graceMs`); resolves with how it ended. */
  stop(graceMs?: number): Promise<{ code: number | null; signal: NodeJS.Signals | null; killed: boolean }>;
}

/** How {@link launch} starts a program. */
export interface LaunchOptions {
  /** How long the program may take to print its listening line. Default 30 s. */
  timeoutMs?: number;
  /** workerd only: the web platform alone, without Node compatibility (see workerdConfig). */
  webOnly?: boolean;
}

/** Starts `program` under `runtime` with `env` (and PORT); rejects when it exits or stays silent for `timeoutMs`. */
export async function launch(runtime: RuntimeName, program: Program, env: Readonly<Record<string, string>>, options: LaunchOptions = {}): Promise<Launched> {
  const timeoutMs = options.timeoutMs ?? 30_000;
  let bin: string;
  let args: string[];
  let scratch: string | undefined;
  if (runtime !== 'workerd') {
    ({ bin, args } = command(runtime, program));
  } else {
    bin = runtimeBinary(runtime).path;
    scratch = mkdtempSync(join(tmpdir(), 'restjwt-workerd-'));
    // capnp reads an absolute `embed` path from its import path, not the file system: the bundle goes beside the config.
    copyFileSync(join(ROOT, program.workerBundle), join(scratch, 'worker.js'));
    const config = join(scratch, 'config.capnp');
    writeFileSync(config, workerdConfig('worker.js', await freePort(), env, options.webOnly === true));
    args = ['serve', config];
  }
  const child = spawn(bin, args, { cwd: ROOT, env: childEnv({ ...env, PORT: '0' }), stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => {
      if (scratch !== undefined) rmSync(scratch, { recursive: true, force: true });
      resolve({ code, signal });
    }),
  );
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${runtime} did not print its listening line within ${timeoutMs / 1000} s:\n${output}`)), timeoutMs);
    const read = (chunk: Buffer) => {
      output += chunk.toString('utf8');
      const m = /[Ll]istening on (http:\/\/127\.0\.0\.1:\d+)/.exec(output);
      if (m?.[1] !== undefined) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    };
    child.stdout.on('data', read);
    child.stderr.on('data', read);
    child.once('error', (error) => (clearTimeout(timer), reject(error)));
    void exited.then(({ code, signal }) => (clearTimeout(timer), reject(new Error(`${runtime} exited (${String(code ?? signal)}) before listening:\n${output}`))));
  }).catch((error: unknown) => {
    child.kill('SIGKILL');
    throw error;
  });
  return {
    url,
    child,
    output: () => output,
    async stop(graceMs = 5000) {
      if (child.exitCode !== null || child.signalCode !== null) return { ...(await exited), killed: false };
      child.kill('SIGTERM');
      let killed = false;
      const timer = setTimeout(() => ((killed = true), child.kill('SIGKILL')), graceMs);
      const end = await exited;
      clearTimeout(timer);
      return { ...end, killed };
    },
  };
}

