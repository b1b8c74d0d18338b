/**
 * bench/runtimes/ inside Node, Bun and Deno: each case warmed up, then timed in rounds for about a second; prints
 * one JSON line `{"ops":{"restjwt HS256":…},"errors":{…}}` (operations per second; the cases that could not run and
 * why). bench/runtimes/run.ts starts it.
 */
import { buildRuntimeCases, repeat } from './cases.js';

const WARM_MS = Number(process.env.BENCH_WARM_MS ?? 300);
const MEASURE_MS = Number(process.env.BENCH_MEASURE_MS ?? 1000);

async function opsPerSecond(fn: () => unknown): Promise<number> {
  let batch = 16;
  for (const start = performance.now(); performance.now() - start < WARM_MS; ) await repeat(fn, batch);
  // Batches of about 20 ms, so the clock is read rarely.
  const t = performance.now();
  await repeat(fn, batch);
  batch = Math.max(16, Math.round((batch * 20) / Math.max(0.01, performance.now() - t)));
  let ops = 0;
  const start = performance.now();
  while (performance.now() - start < MEASURE_MS) {
    await repeat(fn, batch);
    ops += batch;
  }
  return ops / ((performance.now() - start) / 1000);
}

const ops: Record<string, number> = {};
const errors: Record<string, string> = {};
for (const c of await buildRuntimeCases()) {
  if (c.error === undefined) ops[c.name] = await opsPerSecond(c.fn);
  else errors[c.name] = c.error;
}
console.log(JSON.stringify({ ops, errors }));
