/**
 * HTTP benchmarks: autocannon (in this process; in a pinned child for the frameworks group, see below) against servers
 * started in separate child processes on loopback (`bench/servers/*.js` from `dist-bench/`), so the load generator
 * never shares the server's event loop.
 *
 *   npm run bench:http          the full run: median of BENCH_RUNS (3) runs of `-c 50 -d 5` per target, the defaults
 *                               group (`restjwt serve` with no flags, unpinned, loaded by `wrk -t2 -c50 -d6s` when
 *                               /usr/bin/wrk exists — BENCH_DEFAULTS_LOAD=autocannon to use autocannon: protected /
 *                               public, and --workers 2 vs simplejwt), the login-load
 *                               check, the memory check, simplejwt vs `restjwt serve --workers 2` when available, and
 *                               refresh with rotation + blacklist vs simplejwt on SQLite and PostgreSQL
 *   npm run bench:http:smoke    BENCH_SMOKE=1: every server ~1 s, only checks that they answer 200 (refresh: 4
 *                               chains for 1 s per target, each rotation answered 200 and a rotated token refused)
 *
 * BENCH_JSON=FILE also writes the results as JSON; BENCH_ONLY=defaults,frameworks,simplejwt,refresh,login,memory,metrics runs only those
 * parts; BENCH_RUNS, BENCH_CONNECTIONS, BENCH_DURATION, BENCH_WARMUP and BENCH_LOGIN_RATE change the load; BENCH_REFRESH_CONNECTIONS
 * (default 20) and BENCH_REFRESH_DURATION (10 s) the refresh load, and pgbench's TPC-B baseline on the same
 * PostgreSQL (scale 1, as many clients, as long; /usr/bin/pgbench); BENCH_PG_URL (default
 * postgres://postgres@127.0.0.1:5432/test) is where the refresh runs create, and drop, their fresh databases.
 *
 * Frameworks group: each (single-process) server runs on CPU 0 and autocannon on CPU 1 (`taskset`), as the issue that
 * set the targets measured with the server on one core; BENCH_PIN=0 turns this off, and it is off without
 * /usr/bin/taskset or with fewer than 2 CPUs. The 2-worker comparisons with simplejwt stay unpinned (both servers use
 * both cores), and run `restjwt serve --no-request-log`, since gunicorn logs no requests either.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import { Agent, request as httpRequest } from 'node:http';
import { performance } from 'node:perf_hooks';
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { openSqlStore } from '@restjwt/sql';
import type { OutstandingToken } from '@restjwt/core/store-kit';
import autocannon from 'autocannon';

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = join(HERE, '..', '..');
const SMOKE = process.env.BENCH_SMOKE === '1';
const RUNS = SMOKE ? 1 : Number(process.env.BENCH_RUNS ?? 3);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 50);
const DURATION = SMOKE ? 1 : Number(process.env.BENCH_DURATION ?? 5);
/** Seconds of load before a target's measured runs, thrown away: the server's JIT and caches warm up first. */
const WARMUP = SMOKE ? 0 : Number(process.env.BENCH_WARMUP ?? 2);
/** RSS bound for one million cache-on verifications of distinct tokens (stated before measuring: see docs/benchmarks.md). */
const RSS_BOUND_MIB = 128;

const TASKSET = '/usr/bin/taskset';
/** Where the frameworks group puts each server and its load generator, when pinning is on. */
const SERVER_CPU = 0;
const LOAD_CPU = 1;
/** Why pinning is off, or null when it is on. availableParallelism() is what `nproc` prints (it honours affinity). */
const PIN_OFF_REASON =
  process.env.BENCH_PIN === '0'
    ? 'BENCH_PIN=0'
    : !existsSync(TASKSET)
      ? `no ${TASKSET} (util-linux)`
      : availableParallelism() < 2
        ? `nproc = ${availableParallelism()}, 2 needed`
        : null;
const PIN = PIN_OFF_REASON === null;

interface Started {
  url: string;
  token: string;
  stop(): Promise<void>;
}

const children = new Set<ChildProcess>();
process.on('exit', () => {
  for (const c of children) c.kill('SIGKILL');
});

function track(child: ChildProcess): void {
  children.add(child);
  child.on('exit', () => children.delete(child));
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  const t = setTimeout(() => child.kill('SIGKILL'), 5000);
  await exited;
  clearTimeout(t);
}

/** The CPUs the kernel lets process `pid` run on (`Cpus_allowed_list` in /proc), to show that pinning took. */
function allowedCpus(pid: number | undefined): string {
  try {
    return /Cpus_allowed_list:\s*(\S+)/.exec(readFileSync(`/proc/${pid ?? 'self'}/status`, 'utf8'))?.[1] ?? '?';
  } catch {
    return '?';
  }
}

/**
 * Starts `bench/servers/NAME.js` and waits for its `{"port","token"}` line. `pin`: on CPU 0 (`taskset -c 0 node …`;
 * taskset execs node, so the child's pid is the server's and stopping it works as without taskset).
 */
async function startServer(name: string, env: Record<string, string> = {}, pin = false): Promise<Started> {
  const node = [process.execPath, join(HERE, 'servers', `${name}.js`)];
  const [command, ...args] = pin && PIN ? [TASKSET, '-c', String(SERVER_CPU), ...node] : node;
  const child = spawn(command!, args, {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  track(child);
  const line = await new Promise<string>((resolve, reject) => {
    const rl = createInterface({ input: child.stdout! });
    rl.once('line', (l) => resolve(l));
    child.once('exit', (code) => reject(new Error(`server ${name} exited (${String(code)}) before listening`)));
  });
  const { port, token } = JSON.parse(line) as { port: number; token: string };
  if (pin && PIN) notePinning('server', allowedCpus(child.pid));
  return { url: `http://127.0.0.1:${port}`, token, stop: () => stopChild(child) };
}

/** Prints, once per role, the CPUs a pinned process was allowed (they must be the ones asked for). */
const pinningNoted = new Set<string>();
function notePinning(role: 'server' | 'autocannon', cpus: string): void {
  const wanted = String(role === 'server' ? SERVER_CPU : LOAD_CPU);
  if (cpus !== wanted) throw new Error(`pinning: the ${role} runs on CPUs ${cpus}, not ${wanted}; run with BENCH_PIN=0 to measure unpinned`);
  if (pinningNoted.has(role)) return;
  pinningNoted.add(role);
  console.log(`pinning: ${role} pid affinity (Cpus_allowed_list) = ${cpus}`);
}

interface Load {
  rps: number;
  p99: number;
  p50: number;
  non2xx: number;
  errors: number;
}

const loadFigures = (r: autocannon.Result): Load => ({ rps: r.requests.average, p99: r.latency.p99, p50: r.latency.p50, non2xx: r.non2xx, errors: r.errors + r.timeouts });

/**
 * One autocannon run; `pin` (frameworks group): in a child process on CPU 1, see {@link loadPinned}. Only plain JSON
 * options (no callbacks) can be pinned.
 */
async function load(url: string, options: Partial<autocannon.Options> = {}, pin = false, tool: LoadTool = 'autocannon'): Promise<Load> {
  const all = { url, connections: CONNECTIONS, duration: DURATION, ...options };
  if (tool === 'wrk') return loadWrk(all);
  if (pin && PIN) return loadPinned(all);
  return loadFigures(await autocannon(all));
}

/** The load generator: autocannon (in this process, or pinned), or wrk where the issue's own measurement used it. */
type LoadTool = 'autocannon' | 'wrk';
const WRK = '/usr/bin/wrk';

/**
 * One `wrk -t2 --latency` run (unpinned, as a user would run it): a C load generator that takes far less CPU than
 * autocannon, so on two shared cores more of the machine goes to the server. Parsed from wrk's text report.
 */
function loadWrk(options: { url: string; connections?: number; duration?: number | string; headers?: Readonly<Record<string, string | readonly string[] | undefined>> }): Promise<Load> {
  const headerArgs = Object.entries(options.headers ?? {}).flatMap(([k, v]) => (v === undefined ? [] : ['-H', `${k}: ${String(v)}`]));
  const args = ['-t2', `-c${options.connections ?? CONNECTIONS}`, `-d${options.duration ?? DURATION}s`, '--latency', ...headerArgs, options.url];
  return new Promise<Load>((resolve, reject) => {
    const child = spawn(WRK, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    track(child);
    let out = '';
    child.stdout!.setEncoding('utf8').on('data', (c: string) => (out += c));
    child.stderr!.setEncoding('utf8').on('data', (c: string) => (out += c));
    child.once('error', reject);
    child.once('exit', (code) => {
      const rps = /Requests\/sec:\s+([\d.]+)/.exec(out);
      if (code !== 0 || rps === null) return reject(new Error(`wrk exited (${String(code)}): ${out.slice(-2000)}`));
      const ms = (m: RegExpExecArray | null): number => {
        if (m === null) return NaN;
        const unit = m[2] === 'us' ? 0.001 : m[2] === 's' ? 1000 : 1;
        return Number(m[1]) * unit;
      };
      const socket = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
      resolve({
        rps: Number(rps[1]),
        p99: ms(/\s99%\s+([\d.]+)(us|ms|s)\b/.exec(out)),
        p50: ms(/\s50%\s+([\d.]+)(us|ms|s)\b/.exec(out)),
        non2xx: Number(/Non-2xx or 3xx responses:\s+(\d+)/.exec(out)?.[1] ?? 0),
        errors: socket === null ? 0 : socket.slice(1).reduce((a, x) => a + Number(x), 0),
      });
    });
  });
}

/**
 * The child that runs one pinned autocannon run: the same programmatic API and options as in-process, its result
 * (and the CPUs it was allowed) back as one JSON line. argv[1]: autocannon's module URL, argv[2]: the options (JSON).
 */
const PINNED_LOAD_SCRIPT = `
const { default: autocannon } = await import(process.argv[1]);
const { readFileSync } = await import('node:fs');
const r = await autocannon(JSON.parse(process.argv[2]));
const cpus = /Cpus_allowed_list:\\s*(\\S+)/.exec(readFileSync('/proc/self/status', 'utf8'))?.[1] ?? '?';
process.stdout.write(JSON.stringify({ result: r, cpus }) + '\\n');
`;

/**
 * autocannon in a child process started as `taskset -c 1 node`, so the load generator keeps to CPU 1 while the server
 * has CPU 0. A child rather than re-running this whole script under taskset: everything else this script starts or
 * does (gunicorn, `restjwt serve --workers 2`, the refresh load client, which runs in this process) must keep both
 * cores, and the only thing to move is autocannon. The child costs a Node start-up (~50 ms) before each run, outside
 * autocannon's measured duration.
 */
function loadPinned(options: Partial<autocannon.Options>): Promise<Load> {
  const args = ['-c', String(LOAD_CPU), process.execPath, '--input-type=module', '-e', PINNED_LOAD_SCRIPT, import.meta.resolve('autocannon'), JSON.stringify(options)];
  return new Promise<Load>((resolve, reject) => {
    const child = spawn(TASKSET, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    track(child);
    let out = '';
    let err = '';
    child.stdout!.setEncoding('utf8').on('data', (c: string) => (out += c));
    child.stderr!.setEncoding('utf8').on('data', (c: string) => (err = (err + c).slice(-4000)));
    child.once('error', reject);
    child.once('exit', (code) => {
      try {
        if (code !== 0) throw new Error(`pinned autocannon exited (${String(code)}): ${err}`);
        const { result, cpus } = JSON.parse(out.trim().split('\n').pop() ?? '') as { result: autocannon.Result; cpus: string };
        notePinning('autocannon', cpus);
        resolve(loadFigures(result));
      } catch (error) {
        reject(error instanceof Error ? error : new Error(String(error)));
      }
    });
  });
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;

interface Row {
  framework: string;
  target: string;
  rps: number;
  p99: number;
  runs: number[];
  errors: number;
  /** Framework group: the same server's `/api/public/`, run just before each measured run (req/s of each run). */
  baselineRuns?: number[];
  /** Median of the per-pair ratios protected ÷ public (each pair measured back to back in one server process). */
  ratio?: number;
}

/** Median req/s and median p99 of RUNS runs; throws when any answer was not 2xx. `pin`: autocannon on CPU 1. */
async function measure(
  framework: string,
  target: string,
  url: string,
  headers: Record<string, string> = {},
  allowErrors = false,
  pin = false,
  tool: LoadTool = 'autocannon',
  duration = DURATION,
): Promise<Row> {
  const runs: Load[] = [];
  if (WARMUP > 0) await load(url, { headers, duration: WARMUP }, pin, tool);
  for (let i = 0; i < RUNS; i++) {
    const r = await load(url, { headers, duration }, pin, tool);
    if (r.non2xx > 0 || (r.errors > 0 && !allowErrors) || r.rps === 0) {
      throw new Error(`${framework} / ${target}: ${r.non2xx} non-2xx answers, ${r.errors} errors, ${r.rps} req/s`);
    }
    runs.push(r);
  }
  const errors = runs.reduce((a, r) => a + r.errors, 0);
  const row = { framework, target, rps: median(runs.map((r) => r.rps)), p99: median(runs.map((r) => r.p99)), runs: runs.map((r) => r.rps), errors };
  console.log(`${framework.padEnd(10)} ${target.padEnd(56)} ${row.rps.toFixed(0).padStart(7)} req/s  p99 ${row.p99.toFixed(1).padStart(6)} ms  (runs ${row.runs.map((x) => x.toFixed(0)).join(', ')})${errors > 0 ? `, ${errors} connection errors` : ''}`);
  return row;
}

/**
 * A framework-group target: RUNS pairs of runs on one server process, `/api/public/` then the protected URL, back to
 * back, after a warm-up of both. Pairing in time and process cancels what drifts between targets measured minutes
 * apart (this VM's clock: the same baseline measured 68 k and 56 k req/s in two runs) and the JIT state of a fresh
 * process. The ratio is the median of the pairs' ratios.
 */
async function measurePaired(
  framework: string,
  target: string,
  base: string,
  headers: Record<string, string>,
  pin = true,
  tool: LoadTool = 'autocannon',
  duration = DURATION,
): Promise<Row> {
  const publicUrl = `${base}/api/public/`;
  const protectedUrl = `${base}/api/protected/`;
  if (WARMUP > 0) {
    await load(publicUrl, { duration: WARMUP }, pin, tool);
    await load(protectedUrl, { headers, duration: WARMUP }, pin, tool);
  }
  const runs: Load[] = [];
  const baselines: Load[] = [];
  for (let i = 0; i < RUNS; i++) {
    for (const [url, h, into] of [[publicUrl, {}, baselines], [protectedUrl, headers, runs]] as const) {
      const r = await load(url, { headers: h, duration }, pin, tool);
      if (r.non2xx > 0 || r.errors > 0 || r.rps === 0) throw new Error(`${framework} / ${target} (${url}): ${r.non2xx} non-2xx answers, ${r.errors} errors, ${r.rps} req/s`);
      into.push(r);
    }
  }
  const ratio = median(runs.map((r, i) => r.rps / (baselines[i] as Load).rps));
  const row: Row = {
    framework,
    target,
    rps: median(runs.map((r) => r.rps)),
    p99: median(runs.map((r) => r.p99)),
    runs: runs.map((r) => r.rps),
    errors: 0,
    baselineRuns: baselines.map((r) => r.rps),
    ratio,
  };
  console.log(
    `${framework.padEnd(10)} ${target.padEnd(56)} ${row.rps.toFixed(0).padStart(7)} req/s  p99 ${row.p99.toFixed(1).padStart(6)} ms  ` +
      `${ratio.toFixed(2)}x its /api/public/ (runs ${row.runs.map((x) => x.toFixed(0)).join(', ')} vs ${row.baselineRuns?.map((x) => x.toFixed(0)).join(', ')})`,
  );
  return row;
}

/** One answer must be 200 before loading a target (a 401 would load-test the error path). */
async function expect200(url: string, headers: Record<string, string> = {}): Promise<void> {
  const res = await fetch(url, { headers });
  await res.arrayBuffer();
  if (res.status !== 200) throw new Error(`${url} answered ${res.status}, not 200`);
}

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

interface Target {
  framework: string;
  server: string;
  target: string;
  env?: Record<string, string>;
  path: '/api/protected/' | '/api/public/';
}

const TARGETS: Target[] = [];
for (const [framework, server] of [
  ['Fastify', 'restjwt-fastify'],
  ['Express', 'restjwt-express'],
  ['Hono', 'restjwt-hono'],
] as const) {
  TARGETS.push(
    { framework, server, target: 'restjwt, cache on (user lookup)', path: '/api/protected/' },
    { framework, server, target: 'restjwt, cache off (user lookup)', path: '/api/protected/', env: { BENCH_CACHE: '0' } },
    { framework, server, target: 'restjwt stateless, cache on', path: '/api/protected/', env: { BENCH_STATELESS: '1' } },
    { framework, server, target: 'restjwt stateless, cache off', path: '/api/protected/', env: { BENCH_STATELESS: '1', BENCH_CACHE: '0' } },
  );
}
TARGETS.push(
  { framework: 'Fastify', server: 'fastify-jwt', target: '@fastify/jwt (stateless)', path: '/api/protected/' },
  { framework: 'Fastify', server: 'fastify-fastjwt', target: 'fast-jwt preHandler, cache on (stateless)', path: '/api/protected/' },
  { framework: 'Fastify', server: 'fastify-fastjwt', target: 'fast-jwt preHandler, cache off (stateless)', path: '/api/protected/', env: { BENCH_CACHE: '0' } },
  { framework: 'Fastify', server: 'fastify-jose', target: 'jose preHandler (stateless)', path: '/api/protected/' },
  { framework: 'Express', server: 'express-passport', target: 'passport-jwt (user lookup)', path: '/api/protected/' },
);

async function frameworkRuns(): Promise<Row[]> {
  const rows: Row[] = [];
  for (const t of TARGETS) {
    const s = await startServer(t.server, t.env, true);
    try {
      const headers = bearer(s.token);
      await expect200(`${s.url}/api/public/`);
      await expect200(s.url + t.path, headers);
      rows.push(await measurePaired(t.framework, t.target, s.url, headers));
    } finally {
      await s.stop();
    }
  }
  return rows;
}

/** Protected p99 at a fixed moderate rate, idle and while 20 clients hammer `POST /api/token/` (argon2id). */
async function loginLoad(): Promise<Record<string, number>> {
  const s = await startServer('restjwt-fastify');
  try {
    const url = `${s.url}/api/protected/`;
    const headers = bearer(s.token);
    await expect200(url, headers);
    const rate = Number(process.env.BENCH_LOGIN_RATE ?? 1000);
    const probe = { connections: 10, overallRate: rate, duration: SMOKE ? 1 : 10, headers };
    await load(url, { ...probe, duration: 1 }); // warm-up
    const idle = await load(url, probe);
    const login = autocannon({
      url: `${s.url}/api/token/`,
      method: 'POST',
      connections: 20,
      duration: probe.duration + 2,
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: 'alice', password: 'correct horse battery staple' }),
    });
    await new Promise((r) => setTimeout(r, 1000));
    const busy = await load(url, probe);
    const l = await login;
    if (idle.non2xx + busy.non2xx + l.non2xx > 0) throw new Error('login-load check: non-2xx answers');
    const out = { rate, idleP99: idle.p99, idleP50: idle.p50, busyP99: busy.p99, busyP50: busy.p50, loginsPerSec: l.requests.average, loginP99: l.latency.p99 };
    console.log(`login load: protected at ${rate} req/s, p99 idle ${idle.p99} ms, under 20 login clients ${busy.p99} ms (${(busy.p99 / idle.p99).toFixed(2)}x); ${l.requests.average.toFixed(1)} logins/s, login p99 ${l.latency.p99} ms`);
    return out;
  } finally {
    await s.stop();
  }
}

/** RSS after one million cache-on verifications of distinct tokens, in its own process. */
function memoryCheck(): Record<string, number> {
  const n = SMOKE ? 10_000 : 1_000_000;
  const r = spawnSync(process.execPath, ['--expose-gc', join(HERE, 'memory.js'), String(n)], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`memory check failed: ${r.stderr}`);
  const out = JSON.parse(r.stdout.trim().split('\n').pop() ?? '{}') as Record<string, number>;
  console.log(`memory: ${n} verifications, RSS ${out.rssBeforeMiB} MiB before, ${out.rssAfterMiB} MiB after (peak ${out.rssPeakMiB} MiB), heap used ${out.heapAfterMiB} MiB after GC; bound ${RSS_BOUND_MIB} MiB`);
  if (!SMOKE && (out.rssPeakMiB ?? Infinity) > RSS_BOUND_MIB) {
    console.log(`memory: over the bound (${out.rssPeakMiB} > ${RSS_BOUND_MIB} MiB)`);
    process.exitCode = 1;
  }
  return { ...out, boundMiB: RSS_BOUND_MIB };
}

const PYTHON = '/usr/bin/python3';
const PEER_DIR = join(ROOT, 'test', 'interop', 'django_peer');
const BENCH_SIGNING_KEY = 'bench-signing-key-0123456789-abcdefghijklmnopqrstuvwxyz-ABCDEFGH';
const CREDENTIALS = JSON.stringify({ username: 'alice', password: 'correct horse battery staple' });

function djangoAvailable(): boolean {
  return spawnSync(PYTHON, ['-c', 'import rest_framework_simplejwt, gunicorn'], { stdio: 'ignore' }).status === 0;
}

async function loginPair(base: string): Promise<{ access: string; refresh: string }> {
  const res = await fetch(`${base}/api/token/`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: CREDENTIALS });
  const body = (await res.json()) as { access?: string; refresh?: string };
  if (res.status !== 200 || body.access === undefined || body.refresh === undefined) throw new Error(`${base}/api/token/ answered ${res.status}`);
  return { access: body.access, refresh: body.refresh };
}

async function login(base: string): Promise<string> {
  return (await loginPair(base)).access;
}

/** Waits for `pattern` (capturing the URL) on the child's stderr. */
function listeningUrl(child: ChildProcess, pattern: RegExp): Promise<string> {
  return new Promise<string>((resolve, reject) => {
    let err = '';
    child.stderr!.setEncoding('utf8').on('data', (c: string) => {
      err = (err + c).slice(-8000);
      const m = pattern.exec(err);
      if (m?.[1] !== undefined) resolve(m[1]);
    });
    child.once('exit', (code) => reject(new Error(`exited (${String(code)}) before listening: ${err}`)));
  });
}

interface Running {
  url: string;
  stop(): Promise<void>;
}

/**
 * The interop tests' Django project (test/interop/django_peer, run as test/interop/helpers/django.ts runs it) under
 * `gunicorn --workers 2` (sync workers), on `databaseUrl` (sqlite:///PATH or postgres://…), migrated, with alice.
 * `extra` adds peer settings from the environment (e.g. PEER_CONN_MAX_AGE).
 */
async function startDjangoPeer(databaseUrl: string, extra: Record<string, string> = {}): Promise<Running> {
  const penv: NodeJS.ProcessEnv = {
    ...process.env,
    PYTHONDONTWRITEBYTECODE: '1',
    DJANGO_SETTINGS_MODULE: 'peer.settings',
    PEER_DATABASE_URL: databaseUrl,
    PEER_SIGNING_KEY: BENCH_SIGNING_KEY,
    PEER_PASSWORD_HASHER: 'pbkdf2_sha256',
    PEER_ROTATE: '1',
    ...extra,
  };
  for (const name of ['PYTHONPATH', 'PYTHONHOME', 'VIRTUAL_ENV', 'PYENV_VERSION']) delete penv[name];
  const manage = (args: string[], input = '') => {
    const r = spawnSync(PYTHON, ['manage.py', ...args], { cwd: PEER_DIR, env: penv, input, encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`manage.py ${args.join(' ')} failed: ${r.stderr ?? String(r.error)}`);
  };
  manage(['migrate', '--noinput']);
  manage(['peer_seed'], `[${CREDENTIALS}]`);
  // gunicorn's sync workers close the connection after each answer (no keep-alive): autocannon reconnects, and
  // counts a connection the server reset under load as an error. Those are reported, not fatal.
  const peer = spawn(PYTHON, ['-m', 'gunicorn', '--bind', '127.0.0.1:0', '--workers', '2', '--log-level', 'info', 'peer.wsgi:application'], {
    cwd: PEER_DIR,
    env: penv,
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  track(peer);
  try {
    const url = await listeningUrl(peer, /Listening at: (http:\/\/\S+)/);
    await new Promise((r) => setTimeout(r, 1000)); // both workers booted
    return { url, stop: () => stopChild(peer) };
  } catch (err) {
    await stopChild(peer);
    throw err;
  }
}

/** How `startRestjwtServe` runs `restjwt serve`. */
interface ServeRun {
  /** `--workers N` (default 2). */
  workers?: number;
  /** false: `--no-request-log` (the default here, as gunicorn runs without `--access-logfile`). */
  requestLog?: boolean;
  /** The working directory; the server's stdout (its JSON log lines) goes to `serve.log` in it. Default: none. */
  cwd?: string;
  /** More flags for `restjwt serve` (`--metrics-port 0`). */
  flags?: readonly string[];
}

/**
 * `restjwt serve` on `database` (flags from `run`; by default `--workers 2 --no-request-log`), with alice created
 * first (argon2id, the CLI's default hasher).
 */
async function startRestjwtServe(database: string | undefined, settings?: Record<string, unknown>, run: ServeRun = {}): Promise<Running> {
  const cli = join(ROOT, 'packages', 'restjwt', 'dist', 'cli', 'main.js');
  const env: NodeJS.ProcessEnv = { ...process.env };
  // Default flags means a default key too: serve makes its own ./signing-key, as `npm start` does.
  if (run.cwd === undefined) env.RESTJWT_SIGNING_KEY = BENCH_SIGNING_KEY;
  if (settings !== undefined) env.RESTJWT_SETTINGS = JSON.stringify(settings);
  const dbArgs = database === undefined ? [] : ['--database', database];
  const made = spawnSync(process.execPath, [cli, 'createuser', 'alice', '--password-stdin', ...dbArgs], {
    input: 'correct horse battery staple',
    env,
    encoding: 'utf8',
    ...(run.cwd === undefined ? {} : { cwd: run.cwd }),
  });
  if (made.status !== 0) throw new Error(`restjwt createuser failed: ${made.stderr}`);
  const flags = [...((run.workers ?? 2) > 1 ? ['--workers', String(run.workers ?? 2)] : []), ...(run.requestLog === true ? [] : ['--no-request-log']), ...(run.flags ?? [])];
  const stdout = run.cwd === undefined ? 'ignore' : openSync(join(run.cwd, 'serve.log'), 'a');
  const child = spawn(process.execPath, [cli, 'serve', ...flags, '--port', '0', ...dbArgs], {
    env,
    stdio: ['ignore', stdout, 'pipe'],
    ...(run.cwd === undefined ? {} : { cwd: run.cwd }),
  });
  if (typeof stdout === 'number') closeSync(stdout);
  track(child);
  try {
    const url = await listeningUrl(child, /listening on (http:\/\/\S+)/);
    return { url, stop: () => stopChild(child) };
  } catch (err) {
    await stopChild(child);
    throw err;
  }
}

/**
 * What a user gets from `npm start` with no flags: `restjwt serve` as it starts by default (SQLite file and signing
 * key made in a fresh directory, its JSON access log written to a file), measured as issue 14 measured it: `wrk -t2
 * -c50 -d6s`, unpinned (server and load share both cores, as on a user's machine): `/api/public/` then
 * `/api/protected/` in paired runs on one process, and `restjwt serve --workers 2` with default flags against
 * simplejwt under `gunicorn --workers 2`, loaded by the same tool.
 */
async function defaultsRuns(): Promise<DefaultsResult> {
  const result: DefaultsResult = { tool: DEFAULTS_TOOL, duration: DEFAULTS_DURATION };
  console.log(`defaults: load by ${DEFAULTS_TOOL === 'wrk' ? `wrk -t2 -c${CONNECTIONS} -d${DEFAULTS_DURATION}s` : `autocannon -c ${CONNECTIONS} -d ${DEFAULTS_DURATION}`}, unpinned`);
  for (const workers of [1, 2]) {
    const dir = mkdtempSync(join(tmpdir(), 'restjwt-bench-defaults-'));
    try {
      const server = await startRestjwtServe(undefined, undefined, { workers, requestLog: true, cwd: dir });
      try {
        const token = await login(server.url);
        await expect200(`${server.url}/api/protected/`, bearer(token));
        const label = `restjwt serve${workers > 1 ? ` --workers ${workers}` : ''} (default flags, SQLite, access log on)`;
        if (workers === 1) result.single = await measurePaired('defaults', label, server.url, bearer(token), false, DEFAULTS_TOOL, DEFAULTS_DURATION);
        else result.workers2 = await measure('defaults', label, `${server.url}/api/protected/`, bearer(token), false, false, DEFAULTS_TOOL, DEFAULTS_DURATION);
        const logged = readFileSync(join(dir, 'serve.log'), 'utf8').split('\n').filter((l) => l.includes('"msg":"request"')).length;
        if (logged === 0) throw new Error(`defaults: ${label} wrote no access line: the default must log`);
      } finally {
        await server.stop();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
  result.simplejwt = await simplejwtProtected(DEFAULTS_TOOL, DEFAULTS_DURATION);
  return result;
}

/**
 * What metrics cost a guarded request: `restjwt serve` with default flags, without and with `--metrics-port 0`
 * (counters, the endpoint and store histograms, the store wrapper), loaded as the defaults group loads it. The two
 * servers run side by side and are measured alternately, 2 × RUNS times each; the ratio is on ÷ off of the medians.
 */
async function metricsRuns(): Promise<{ off: Row; on: Row; ratio: number } | undefined> {
  console.log(`metrics: load by ${DEFAULTS_TOOL === 'wrk' ? `wrk -t2 -c${CONNECTIONS} -d${DEFAULTS_DURATION}s` : `autocannon -c ${CONNECTIONS} -d ${DEFAULTS_DURATION}`}, unpinned, GET /api/protected/`);
  const dirs = [mkdtempSync(join(tmpdir(), 'restjwt-bench-metrics-off-')), mkdtempSync(join(tmpdir(), 'restjwt-bench-metrics-on-'))];
  const servers: Running[] = [];
  try {
    servers.push(await startRestjwtServe(undefined, undefined, { workers: 1, requestLog: true, cwd: dirs[0] }));
    servers.push(await startRestjwtServe(undefined, undefined, { workers: 1, requestLog: true, cwd: dirs[1], flags: ['--metrics-port', '0'] }));
    const targets = await Promise.all(servers.map(async (server) => ({ url: `${server.url}/api/protected/`, headers: bearer(await login(server.url)) })));
    for (const t of targets) await load(t.url, { headers: t.headers, duration: SMOKE ? 1 : 2 }, false, DEFAULTS_TOOL);
    const runs: Load[][] = [[], []];
    // Off then on, then on then off, …: the second of two back-to-back runs measured a few per cent faster here even
    // when both servers were the same (an A/A run), so each takes the second place as often as the other.
    for (let i = 0; i < 2 * RUNS; i++) {
      for (const k of i % 2 === 0 ? [0, 1] : [1, 0]) {
        const t = targets[k]!;
        const r = await load(t.url, { headers: t.headers, duration: DEFAULTS_DURATION }, false, DEFAULTS_TOOL);
        if (r.non2xx > 0 || r.errors > 0 || r.rps === 0) throw new Error(`metrics ${k === 0 ? 'off' : 'on'}: ${r.non2xx} non-2xx answers, ${r.errors} errors`);
        runs[k]!.push(r);
      }
    }
    const rows = runs.map((r, k): Row => ({
      framework: 'metrics',
      target: `restjwt serve (default flags)${k === 1 ? ' --metrics-port 0' : ''}`,
      rps: median(r.map((x) => x.rps)),
      p99: median(r.map((x) => x.p99)),
      runs: r.map((x) => x.rps),
      errors: 0,
    }));
    for (const row of rows) console.log(`metrics    ${row.target.padEnd(56)} ${row.rps.toFixed(0).padStart(7)} req/s  p99 ${row.p99.toFixed(1).padStart(6)} ms  (runs ${row.runs.map((x) => x.toFixed(0)).join(', ')})`);
    return { off: rows[0]!, on: rows[1]!, ratio: rows[1]!.rps / rows[0]!.rps };
  } finally {
    await Promise.all(servers.map((server) => server.stop()));
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  }
}

/** The issue's measurement: wrk -t2 -c50 -d6s, unpinned; autocannon where wrk is not installed. */
const DEFAULTS_TOOL: LoadTool = process.env.BENCH_DEFAULTS_LOAD === 'autocannon' || !existsSync(WRK) ? 'autocannon' : 'wrk';
const DEFAULTS_DURATION = SMOKE ? 1 : Number(process.env.BENCH_DEFAULTS_DURATION ?? 6);

interface DefaultsResult {
  tool: LoadTool;
  duration: number;
  single?: Row;
  workers2?: Row;
  simplejwt?: Row;
}

/** simplejwt 5.2.2 under `gunicorn --workers 2` on SQLite: its protected route, loaded by `tool`. */
async function simplejwtProtected(tool: LoadTool, duration: number): Promise<Row | undefined> {
  if (!djangoAvailable()) {
    console.log(`simplejwt: skipped (${PYTHON} cannot import rest_framework_simplejwt, gunicorn)`);
    return undefined;
  }
  const dir = mkdtempSync(join(tmpdir(), 'restjwt-bench-peer-'));
  try {
    const peer = await startDjangoPeer(`sqlite:///${join(dir, 'peer.sqlite3')}`);
    try {
      const token = await login(peer.url);
      await expect200(`${peer.url}/api/protected/`, bearer(token));
      return await measure('Django', 'simplejwt 5.2.2, gunicorn --workers 2 (SQLite)', `${peer.url}/api/protected/`, bearer(token), true, false, tool, duration);
    } finally {
      await peer.stop();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** simplejwt 5.2.2 under gunicorn (2 sync workers) vs `restjwt serve --workers 2`, both on SQLite, stateful. */
async function versusSimplejwt(): Promise<Row[]> {
  if (!djangoAvailable()) {
    console.log(`simplejwt: skipped (${PYTHON} cannot import rest_framework_simplejwt, gunicorn)`);
    return [];
  }
  const dir = mkdtempSync(join(tmpdir(), 'restjwt-bench-'));
  const rows: Row[] = [];
  try {
    const peer = await simplejwtProtected('autocannon', DURATION);
    if (peer !== undefined) rows.push(peer);
    const server = await startRestjwtServe(`sqlite:///${join(dir, 'restjwt.sqlite3')}`);
    try {
      const token = await login(server.url);
      await expect200(`${server.url}/api/protected/`, bearer(token));
      rows.push(await measure('restjwt', 'restjwt serve --workers 2 --no-request-log (SQLite)', `${server.url}/api/protected/`, bearer(token)));
    } finally {
      await server.stop();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return rows;
}

// ---- Refresh with rotation + blacklist ----------------------------------------------------------------------------

// 20 clients, each chaining its own refreshes: the load the PostgreSQL refresh target is stated for (and pgbench's -c).
const REFRESH_CONNECTIONS = SMOKE ? 4 : Number(process.env.BENCH_REFRESH_CONNECTIONS ?? 20);
const REFRESH_DURATION = SMOKE ? 1 : Number(process.env.BENCH_REFRESH_DURATION ?? 10);
/** The PostgreSQL server the refresh runs use: a fresh database is created on it per run, and dropped afterwards. */
const PG_ADMIN_URL = process.env.BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

/**
 * The rotation chains the load walks. Each connection owns one chain: it presents the chain's head (a refresh token
 * never presented before) and the `refresh` of a 200 answer becomes the new head. A chain whose head is refused
 * (which would be a bug: rotation + blacklist must accept each token once) restarts from a spare login.
 */
interface Chains {
  heads: (string | undefined)[];
  spares: string[];
  /** Tokens that were rotated (presented and answered 200), kept to check afterwards that they are refused. */
  rotated: string[];
}

interface RefreshLoad {
  rps: number;
  p50: number;
  p99: number;
  ok: number;
  non2xx: number;
  errors: number;
  restarts: number;
  seconds: number;
}

/** One keep-alive POST of `body` on `agent`; `Connection: close` answers (gunicorn's sync workers) just reconnect. */
function post(agent: Agent, url: URL, body: string): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      {
        host: url.hostname,
        port: url.port,
        path: url.pathname,
        method: 'POST',
        agent,
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      },
    );
    req.setTimeout(30_000, () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end(body);
  });
}

/**
 * `chains.heads.length` connections refresh as fast as they are answered for `seconds`, each walking its own
 * rotation chain (one request in flight per connection, as a client refreshing its own token). Not autocannon:
 * against gunicorn's sync workers (`Connection: close` after every answer) autocannon writes the next request on the
 * closing socket and, when that socket then errors, reconnects twice, so one connection ends up with several
 * requests in flight presenting the same token — a chain cannot be walked that way. Latency is measured from the
 * request's start to its last byte (2xx only, as autocannon does); req/s counts 2xx answers.
 */
async function refreshLoad(base: string, chains: Chains, seconds: number): Promise<RefreshLoad> {
  const url = new URL('/api/token/refresh/', base);
  const latencies: number[] = [];
  let non2xx = 0;
  let errors = 0;
  let restarts = 0;
  const start = performance.now();
  const end = start + seconds * 1000;
  let last = start;
  await Promise.all(
    chains.heads.map(async (_, i) => {
      const agent = new Agent({ keepAlive: true, maxSockets: 1 });
      try {
        while (performance.now() < end) {
          let token = chains.heads[i];
          if (token === undefined) {
            token = chains.spares.pop();
            if (token === undefined) throw new Error('refresh: a chain broke and no spare refresh token is left');
            chains.heads[i] = token;
            restarts++;
          }
          const t0 = performance.now();
          let res: { status: number; text: string };
          try {
            res = await post(agent, url, JSON.stringify({ refresh: token }));
          } catch {
            // Not answered (refused or reset connection): the same token again. Had it been processed after all,
            // the next answer is a refusal and the chain restarts, which is counted.
            errors++;
            continue;
          }
          const t1 = performance.now();
          last = Math.max(last, t1);
          const next = res.status === 200 ? (JSON.parse(res.text) as { refresh?: unknown }).refresh : undefined;
          if (typeof next === 'string') {
            latencies.push(t1 - t0);
            if (chains.rotated.length < 4) chains.rotated.push(token);
            chains.heads[i] = next;
          } else {
            non2xx++;
            chains.heads[i] = undefined;
          }
        }
      } finally {
        agent.destroy();
      }
    }),
  );
  const elapsed = (last - start) / 1000;
  latencies.sort((a, b) => a - b);
  const pct = (q: number) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? NaN;
  return { rps: latencies.length / elapsed, p50: pct(0.5), p99: pct(0.99), ok: latencies.length, non2xx, errors, restarts, seconds: elapsed };
}

/** `n` refresh tokens, each from its own login (each one roots its own chain), `parallel` logins at a time. */
async function mintRefreshTokens(base: string, n: number, parallel = 2): Promise<string[]> {
  const out: string[] = [];
  let started = 0;
  await Promise.all(
    Array.from({ length: parallel }, async () => {
      while (started < n) {
        started++;
        out.push((await loginPair(base)).refresh);
      }
    }),
  );
  return out;
}

interface RefreshRow {
  engine: string;
  server: string;
  rps: number;
  p99: number;
  p50: number;
  runs: number[];
  p99s: number[];
  non2xx: number;
  errors: number;
  restarts: number;
}

/** Mints the chains, warms up, then RUNS runs; the rotated tokens must be refused afterwards (the blacklist works). */
async function measureRefresh(engine: string, server: string, base: string, strict: boolean): Promise<RefreshRow> {
  const pool = await mintRefreshTokens(base, REFRESH_CONNECTIONS + Math.max(2, Math.ceil(REFRESH_CONNECTIONS / 5)));
  const chains: Chains = { heads: pool.slice(0, REFRESH_CONNECTIONS), spares: pool.slice(REFRESH_CONNECTIONS), rotated: [] };
  if (!SMOKE) await refreshLoad(base, chains, 1); // warm-up: JIT, connection pools; the chains just go on
  const runs: RefreshLoad[] = [];
  for (let i = 0; i < RUNS; i++) {
    const r = await refreshLoad(base, chains, REFRESH_DURATION);
    if (r.ok === 0 || (strict && (r.non2xx > 0 || r.errors > 0))) {
      throw new Error(`refresh ${server} (${engine}): ${r.ok} rotations, ${r.non2xx} refusals, ${r.errors} connection errors`);
    }
    runs.push(r);
  }
  // Rotation with blacklisting: a token that was rotated must now be refused (simplejwt: "Token is blacklisted").
  const used = chains.rotated[0];
  if (used === undefined) throw new Error(`refresh ${server} (${engine}): nothing was rotated`);
  const replay = await fetch(`${base}/api/token/refresh/`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ refresh: used }) });
  await replay.arrayBuffer();
  if (replay.status !== 401) throw new Error(`refresh ${server} (${engine}): a rotated refresh token answered ${replay.status}, not 401`);
  const sum = (f: (r: RefreshLoad) => number) => runs.reduce((a, r) => a + f(r), 0);
  const row: RefreshRow = {
    engine,
    server,
    rps: median(runs.map((r) => r.rps)),
    p99: median(runs.map((r) => r.p99)),
    p50: median(runs.map((r) => r.p50)),
    runs: runs.map((r) => r.rps),
    p99s: runs.map((r) => r.p99),
    non2xx: sum((r) => r.non2xx),
    errors: sum((r) => r.errors),
    restarts: sum((r) => r.restarts),
  };
  const notes = [row.errors > 0 ? `${row.errors} connection errors` : '', row.non2xx > 0 ? `${row.non2xx} refusals (${row.restarts} chain restarts)` : '']
    .filter((x) => x !== '')
    .join(', ');
  console.log(
    `refresh    ${`${server} (${engine})`.padEnd(56)} ${row.rps.toFixed(0).padStart(7)} req/s  p99 ${row.p99.toFixed(1).padStart(6)} ms  (runs ${row.runs.map((x) => x.toFixed(0)).join(', ')}; p99 ${row.p99s.map((x) => x.toFixed(1)).join(', ')})${notes === '' ? '' : `, ${notes}`}`,
  );
  return row;
}

/** A fresh PostgreSQL database for `fn`, dropped afterwards; null (with the reason printed) when the server is down. */
async function withPgDatabase<T>(label: string, fn: (url: string) => Promise<T>): Promise<T | null> {
  const admin = new pg.Client({ connectionString: PG_ADMIN_URL, connectionTimeoutMillis: 3000 });
  try {
    await admin.connect();
  } catch (err) {
    console.log(`refresh ${label}: skipped (PostgreSQL at ${PG_ADMIN_URL} unreachable: ${(err as Error).message})`);
    return null;
  }
  const name = `restjwt_bench_${label}_${process.pid}`;
  const url = new URL(PG_ADMIN_URL);
  url.pathname = `/${name}`;
  try {
    await admin.query(`DROP DATABASE IF EXISTS ${name}`);
    await admin.query(`CREATE DATABASE ${name}`);
    try {
      return await fn(url.toString());
    } finally {
      await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    }
  } finally {
    await admin.end();
  }
}

/**
 * What the same PostgreSQL does with its own small transaction: pgbench's TPC-B (five statements, one commit) on a
 * fresh database at scale 1, with the refresh load's client count and duration. The refresh target is stated
 * against it. Null (with the reason printed) without pgbench or PostgreSQL.
 */
async function pgbenchTps(): Promise<RefreshRow | null> {
  if (spawnSync('pgbench', ['--version'], { stdio: 'ignore' }).status !== 0) {
    console.log('refresh pgbench: skipped (no pgbench on the PATH: apt-get install postgresql-client)');
    return null;
  }
  return withPgDatabase('pgbench', async (url) => {
    const init = spawnSync('pgbench', ['-i', '-s', '1', '-q', url], { encoding: 'utf8' });
    if (init.status !== 0) throw new Error(`pgbench -i failed: ${init.stderr}`);
    const runs: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      const r = spawnSync('pgbench', ['-n', '-c', String(REFRESH_CONNECTIONS), '-j', '2', '-T', String(REFRESH_DURATION), url], { encoding: 'utf8' });
      const tps = /tps = ([\d.]+) \(without initial connection time\)/.exec(r.stdout)?.[1];
      if (r.status !== 0 || tps === undefined) throw new Error(`pgbench failed: ${r.stdout}${r.stderr}`);
      runs.push(Number(tps));
    }
    const row: RefreshRow = { engine: 'PostgreSQL', server: `pgbench TPC-B (scale 1, -c ${REFRESH_CONNECTIONS})`, rps: median(runs), p99: NaN, p50: NaN, runs, p99s: [], non2xx: 0, errors: 0, restarts: 0 };
    console.log(`refresh    ${`${row.server} (${row.engine}, fresh database)`.padEnd(56)} ${row.rps.toFixed(0).padStart(7)} tps    (runs ${runs.map((x) => x.toFixed(0)).join(', ')})`);
    return row;
  });
}

/**
 * The store alone, no HTTP: `SqlStore.rotate` (what a refresh asks of PostgreSQL) in a loop, REFRESH_CONNECTIONS
 * chains each rotating its own token as fast as it is answered, on a fresh database of the same PostgreSQL. Shows what
 * a schema change gains PostgreSQL before the HTTP path and JWT work on the same cores hide part of it.
 */
async function storeRotations(url: string): Promise<RefreshRow> {
  const store = await openSqlStore({ url, poolSize: REFRESH_CONNECTIONS });
  try {
    const user = await store.createUser({ username: 'rotator', passwordHash: 'x' });
    const token = (familyId: string | null): OutstandingToken => {
      const jti = randomUUID().replaceAll('-', '');
      return { jti, userId: user.id, tokenType: 'refresh', familyId: familyId ?? jti, createdAt: new Date(), expiresAt: new Date(Date.now() + 86_400_000) };
    };
    const heads = await Promise.all(
      Array.from({ length: REFRESH_CONNECTIONS }, async () => {
        const head = token(null);
        await store.recordOutstanding(head);
        await store.recordSession(user.id, { familyId: head.jti, at: new Date(), clientAddress: '127.0.0.1', userAgent: 'bench' });
        return head;
      }),
    );
    const walk = async (seconds: number): Promise<number> => {
      let count = 0;
      const end = performance.now() + seconds * 1000;
      await Promise.all(
        heads.map(async (_, i) => {
          while (performance.now() < end) {
            const presented = heads[i]!;
            const successor = token(presented.familyId);
            const result = await store.rotate(presented, successor, { inheritFamily: true, requestUse: { at: new Date(), clientAddress: '127.0.0.1', userAgent: 'bench' } });
            if (result !== 'rotated') throw new Error(`store rotate: ${result} for a token rotated once`);
            heads[i] = successor;
            count++;
          }
        }),
      );
      return count / seconds;
    };
    await walk(SMOKE ? 0.2 : 2);
    const runs: number[] = [];
    for (let i = 0; i < RUNS; i++) runs.push(await walk(REFRESH_DURATION));
    const row: RefreshRow = { engine: 'PostgreSQL', server: `store only: SqlStore.rotate, ${REFRESH_CONNECTIONS} chains`, rps: median(runs), p99: NaN, p50: NaN, runs, p99s: [], non2xx: 0, errors: 0, restarts: 0 };
    console.log(`refresh    ${`${row.server} (no HTTP)`.padEnd(56)} ${row.rps.toFixed(0).padStart(7)} rot/s  (runs ${runs.map((x) => x.toFixed(0)).join(', ')})`);
    return row;
  } finally {
    await store.close();
  }
}

/**
 * POST /api/token/refresh/ with rotation and blacklistAfterRotation on: `restjwt serve --workers 2` vs simplejwt
 * 5.2.2 under `gunicorn --workers 2`, on SQLite and on PostgreSQL (one fresh database per server).
 */
async function refreshRuns(): Promise<RefreshRow[]> {
  const rows: RefreshRow[] = [];
  const django = djangoAvailable();
  if (!django) console.log(`refresh simplejwt: skipped (${PYTHON} cannot import rest_framework_simplejwt, gunicorn)`);
  const djangoPg = django && spawnSync(PYTHON, ['-c', 'import psycopg2'], { stdio: 'ignore' }).status === 0;
  if (django && !djangoPg) console.log(`refresh simplejwt (PostgreSQL): skipped (${PYTHON} cannot import psycopg2: apt-get install python3-psycopg2)`);
  const rotation = { rotateRefreshTokens: true, blacklistAfterRotation: true };
  const restjwtOn = async (engine: string, database: string) => {
    const server = await startRestjwtServe(database, rotation);
    try {
      rows.push(await measureRefresh(engine, 'restjwt serve --workers 2 --no-request-log', server.url, true));
    } finally {
      await server.stop();
    }
  };
  // Persistent database connections (CONN_MAX_AGE), as a production Django deployment configures them; the default
  // (a new connection per request) would cost simplejwt a PostgreSQL connection set-up per refresh.
  const simplejwtOn = async (engine: string, database: string) => {
    const peer = await startDjangoPeer(database, { PEER_CONN_MAX_AGE: '600' });
    try {
      rows.push(await measureRefresh(engine, 'simplejwt 5.2.2, gunicorn --workers 2', peer.url, false));
    } finally {
      await peer.stop();
    }
  };
  const dir = mkdtempSync(join(tmpdir(), 'restjwt-bench-refresh-'));
  try {
    await restjwtOn('SQLite', `sqlite:///${join(dir, 'restjwt.sqlite3')}`);
    if (django) await simplejwtOn('SQLite', `sqlite:///${join(dir, 'peer.sqlite3')}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const storeOnly = await withPgDatabase('store', storeRotations);
  if (storeOnly !== null) rows.push(storeOnly);
  await withPgDatabase('restjwt', (url) => restjwtOn('PostgreSQL', url));
  if (djangoPg) await withPgDatabase('django', (url) => simplejwtOn('PostgreSQL', url));
  const pgbench = await pgbenchTps();
  if (pgbench !== null) rows.push(pgbench);
  return rows;
}

console.log(`autocannon -c ${CONNECTIONS} -d ${DURATION}, ${RUNS} run(s) per target${SMOKE ? ' (smoke: only checks 200s)' : ''}`);
const only = new Set((process.env.BENCH_ONLY ?? 'defaults,frameworks,simplejwt,refresh,login,memory,metrics').split(','));
if (only.has('frameworks')) {
  console.log(
    PIN
      ? `pinning: on for the frameworks group: each server on CPU ${SERVER_CPU}, autocannon on CPU ${LOAD_CPU} (taskset; BENCH_PIN=0 turns it off)`
      : `pinning: off (${PIN_OFF_REASON ?? ''}): the frameworks group's servers and autocannon share all CPUs`,
  );
}
const rows = only.has('frameworks') ? await frameworkRuns() : [];
const versus = only.has('simplejwt') ? await versusSimplejwt() : [];
const defaults: Partial<DefaultsResult> = only.has('defaults') ? await defaultsRuns() : {};
const refresh = only.has('refresh') ? await refreshRuns() : [];
const metricsCost = only.has('metrics') ? await metricsRuns() : undefined;
const loginResult = only.has('login') ? await loginLoad() : {};
const memory = only.has('memory') ? memoryCheck() : {};

if (!SMOKE) {
  console.log('\nratios (protected / the same server\'s /api/public/, paired runs; restjwt / simplejwt):');
  for (const r of rows) console.log(`  ${r.framework.padEnd(8)} ${r.target.padEnd(44)} ${(r.ratio ?? NaN).toFixed(2)}x`);
  if (versus.length === 2) console.log(`  restjwt serve --no-request-log / simplejwt (2 workers each): ${((versus[1]?.rps ?? NaN) / (versus[0]?.rps ?? NaN)).toFixed(1)}x`);
  if (defaults.single !== undefined) console.log(`  defaults: restjwt serve (no flags), protected / public: ${(defaults.single.ratio ?? NaN).toFixed(2)}x (target >= 0.85)`);
  if (metricsCost !== undefined) console.log(`  metrics: protected requests/s with --metrics-port / without: ${metricsCost.ratio.toFixed(3)}x (target >= 0.95)`);
  if (defaults.workers2 !== undefined && defaults.simplejwt !== undefined) {
    console.log(`  defaults: restjwt serve --workers 2 (no other flag) / simplejwt (2 workers): ${(defaults.workers2.rps / defaults.simplejwt.rps).toFixed(1)}x (target >= 20)`);
  }
  for (const engine of ['SQLite', 'PostgreSQL']) {
    const ours = refresh.find((r) => r.engine === engine && r.server.startsWith('restjwt'));
    const theirs = refresh.find((r) => r.engine === engine && r.server.startsWith('simplejwt'));
    if (ours === undefined || theirs === undefined) continue;
    console.log(`  refresh (rotation + blacklist), ${engine}: restjwt / simplejwt ${(ours.rps / theirs.rps).toFixed(1)}x req/s; p99 ${ours.p99.toFixed(1)} vs ${theirs.p99.toFixed(1)} ms${engine === 'PostgreSQL' ? ' (target >= 10)' : ''}`);
  }
  const pgRotations = refresh.find((r) => r.engine === 'PostgreSQL' && r.server.startsWith('restjwt'));
  const pgbenchRow = refresh.find((r) => r.server.startsWith('pgbench'));
  if (pgRotations !== undefined && pgbenchRow !== undefined) {
    console.log(`  refresh on PostgreSQL: restjwt rotations/s / pgbench TPC-B tps: ${(pgRotations.rps / pgbenchRow.rps).toFixed(2)}x (target >= 0.5)`);
  }
  if (process.env.BENCH_JSON !== undefined) writeFileSync(process.env.BENCH_JSON, JSON.stringify({ defaults, rows, versus, refresh, metrics: metricsCost, login: loginResult, memory }, null, 2));
} else {
  console.log(`bench http smoke: ${rows.length + versus.length + refresh.filter((r) => !r.server.startsWith("pgbench") && !r.server.startsWith("store only")).length + [defaults.single, defaults.workers2, defaults.simplejwt].filter((r) => r !== undefined).length} targets answered 200`);
}
