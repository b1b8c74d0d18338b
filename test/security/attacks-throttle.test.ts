/**
 * Login throttling against a parallel guesser: an attempt is counted before its password is checked, in one atomic
 * step with the limit check, so a burst gets no more password checks than the limit. One instance on every adapter:
 * test/adapters/suite.ts › login throttling under a parallel burst. Here: two instances sharing their counters
 * through a real Redis (skipped, saying so, when none runs on 127.0.0.1:6379 or RESTJWT_TEST_REDIS_URL).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createMemoryRateCounter, createMemoryStore } from '@restjwt/core/memory';
import { openRedisRateCounter, type RedisRateCounter } from '@restjwt/redis';
import { openSqliteStore } from '@restjwt/sqlite';
import { heldBurst, PASSWORD, startApp, type TestApp } from '../helpers/server.js';
import { deleteRedisKeys, probeRedis, REDIS_URL, uniqueName } from '../stores/services.js';

const redis = await probeRedis();

describe('login throttling and outages', () => {
  it('an attempt the store could not answer (503) is not counted: a user retrying through an outage is not locked out', async () => {
    // Two services sharing one counter (as two instances share Redis): one whose store is down, one whose is up.
    const counter = createMemoryRateCounter();
    const settings = { loginThrottle: { perUsernameAndAddress: { limit: 2, windowSeconds: 60 } } };
    const down = await startApp(settings, { rateCounter: counter, store: createMemoryStore() });
    const up = await startApp(settings, { rateCounter: counter });
    try {
      await down.store.close();
      await up.user('alice');
      for (let i = 0; i < 5; i++) expect((await down.post('/api/token/', { username: 'alice', password: 'wrong' })).status).toBe(503);
      expect((await up.post('/api/token/', { username: 'alice', password: 'wrong' })).status).toBe(401);
      expect((await up.post('/api/token/', { username: 'alice', password: 'wrong' })).status).toBe(401);
      expect((await up.post('/api/token/', { username: 'alice', password: PASSWORD })).status).toBe(429);
    } finally {
      await down.close();
      await up.close();
    }
  });
});

describe.skipIf(!redis.ok)('login throttling across two instances sharing Redis counters', () => {
  it('30 parallel wrong passwords on one account, spread over two instances (limit 5): 5 checked, 25 answered 429', async () => {
    const prefix = `${uniqueName('rjt')}:rate:`;
    const dir = mkdtempSync(join(tmpdir(), 'restjwt-burst-'));
    const filename = join(dir, 'db.sqlite3');
    const burst = heldBurst();
    const counters: RedisRateCounter[] = [];
    const apps: TestApp[] = [];
    try {
      // Two separate services, as two processes would have: each its own store connection and Redis connection.
      for (let i = 0; i < 2; i++) {
        const counter = await openRedisRateCounter({ url: REDIS_URL, prefix });
        counters.push(counter);
        apps.push(await startApp({ loginThrottle: true }, { rateCounter: counter, hasher: burst.hasher, store: await openSqliteStore({ filename }) }));
      }
      const [a, b] = apps as [TestApp, TestApp];
      await a.user('alice');
      const answers = await burst.run(30, (i) => (i % 2 ? a : b).post('/api/token/', { username: 'alice', password: `wrong-${i}` }));
      expect(burst.hasher.checks()).toBe(5);
      expect(answers.filter((r) => r.status === 401)).toHaveLength(5);
      const throttled = answers.filter((r) => r.status === 429);
      expect(throttled).toHaveLength(25);
      for (const r of throttled) {
        expect(r.headers.get('retry-after')).toBe('300');
        expect(r.json).toEqual({ detail: 'Request was throttled. Expected available in 300 seconds.', code: 'throttled' });
      }
      // Locked on both instances, the right password included, and nothing more was checked.
      for (const t of [a, b]) expect((await t.post('/api/token/', { username: 'alice', password: PASSWORD })).status).toBe(429);
      expect(burst.hasher.checks()).toBe(5);
    } finally {
      for (const t of apps) await t.close();
      for (const counter of counters) await counter.close();
      await deleteRedisKeys(prefix);
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
