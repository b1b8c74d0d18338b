/**
 * Micro-benchmarks of token verification and signing, side by side with jose, fast-jwt and jsonwebtoken.
 * `npm run bench` runs them with mitata, then measures the bytes each case allocates per op; `BENCH_SMOKE=1` only
 * checks that every case runs and verifies; `BENCH_ALLOC=1` prints only the allocation table.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { GCProfiler, getHeapStatistics } from 'node:v8';
import { bench, group, run, summary } from 'mitata';
import { buildCases, type Case } from './cases.js';

const cases = await buildCases();

/**
 * Bytes allocated per op. Allocation cannot be read directly, so each case runs in a child process whose young
 * generation is large enough (--min/--max-semi-space-size=128 MB) that no collection happens during a measure: the
 * growth of the V8 heap (objects, strings) and of external memory (ArrayBuffer backing stores, Buffer pool slabs)
 * over N ops, after a warm-up and a full collection, is then exactly what those ops allocated. A measure during which
 * a collection ran anyway (v8.GCProfiler sees it) is reported as such, not used. Not a time measurement: a loaded
 * machine does not change it; between processes a case can move by one small object (JIT decisions).
 */
const ALLOC_FLAGS = ['--expose-gc', '--min-semi-space-size=128', '--max-semi-space-size=128'];
/** Bytes a measure may allocate: well inside the 2 × 128 MB young generation. */
const ALLOC_BUDGET = 48 * 1024 * 1024;

interface Allocation {
  group: string;
  name: string;
  ops: number;
  heap: number;
  external: number;
  collections: number;
}

/** Runs `fn` `ops` times, awaiting it only when it is asynchronous (an await of a plain value allocates too). */
async function repeat(fn: () => unknown, ops: number, isAsync: boolean): Promise<void> {
  if (isAsync) for (let i = 0; i < ops; i++) await fn();
  else for (let i = 0; i < ops; i++) fn();
}

async function measure(c: Case): Promise<Allocation> {
  const gc = (globalThis as { gc?: () => void }).gc as () => void;
  const isAsync = c.fn() instanceof Promise;
  await repeat(c.fn, 3000, isAsync);
  const window = async (ops: number) => {
    gc();
    const profiler = new GCProfiler();
    const start = getHeapStatistics();
    const t0 = performance.now();
    profiler.start();
    await repeat(c.fn, ops, isAsync);
    const end = getHeapStatistics();
    const ms = performance.now() - t0;
    const collections = profiler.stop().statistics.length;
    return { ops, ms, collections, heap: (end.used_heap_size - start.used_heap_size) / ops, external: (end.external_memory - start.external_memory) / ops };
  };
  const probe = await window(200);
  // As many ops as fit the byte budget and about a second, at most 20 000; fewer again if a collection ran.
  let ops = Math.max(200, Math.min(20_000, Math.floor(ALLOC_BUDGET / Math.max(100, probe.heap + probe.external)), Math.floor((1000 * 200) / probe.ms)));
  for (;;) {
    const w = await window(ops);
    if (w.collections === 0 || ops <= 200) return { group: c.group, name: c.name, ops: w.ops, heap: w.heap, external: w.external, collections: w.collections };
    ops = Math.max(200, Math.floor(ops / 4));
  }
}

async function allocationTable(): Promise<void> {
  const child = spawnSync(process.execPath, [...ALLOC_FLAGS, fileURLToPath(import.meta.url)], {
    env: { ...process.env, BENCH_ALLOC_CHILD: '1' },
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  if (child.status !== 0) throw new Error(`allocation measure failed (exit ${String(child.status)})`);
  const rows = (JSON.parse(child.stdout) as Allocation[]).map((a) => [
    a.group,
    a.name,
    String(a.ops),
    a.collections === 0 ? a.heap.toFixed(0) : 'gc ran',
    a.collections === 0 ? a.external.toFixed(0) : '',
    a.collections === 0 ? (a.heap + a.external).toFixed(0) : '',
  ]);
  const head = ['group', 'case', 'ops', 'heap B/op', 'external B/op', 'total B/op'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] as string).length)));
  const line = (r: string[]) => r.map((v, i) => (i < 2 ? v.padEnd(widths[i] as number) : v.padStart(widths[i] as number))).join('  ');
  console.log('\nallocation per op (bytes, no collection during the measure; heap: V8 objects and strings; external: ArrayBuffers, Buffer pool)');
  console.log(line(head));
  for (const r of rows) console.log(line(r));
}

if (process.env.BENCH_ALLOC_CHILD === '1') {
  const out: Allocation[] = [];
  for (const c of cases) out.push(await measure(c));
  process.stdout.write(JSON.stringify(out));
} else if (process.env.BENCH_SMOKE === '1') {
  let n = 0;
  for (const c of cases) {
    for (let i = 0; i < 20; i++) {
      const out = await c.fn();
      if (out === undefined || out === null) throw new Error(`${c.group} / ${c.name} returned nothing`);
    }
    n++;
  }
  console.log(`bench smoke: ${n} cases ran`);
} else if (process.env.BENCH_ALLOC === '1') {
  await allocationTable();
} else {
  const groups = [...new Set(cases.map((c) => c.group))];
  for (const name of groups) {
    group(name, () => {
      summary(() => {
        for (const c of cases.filter((x) => x.group === name)) {
          const b = bench(c.name, c.fn);
          if (c.baseline === true) b.baseline(true);
        }
      });
    });
  }
  await run({ format: process.env.BENCH_JSON === '1' ? 'json' : 'mitata', colors: process.stdout.isTTY });
  if (process.env.BENCH_JSON !== '1') await allocationTable();
}
