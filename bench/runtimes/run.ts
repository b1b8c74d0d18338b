/**
 * `npm run bench:runtimes`: the verification micro benchmark of bench/runtimes/ under Node (this one), Node 22 and 24,
 * Bun, Deno and workerd, one after the other, printed as a markdown table of operations per second.
 *
 * Node, Bun and Deno time themselves (main.ts). workerd cannot: its clock stands still while a request computes, so
 * the Worker (worker.ts) runs N verifications per request and this process times requests of N and of 0 — the
 * difference over N is the cost of one verification, without the request's own.
 */
import { spawnSync } from 'node:child_process';
import { INSTALL_HINT, RUNTIME_NAMES, runtimeBinary, type RuntimeName } from '../../test/runtimes/binaries.js';
import { bundleWorker, childEnv, command, launch, ROOT } from '../../test/runtimes/launch.js';
import { CASE_NAMES } from './cases.js';

const SMOKE = process.env.BENCH_SMOKE === '1';
const PROGRAM = { nodeJs: 'dist-bench/bench/runtimes/main.js', bunTs: 'bench/runtimes/main.ts', denoTs: 'bench/runtimes/main.ts', workerBundle: 'dist-bench/runtimes-worker.js' };

/** Operations per second by case, or why a case could not run. */
type Ops = Record<string, number | string>;

function inProcess(runtime: Exclude<RuntimeName, 'workerd'>): Ops {
  const { bin, args } = command(runtime, PROGRAM);
  const env: Record<string, string> = SMOKE ? { BENCH_WARM_MS: '20', BENCH_MEASURE_MS: '50' } : {};
  const out = spawnSync(bin, args, { cwd: ROOT, env: childEnv(env), encoding: 'utf8', timeout: 120_000 });
  const line = out.stdout.trim().split('\n').at(-1) ?? '';
  if (out.status !== 0 || !line.startsWith('{')) throw new Error(`${runtime} failed (${String(out.status ?? out.signal)}):\n${out.stdout}${out.stderr}`);
  const { ops, errors } = JSON.parse(line) as { ops: Record<string, number>; errors: Record<string, string> };
  return { ...ops, ...errors };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;

async function fromOutside(): Promise<Ops> {
  await bundleWorker('bench/runtimes/worker.ts', PROGRAM.workerBundle);
  const worker = await launch('workerd', PROGRAM, {});
  try {
    class CaseError extends Error {}
    const timed = async (name: string, n: number) => {
      const t = performance.now();
      const res = await fetch(`${worker.url}/?case=${encodeURIComponent(name)}&n=${n}`);
      const body = await res.text();
      if (res.status === 501) throw new CaseError(body);
      if (res.status !== 200 || body !== String(n)) throw new Error(`workerd ${name} n=${n}: ${res.status} ${body}\n${worker.output()}`);
      return performance.now() - t;
    };
    const ops: Ops = {};
    for (const name of CASE_NAMES) {
      try {
        await timed(name, 1);
      } catch (error) {
        if (!(error instanceof CaseError)) throw error;
        ops[name] = error.message;
        continue;
      }
      // N such that a request computes for about 200 ms (20 ms for a smoke run), found from a first guess of 200.
      let n = 200;
      await timed(name, n); // warm-up (and the cases' set-up, on the first request)
      const probe = (await timed(name, n)) - (await timed(name, 0));
      n = Math.max(50, Math.round((n * (SMOKE ? 20 : 200)) / Math.max(1, probe)));
      await timed(name, n);
      const withN: number[] = [];
      const without: number[] = [];
      for (let i = 0; i < (SMOKE ? 1 : 7); i++) {
        withN.push(await timed(name, n));
        without.push(await timed(name, 0));
      }
      ops[name] = n / (Math.max(1e-3, median(withN) - median(without)) / 1000);
    }
    return ops;
  } finally {
    await worker.stop();
  }
}

const failures: string[] = [];
const format = (runtime: string, name: string, x: number | string | undefined) => {
  if (typeof x === 'string') {
    failures.push(`${runtime}, ${name}: ${x}`);
    return `fails (${failures.length})`;
  }
  return x === undefined ? '—' : x >= 1e5 ? `${Math.round(x / 1000)}k` : x >= 1e3 ? `${(x / 1000).toFixed(1)}k` : x.toFixed(0);
};

const rows: string[][] = [];
for (const name of RUNTIME_NAMES) {
  const bin = runtimeBinary(name);
  if (bin.version === undefined) {
    console.error(`${name}: not installed (${INSTALL_HINT})`);
    rows.push([bin.label, 'not installed', ...CASE_NAMES.map(() => '—')]);
    continue;
  }
  console.error(`${bin.label} ${bin.version}…`);
  const ops = name === 'workerd' ? await fromOutside() : inProcess(name);
  rows.push([bin.label, bin.version, ...CASE_NAMES.map((c) => format(bin.label, c, ops[c]))]);
}

const head = ['runtime', 'version', ...CASE_NAMES.map((c) => `${c} (ops/s)`)];
console.log(`| ${head.join(' | ')} |`);
console.log(`| ${head.map((h, i) => (i < 2 ? '---' : '---:')).join(' | ')} |`);
for (const r of rows) console.log(`| ${r.join(' | ')} |`);
if (failures.length > 0) console.log(`\n${failures.map((f, i) => `(${i + 1}) ${f}`).join('\n')}`);
// A smoke run (CI) fails when a case could not run anywhere.
if (SMOKE && failures.length > 0) process.exitCode = 1;
else if (SMOKE) console.log('bench smoke: every runtime verified every case');
