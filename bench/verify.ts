/**
 * Micro-benchmarks of token verification and signing, side by side with jose, fast-jwt and jsonwebtoken.
 * `npm run bench` runs them with mitata; `BENCH_SMOKE=1` only checks that every case runs and verifies.
 */
import { bench, group, run, summary } from 'mitata';
import { buildCases } from './cases.js';

const cases = await buildCases();

if (process.env.BENCH_SMOKE === '1') {
  let n = 0;
  for (const c of cases) {
    for (let i = 0; i < 20; i++) {
      const out = await c.fn();
      if (out === undefined || out === null) throw new Error(`${c.group} / ${c.name} returned nothing`);
    }
    n++;
  }
  console.log(`bench smoke: ${n} cases ran`);
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
}
