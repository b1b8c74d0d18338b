/**
 * The Redis revocation cache over real connections: the shared contract on the Redis-wrapped PostgreSQL store (and
 * memory store), then the cache's own rules: answers from Redis only when the full set is loaded, reloads from SQL
 * when the marker is missing or stale, never loses a revocation, and fails closed when Redis is down (a throwaway
 * redis-server is killed for that; the shared one is never touched beyond this file's own key prefix).
 */
import { Redis } from 'ioredis';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { StoreUnavailableError } from '../../packages/core/src/store/errors.js';
import type { OutstandingToken } from '../../packages/core/src/store/types.js';
import { createMemoryStore, MemoryStore } from '@restjwt/core/memory';
import { withRedisCache, type RedisCachedStore } from '@restjwt/redis';
import { openSqlStore, type SqlStore } from '@restjwt/sql';
import { hasRedisServer, startThrowawayRedis, type ThrowawayRedis } from '../helpers/redis-server.js';
import { makeToken, runStoreContract } from './contract.js';
import { deleteRedisKeys, POSTGRES_URL, postgresAdmin, probePostgres, probeRedis, REDIS_URL, uniqueName } from './services.js';

const [pg, redis] = await Promise.all([probePostgres(), probeRedis()]);
const throwaway = hasRedisServer();
if (!throwaway) console.warn('[restjwt tests] SKIPPING the Redis outage tests: no redis-server binary on the PATH to start a throwaway Redis.');

/** Everything a test opened, closed and removed afterwards. */
const cleanups: (() => Promise<void>)[] = [];
async function cleanupAll(): Promise<void> {
  for (const fn of cleanups.splice(0).reverse()) await fn().catch(() => undefined);
}

async function freshSqlStore(): Promise<SqlStore> {
  const schema = uniqueName('rjt');
  const store = await openSqlStore({ url: POSTGRES_URL, schema });
  cleanups.push(() => postgresAdmin(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`));
  cleanups.push(() => store.close());
  return store;
}

async function cached(inner: SqlStore | MemoryStore, options: { prefix?: string; url?: string } = {}): Promise<RedisCachedStore> {
  const prefix = options.prefix ?? `${uniqueName('rjt')}:`;
  const store = await withRedisCache(inner, { url: options.url ?? REDIS_URL, prefix });
  cleanups.push(() => deleteRedisKeys(prefix, options.url ?? REDIS_URL));
  cleanups.push(() => store.close());
  return store;
}

function rawRedis(url = REDIS_URL): Redis {
  const client = new Redis(url, { maxRetriesPerRequest: 0, lazyConnect: false });
  client.on('error', () => undefined);
  cleanups.push(async () => client.disconnect());
  return client;
}

const liveToken = (): OutstandingToken => makeToken();

describe.skipIf(!pg.ok || !redis.ok)('Redis-cached stores over real connections', () => {
  let contractPrefix = '';
  let contractSchema = '';
  runStoreContract(
    'redis-cached postgres',
    async () => {
      contractSchema = uniqueName('rjt');
      contractPrefix = `${uniqueName('rjt')}:`;
      return withRedisCache(await openSqlStore({ url: POSTGRES_URL, schema: contractSchema }), { url: REDIS_URL, prefix: contractPrefix });
    },
    {
      cleanup: async () => {
        await deleteRedisKeys(contractPrefix);
        await postgresAdmin(`DROP SCHEMA IF EXISTS "${contractSchema}" CASCADE`);
      },
    },
  );

  let memoryPrefix = '';
  runStoreContract(
    'redis-cached memory',
    async () => {
      memoryPrefix = `${uniqueName('rjt')}:`;
      return withRedisCache(createMemoryStore(), { url: REDIS_URL, prefix: memoryPrefix });
    },
    { cleanup: () => deleteRedisKeys(memoryPrefix) },
  );

  describe('the cache rules', () => {
    afterEach(cleanupAll);
    afterAll(cleanupAll);

    it('loads the revocations already in SQL, then answers from Redis without asking SQL', async () => {
      const sql = await freshSqlStore();
      const before = [liveToken(), liveToken(), liveToken()];
      for (const token of before) await sql.blacklist(token);
      const notRevoked = liveToken();
      await sql.recordOutstanding(notRevoked);

      const store = await cached(sql);
      expect(await store.ensureLoaded()).toBe(true);
      const asked = vi.spyOn(sql, 'isBlacklisted');
      for (const token of before) expect(await store.isBlacklisted(token.jti)).toBe(true);
      expect(await store.isBlacklisted(notRevoked.jti)).toBe(false);
      expect(await store.isBlacklisted('never-issued')).toBe(false);
      expect(asked).not.toHaveBeenCalled();
      expect(store.stats()).toMatchObject({ redisAnswers: 5, storeAnswers: 0, loads: 1 });
    });

    it('without the marker (Redis emptied) it answers from SQL and reloads; with a stale marker too', async () => {
      const sql = await freshSqlStore();
      const prefix = `${uniqueName('rjt')}:`;
      const store = await cached(sql, { prefix });
      await store.ensureLoaded();
      const revoked = liveToken();
      expect(await store.blacklist(revoked)).toBe('blacklisted');

      // Redis restarted empty: every key of ours is gone, the marker with them.
      await deleteRedisKeys(prefix);
      const asked = vi.spyOn(sql, 'isBlacklisted');
      expect(await store.isBlacklisted(revoked.jti)).toBe(true);
      expect(asked).toHaveBeenCalledTimes(1);
      expect(await store.ensureLoaded()).toBe(true);
      expect(await rawRedis().get(`${prefix}revoked:${revoked.jti}`)).toBe('c');

      // Restored from an older snapshot: a marker, but not this Redis process's. The entry is missing too.
      await rawRedis().set(`${prefix}revoked-set-loaded`, 'run-id-of-another-process');
      await rawRedis().del(`${prefix}revoked:${revoked.jti}`);
      asked.mockClear();
      expect(await store.isBlacklisted(revoked.jti)).toBe(true);
      expect(asked).toHaveBeenCalledTimes(1);
      expect(await store.ensureLoaded()).toBe(true);
      asked.mockClear();
      expect(await store.isBlacklisted(revoked.jti)).toBe(true);
      expect(asked).not.toHaveBeenCalled();
    });

    it('two instances: a logout on one is refused by the other at once, from Redis', async () => {
      const schema = uniqueName('rjt');
      const prefix = `${uniqueName('rjt')}:`;
      cleanups.push(() => postgresAdmin(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`));
      const a = await cached(await openSqlStore({ url: POSTGRES_URL, schema }), { prefix });
      const b = await cached(await openSqlStore({ url: POSTGRES_URL, schema }), { prefix });
      await a.ensureLoaded();
      await b.ensureLoaded();
      const token = liveToken();
      expect(await b.isBlacklisted(token.jti)).toBe(false);
      expect(await a.blacklist(token)).toBe('blacklisted');
      expect(await b.isBlacklisted(token.jti)).toBe(true);
      expect(b.stats().storeAnswers).toBe(0);
      expect(await b.rotate(token, liveToken())).toBe('already_blacklisted');
    });

    it('two instances: a family revoked on one is refused by the other at once; the set reloads with the new entries', async () => {
      const schema = uniqueName('rjt');
      const prefix = `${uniqueName('rjt')}:`;
      cleanups.push(() => postgresAdmin(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`));
      const a = await cached(await openSqlStore({ url: POSTGRES_URL, schema }), { prefix });
      const b = await cached(await openSqlStore({ url: POSTGRES_URL, schema }), { prefix });
      const first = makeToken({ familyId: 'fam' });
      const current = makeToken({ familyId: 'fam' });
      await a.recordOutstanding(first);
      expect(await a.rotate(first, current)).toBe('rotated');
      await a.ensureLoaded();
      await b.ensureLoaded();
      expect(await b.isBlacklisted(current.jti)).toBe(false);
      expect(await a.revokeFamily('fam')).toBe(1);
      // b never saw current's jti, yet it must not answer "not revoked" from its (now stale) set.
      expect(await b.isBlacklisted(current.jti)).toBe(true);
      expect(await b.rotate(current, makeToken({ familyId: 'fam' }))).toBe('already_blacklisted');
      await vi.waitFor(async () => expect(await b.ensureLoaded()).toBe(true), { timeout: 10_000, interval: 50 });
      const before = b.stats().storeAnswers;
      expect(await b.isBlacklisted(current.jti)).toBe(true);
      expect(await b.isBlacklisted(makeToken().jti)).toBe(false);
      expect(b.stats().storeAnswers).toBe(before);
    });

    it('a write that certainly did not reach SQL leaves no entry; one whose fate is unknown leaves the token refused', async () => {
      const inner = createMemoryStore();
      const prefix = `${uniqueName('rjt')}:`;
      const store = await cached(inner, { prefix });
      await store.ensureLoaded();

      const failing = vi.spyOn(inner, 'blacklist').mockRejectedValueOnce(new StoreUnavailableError('down', { outcome: 'not_applied' }));
      const first = liveToken();
      await expect(store.blacklist(first)).rejects.toBeInstanceOf(StoreUnavailableError);
      expect(await rawRedis().exists(`${prefix}revoked:${first.jti}`)).toBe(0);
      expect(await store.isBlacklisted(first.jti)).toBe(false);

      failing.mockRejectedValueOnce(new StoreUnavailableError('lost in transit', { outcome: 'unknown' }));
      const second = liveToken();
      await expect(store.blacklist(second)).rejects.toBeInstanceOf(StoreUnavailableError);
      // Maybe committed: refused rather than accepted wrongly.
      expect(await store.isBlacklisted(second.jti)).toBe(true);
      failing.mockRestore();

      // A committed revocation overrides any pending count.
      expect(await store.blacklist(second)).toBe('blacklisted');
      expect(await rawRedis().get(`${prefix}revoked:${second.jti}`)).toBe('c');
    });

    it('entries expire with their token (plus the grace period)', async () => {
      const inner = createMemoryStore();
      const prefix = `${uniqueName('rjt')}:`;
      const store = await withRedisCache(inner, { url: REDIS_URL, prefix, ttlGraceSeconds: 60 });
      cleanups.push(() => deleteRedisKeys(prefix));
      cleanups.push(() => store.close());
      const token = makeToken({ expiresAt: new Date(Date.now() + 10_000) });
      await store.blacklist(token);
      const ttl = await rawRedis().pttl(`${prefix}revoked:${token.jti}`);
      expect(ttl).toBeGreaterThan(65_000);
      expect(ttl).toBeLessThanOrEqual(70_000);
    });

    it('fails fast with StoreUnavailableError when Redis is unreachable at start, without echoing the password', async () => {
      const started = Date.now();
      const error = await withRedisCache(createMemoryStore(), { url: 'redis://:hunter2@127.0.0.1:1', connectTimeoutMs: 500 }).catch(
        (e: unknown) => e,
      );
      expect(Date.now() - started).toBeLessThan(2500);
      expect(error).toBeInstanceOf(StoreUnavailableError);
      expect((error as Error).message).toMatch(/Redis at 127\.0\.0\.1:1 is unavailable.*REDIS_URL/);
      expect((error as Error).message).not.toContain('hunter2');
    });

    it('measures isBlacklisted answered by Redis against PostgreSQL', async () => {
      const sql = await freshSqlStore();
      const store = await cached(sql);
      await store.ensureLoaded();
      const tokens = Array.from({ length: 200 }, () => liveToken());
      for (const token of tokens.slice(0, 100)) await store.blacklist(token);
      const time = async (check: (jti: string) => Promise<boolean>): Promise<number> => {
        const started = performance.now();
        for (let round = 0; round < 5; round++) await Promise.all(tokens.map((t) => check(t.jti)));
        return (performance.now() - started) / (5 * tokens.length);
      };
      const viaSql = await time((jti) => sql.isBlacklisted(jti));
      const viaRedis = await time((jti) => store.isBlacklisted(jti));
      console.info(`[redis-cache] isBlacklisted, 200 concurrent × 5: PostgreSQL ${(viaSql * 1000).toFixed(0)} µs/check, Redis ${(viaRedis * 1000).toFixed(0)} µs/check`);
      expect(store.stats().storeAnswers).toBe(0);
    });
  });

  describe.skipIf(!throwaway)('when Redis goes away', () => {
    let server: ThrowawayRedis;
    afterEach(async () => {
      await cleanupAll();
      await server?.stop();
    });

    it('fails closed (never "not revoked" without knowing), then resumes by itself and still enforces earlier revocations', async () => {
      server = await startThrowawayRedis();
      const sql = await freshSqlStore();
      const store = await cached(sql, { url: server.url });
      await store.ensureLoaded();
      const revokedBefore = liveToken();
      expect(await store.blacklist(revokedBefore)).toBe('blacklisted');
      const live = liveToken();
      await store.recordOutstanding(live);

      await server.kill();
      const started = Date.now();
      const calls = [
        () => store.isBlacklisted(live.jti),
        () => store.isBlacklisted(revokedBefore.jti),
        () => store.blacklist(liveToken()),
        () => store.rotate(live, liveToken()),
        () => store.ping(),
      ];
      for (const call of calls) await expect(call()).rejects.toBeInstanceOf(StoreUnavailableError);
      expect(Date.now() - started).toBeLessThan(3000);
      // Nothing was written while Redis could not record it.
      expect(await sql.countTokens()).toEqual({ outstanding: 2, blacklisted: 1 });

      await server.start(); // empty: no marker, no entries
      await vi.waitFor(() => store.ping(), { timeout: 10_000, interval: 100 });
      expect(await store.isBlacklisted(revokedBefore.jti)).toBe(true);
      expect(await store.isBlacklisted(live.jti)).toBe(false);
      await vi.waitFor(async () => expect(await store.ensureLoaded()).toBe(true), { timeout: 10_000, interval: 100 });
      const asked = vi.spyOn(sql, 'isBlacklisted');
      expect(await store.isBlacklisted(revokedBefore.jti)).toBe(true);
      expect(await store.rotate(live, liveToken())).toBe('rotated');
      expect(await store.isBlacklisted(live.jti)).toBe(true);
      expect(asked).not.toHaveBeenCalled();
    });

    it('a revocation committed in SQL while Redis stopped answering is written to Redis when it is back', async () => {
      server = await startThrowawayRedis();
      const inner = createMemoryStore();
      const prefix = `${uniqueName('rjt')}:`;
      const store = await cached(inner, { url: server.url, prefix });
      await store.ensureLoaded();
      const token = liveToken();
      // Redis dies between the pending entry and the committed one: the SQL write succeeds meanwhile.
      const blacklist = inner.blacklist.bind(inner);
      vi.spyOn(inner, 'blacklist').mockImplementationOnce(async (t) => {
        await server.kill();
        return blacklist(t);
      });
      expect(await store.blacklist(token)).toBe('blacklisted');
      expect(store.stats().deferredWrites).toBe(1);

      await server.start();
      await vi.waitFor(() => expect(store.stats().deferredWrites).toBe(0), { timeout: 10_000, interval: 100 });
      const client = rawRedis(server.url);
      expect(await client.get(`${prefix}revoked:${token.jti}`)).toBe('c');
    });
  });
});
