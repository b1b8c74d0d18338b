/**
 * The memory check `bench/http.ts` runs in its own process (`node --expose-gc dist-bench/bench/memory.js N`): N
 * `decodeLocal` verifications with the verified-token cache on (1000 entries), each of a distinct token (a new jti),
 * so the cache is filled and evicted all along. Prints RSS before/after/peak and heap used after GC, in MiB.
 */
import { resolveSettings } from '@restjwt/core';
import { buildKeyset, TokenService } from '@restjwt/core/adapter-kit';

const n = Number(process.argv[2] ?? 1_000_000);
const settings = resolveSettings({ algorithm: 'HS256', signingKey: 'm'.repeat(64), verifiedTokenCacheSize: 1000, accessTokenLifetime: '1d' }).settings;
const tokens = new TokenService(settings, buildKeyset(settings));
const user = { id: '42', username: 'alice', email: '', passwordHash: '', isActive: true, isStaff: false, lastLogin: null, dateJoined: new Date(), tokenVersion: 'v' };
const mib = (b: number) => Math.round((b / 1048576) * 10) / 10;
const gc = (globalThis as { gc?: () => void }).gc ?? (() => {});

gc();
const before = process.memoryUsage().rss;
let peak = before;
const start = process.hrtime.bigint();
for (let i = 0; i < n; i++) {
  const raw = tokens.encodeLocal(tokens.forUser('access', user));
  if (tokens.decodeLocal(raw, 'access').payload.user_id !== '42') throw new Error('bad payload');
  if ((i & 0xffff) === 0) peak = Math.max(peak, process.memoryUsage().rss);
}
const seconds = Number(process.hrtime.bigint() - start) / 1e9;
const after = process.memoryUsage().rss;
peak = Math.max(peak, after);
gc();
console.log(
  JSON.stringify({ n, seconds: Math.round(seconds * 10) / 10, rssBeforeMiB: mib(before), rssAfterMiB: mib(after), rssPeakMiB: mib(peak), heapAfterMiB: mib(process.memoryUsage().heapUsed) }),
);
