/**
 * bench/runtimes/ inside workerd, where the clock does not move while a request computes (a Spectre mitigation):
 * `GET /?case=<name>&n=<N>` runs N verifications of that case and answers, and bench/runtimes/run.ts times requests
 * of N and of 0 from outside. `listening on` is workerd's own line.
 */
import { buildRuntimeCases, repeat, type RuntimeCase } from './cases.js';

let cases: Promise<RuntimeCase[]> | undefined;

export default {
  async fetch(request: Request): Promise<Response> {
    cases ??= buildRuntimeCases();
    const url = new URL(request.url);
    const c = (await cases).find((x) => x.name === url.searchParams.get('case'));
    if (c === undefined) return new Response('unknown case', { status: 404 });
    if (c.error !== undefined) return new Response(c.error, { status: 501 });
    const n = Number(url.searchParams.get('n') ?? 0);
    await repeat(c.fn, n);
    return new Response(String(n));
  },
};
