/**
 * HTTP benchmarks: autocannon (in this process) against servers started in separate child processes on loopback
 * (`bench/servers/*.js` from `dist-bench/`), so the load generator never shares the server's event loop.
 *
 *   npm run bench:http          the full run: median of BENCH_RUNS (3) runs of `-c 50 -d 5` per target, the login-load
 *                               check, the memory check, and simplejwt vs `restjwt serve --workers 2` when available
 *   npm run bench:http:smoke    BENCH_SMOKE=1: every server ~1 s, only checks that they answer 200
 *
 * BENCH_JSON=FILE also writes the results as JSON; BENCH_ONLY=frameworks,simplejwt,login,memory runs only those parts;
 * BENCH_RUNS, BENCH_CONNECTIONS, BENCH_DURATION and BENCH_LOGIN_RATE change the load.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import autocannon from 'autocannon';

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = join(HERE, '..', '..');
const SMOKE = process.env.BENCH_SMOKE === '1';
const RUNS = SMOKE ? 1 : Number(process.env.BENCH_RUNS ?? 3);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 50);
const DURATION = SMOKE ? 1 : Number(process.env.BENCH_DURATION ?? 5);
/** RSS bound for one million cache-on verifications of distinct tokens (stated before measuring: see docs/benchmarks.md). */
const RSS_BOUND_MIB = 128;

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

/** Starts `bench/servers/NAME.js` and waits for its `{"port","token"}` line. */
async function startServer(name: string, env: Record<string, string> = {}): Promise<Started> {
  const child = spawn(process.execPath, [join(HERE, 'servers', `${name}.js`)], {
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
  return { url: `http://127.0.0.1:${port}`, token, stop: () => stopChild(child) };
}

interface Load {
  rps: number;
  p99: number;
  p50: number;
  non2xx: number;
  errors: number;
}

async function load(url: string, options: Partial<autocannon.Options> = {}): Promise<Load> {
  const r = await autocannon({ url, connections: CONNECTIONS, duration: DURATION, ...options });
  return { rps: r.requests.average, p99: r.latency.p99, p50: r.latency.p50, non2xx: r.non2xx, errors: r.errors + r.timeouts };
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;

interface Row {
  framework: string;
  target: string;
  rps: number;
  p99: number;
  runs: number[];
  errors: number;
}

/** Median req/s and median p99 of RUNS runs; throws when any answer was not 2xx. */
async function measure(framework: string, target: string, url: string, headers: Record<string, string> = {}, allowErrors = false): Promise<Row> {
  const runs: Load[] = [];
  for (let i = 0; i < RUNS; i++) {
    const r = await load(url, { headers });
    if (r.non2xx > 0 || (r.errors > 0 && !allowErrors) || r.rps === 0) {
      throw new Error(`${framework} / ${target}: ${r.non2xx} non-2xx answers, ${r.errors} errors, ${r.rps} req/s`);
    }
    runs.push(r);
  }
  const errors = runs.reduce((a, r) => a + r.errors, 0);
  const row = { framework, target, rps: median(runs.map((r) => r.rps)), p99: median(runs.map((r) => r.p99)), runs: runs.map((r) => r.rps), errors };
  console.log(`${framework.padEnd(10)} ${target.padEnd(44)} ${row.rps.toFixed(0).padStart(7)} req/s  p99 ${row.p99.toFixed(1).padStart(6)} ms  (runs ${row.runs.map((x) => x.toFixed(0)).join(', ')})${errors > 0 ? `, ${errors} connection errors` : ''}`);
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
    { framework, server, target: 'baseline GET /api/public/', path: '/api/public/' },
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
    const s = await startServer(t.server, t.env);
    try {
      const headers = t.path === '/api/protected/' ? bearer(s.token) : {};
      await expect200(s.url + t.path, headers);
      rows.push(await measure(t.framework, t.target, s.url + t.path, headers));
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

function djangoAvailable(): boolean {
  return spawnSync(PYTHON, ['-c', 'import rest_framework_simplejwt, gunicorn'], { stdio: 'ignore' }).status === 0;
}

async function login(base: string): Promise<string> {
  const res = await fetch(`${base}/api/token/`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username: 'alice', password: 'correct horse battery staple' }),
  });
  const body = (await res.json()) as { access?: string };
  if (res.status !== 200 || body.access === undefined) throw new Error(`${base}/api/token/ answered ${res.status}`);
  return body.access;
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

/** simplejwt 5.2.2 under gunicorn (2 sync workers) vs `restjwt serve --workers 2`, both on SQLite, stateful. */
async function versusSimplejwt(): Promise<Row[]> {
  if (!djangoAvailable()) {
    console.log(`simplejwt: skipped (${PYTHON} cannot import rest_framework_simplejwt, gunicorn)`);
    return [];
  }
  const dir = mkdtempSync(join(tmpdir(), 'restjwt-bench-'));
  const rows: Row[] = [];
  try {
    // The interop tests' Django project (test/interop/django_peer), run as test/interop/helpers/django.ts runs it.
    const peerDir = join(ROOT, 'test', 'interop', 'django_peer');
    const penv: NodeJS.ProcessEnv = {
      ...process.env,
      PYTHONDONTWRITEBYTECODE: '1',
      DJANGO_SETTINGS_MODULE: 'peer.settings',
      PEER_DATABASE_URL: `sqlite:///${join(dir, 'peer.sqlite3')}`,
      PEER_SIGNING_KEY: 'bench-signing-key-0123456789-abcdefghijklmnopqrstuvwxyz-ABCDEFGH',
      PEER_PASSWORD_HASHER: 'pbkdf2_sha256',
      PEER_ROTATE: '1',
    };
    for (const name of ['PYTHONPATH', 'PYTHONHOME', 'VIRTUAL_ENV', 'PYENV_VERSION']) delete penv[name];
    const manage = (args: string[], input = '') => {
      const r = spawnSync(PYTHON, ['manage.py', ...args], { cwd: peerDir, env: penv, input, encoding: 'utf8' });
      if (r.status !== 0) throw new Error(`manage.py ${args.join(' ')} failed: ${r.stderr ?? String(r.error)}`);
    };
    manage(['migrate', '--noinput']);
    manage(['peer_seed'], JSON.stringify([{ username: 'alice', password: 'correct horse battery staple' }]));
    // gunicorn's sync workers close the connection after each answer (no keep-alive): autocannon reconnects, and
    // counts a connection the server reset under load as an error. Those are reported, not fatal.
    const peer = spawn(PYTHON, ['-m', 'gunicorn', '--bind', '127.0.0.1:0', '--workers', '2', '--log-level', 'info', 'peer.wsgi:application'], {
      cwd: peerDir,
      env: penv,
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    track(peer);
    try {
      const peerUrl = await listeningUrl(peer, /Listening at: (http:\/\/\S+)/);
      await new Promise((r) => setTimeout(r, 1000)); // both workers booted
      const token = await login(peerUrl);
      await expect200(`${peerUrl}/api/protected/`, bearer(token));
      rows.push(await measure('Django', 'simplejwt 5.2.2, gunicorn --workers 2 (SQLite)', `${peerUrl}/api/protected/`, bearer(token), true));
    } finally {
      await stopChild(peer);
    }

    const cli = join(ROOT, 'dist-bench', 'src', 'cli', 'main.js');
    const database = `sqlite:///${join(dir, 'restjwt.sqlite3')}`;
    const env = { ...process.env, RESTJWT_SIGNING_KEY: 'bench-signing-key-0123456789-abcdefghijklmnopqrstuvwxyz-ABCDEFGH' };
    const made = spawnSync(process.execPath, [cli, 'createuser', 'alice', '--password-stdin', '--database', database], {
      input: 'correct horse battery staple',
      env,
      encoding: 'utf8',
    });
    if (made.status !== 0) throw new Error(`restjwt createuser failed: ${made.stderr}`);
    const child = spawn(process.execPath, [cli, 'serve', '--workers', '2', '--port', '0', '--database', database], { env, stdio: ['ignore', 'ignore', 'pipe'] });
    track(child);
    try {
      const url = await listeningUrl(child, /listening on (http:\/\/\S+)/);
      const token = await login(url);
      await expect200(`${url}/api/protected/`, bearer(token));
      rows.push(await measure('restjwt', 'restjwt serve --workers 2 (SQLite)', `${url}/api/protected/`, bearer(token)));
    } finally {
      await stopChild(child);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return rows;
}

console.log(`autocannon -c ${CONNECTIONS} -d ${DURATION}, ${RUNS} run(s) per target${SMOKE ? ' (smoke: only checks 200s)' : ''}`);
const only = new Set((process.env.BENCH_ONLY ?? 'frameworks,simplejwt,login,memory').split(','));
const rows = only.has('frameworks') ? await frameworkRuns() : [];
const versus = only.has('simplejwt') ? await versusSimplejwt() : [];
const loginResult = only.has('login') ? await loginLoad() : {};
const memory = only.has('memory') ? memoryCheck() : {};

if (!SMOKE) {
  console.log('\nratios protected / baseline (same framework):');
  for (const fw of ['Fastify', 'Express', 'Hono']) {
    const base = rows.find((r) => r.framework === fw && r.target.startsWith('baseline'));
    if (base === undefined) continue;
    for (const r of rows.filter((x) => x.framework === fw && !x.target.startsWith('baseline'))) {
      console.log(`  ${fw.padEnd(8)} ${r.target.padEnd(44)} ${(r.rps / base.rps).toFixed(2)}x`);
    }
  }
  if (versus.length === 2) console.log(`  restjwt serve / simplejwt (2 workers each): ${((versus[1]?.rps ?? NaN) / (versus[0]?.rps ?? NaN)).toFixed(1)}x`);
  if (process.env.BENCH_JSON !== undefined) writeFileSync(process.env.BENCH_JSON, JSON.stringify({ rows, versus, login: loginResult, memory }, null, 2));
} else {
  console.log(`bench http smoke: ${rows.length + versus.length} targets answered 200`);
}
