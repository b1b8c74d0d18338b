/**
 * The login-throttling counters (`RateCounter`): the memory one always, the Redis one over a real connection (shared
 * by two "instances") when Redis is reachable, and its failure mode with a throwaway Redis killed.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, describe, expect, it } from 'vitest';
import { StoreUnavailableError } from '../../packages/core/src/store/errors.js';
import type { RateCounter } from '../../packages/core/src/store/types.js';
import { createMemoryRateCounter } from '@restjwt/core/memory';
import { openRedisRateCounter, type RedisRateCounter } from '@restjwt/redis';
import { hasRedisServer, startThrowawayRedis } from '../helpers/redis-server.js';
import { deleteRedisKeys, probeRedis, REDIS_URL, uniqueName } from './services.js';

const redis = await probeRedis();

/** What every RateCounter does, whatever holds the counts. */
function counterContract(name: string, make: () => Promise<{ counter: RateCounter; wait: (ms: number) => Promise<void> }>): void {
  describe(`${name} rate counter`, () => {
    it('counts hits per key within a window, and reset forgets them', async () => {
      const { counter } = await make();
      expect(await counter.hit('login:alice', 60)).toBe(1);
      expect(await counter.hit('login:alice', 60)).toBe(2);
      expect(await counter.hit('login:bob', 60)).toBe(1);
      expect(await counter.hit('login:alice', 60)).toBe(3);
      await counter.reset('login:alice');
      expect(await counter.hit('login:alice', 60)).toBe(1);
      expect(await counter.hit('login:bob', 60)).toBe(2);
    });

    it('peek reads a count without adding to it', async () => {
      const { counter } = await make();
      expect(await counter.peek('p')).toBe(0);
      await counter.hit('p', 60);
      await counter.hit('p', 60);
      expect(await counter.peek('p')).toBe(2);
      expect(await counter.peek('p')).toBe(2);
      await counter.reset('p');
      expect(await counter.peek('p')).toBe(0);
    });

    it('starts a new window once the previous one closed', async () => {
      const { counter, wait } = await make();
      expect(await counter.hit('k', 0.3)).toBe(1);
      expect(await counter.hit('k', 0.3)).toBe(2);
      await wait(400);
      expect(await counter.peek('k')).toBe(0);
      expect(await counter.hit('k', 0.3)).toBe(1);
    });

    it('counts concurrent hits exactly', async () => {
      const { counter } = await make();
      const results = await Promise.all(Array.from({ length: 50 }, () => counter.hit('burst', 60)));
      expect([...results].sort((a, b) => a - b)).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
    });

    it('reserve counts every key when none is at its limit, and counts nothing when one is', async () => {
      const { counter } = await make();
      const slots = [
        { key: 'r:tight', limit: 2, windowSeconds: 60 },
        { key: 'r:loose', limit: 10, windowSeconds: 60 },
      ];
      expect(await counter.reserve(slots)).toEqual({ reserved: true, counts: [1, 1] });
      expect(await counter.reserve(slots)).toEqual({ reserved: true, counts: [2, 2] });
      expect(await counter.reserve(slots)).toEqual({ reserved: false, full: ['r:tight'] });
      expect([await counter.peek('r:tight'), await counter.peek('r:loose')]).toEqual([2, 2]);
      // A key filled by plain hits counts against reservations too.
      for (let i = 0; i < 8; i++) await counter.hit('r:loose', 60);
      await counter.reset('r:tight');
      expect(await counter.reserve(slots)).toEqual({ reserved: false, full: ['r:loose'] });
      expect(await counter.peek('r:tight')).toBe(0);
    });

    it('of concurrent reservations over the same keys exactly the limit succeed', async () => {
      const { counter } = await make();
      const slots = [
        { key: 'c:ua', limit: 7, windowSeconds: 60 },
        { key: 'c:u', limit: 50, windowSeconds: 60 },
        { key: 'c:a', limit: 100, windowSeconds: 60 },
      ];
      const results = await Promise.all(Array.from({ length: 40 }, () => counter.reserve(slots)));
      expect(results.filter((r) => r.reserved)).toHaveLength(7);
      expect(results.filter((r) => !r.reserved).every((r) => !r.reserved && r.full.join() === 'c:ua')).toBe(true);
      expect([await counter.peek('c:ua'), await counter.peek('c:u'), await counter.peek('c:a')]).toEqual([7, 7, 7]);
    });

    it('a reservation opens a window that closes like a hit\'s', async () => {
      const { counter, wait } = await make();
      const slot = { key: 'w', limit: 1, windowSeconds: 0.3 };
      expect((await counter.reserve([slot])).reserved).toBe(true);
      expect((await counter.reserve([slot])).reserved).toBe(false);
      await wait(400);
      expect(await counter.reserve([slot])).toEqual({ reserved: true, counts: [1] });
    });

    it('release takes one hit back, never below zero, and frees a reservation', async () => {
      const { counter } = await make();
      const slot = { key: 'rel', limit: 2, windowSeconds: 60 };
      await counter.reserve([slot]);
      await counter.reserve([slot]);
      expect((await counter.reserve([slot])).reserved).toBe(false);
      await counter.release('rel');
      expect(await counter.peek('rel')).toBe(1);
      expect(await counter.reserve([slot])).toEqual({ reserved: true, counts: [2] });
      for (let i = 0; i < 3; i++) await counter.release('rel');
      expect(await counter.peek('rel')).toBe(0);
      await counter.release('never-hit');
      expect(await counter.peek('never-hit')).toBe(0);
      expect(await counter.hit('rel', 60)).toBe(1);
    });

    it('reserve rejects a bad slot without counting anything', async () => {
      const { counter } = await make();
      const good = { key: 'g', limit: 5, windowSeconds: 60 };
      for (const bad of [
        { key: '', limit: 5, windowSeconds: 60 },
        { key: 'b', limit: 0, windowSeconds: 60 },
        { key: 'b', limit: 1.5, windowSeconds: 60 },
        { key: 'b', limit: 5, windowSeconds: 0 },
        good,
      ]) {
        await expect(counter.reserve([good, bad])).rejects.toThrow(RangeError);
      }
      expect(await counter.peek('g')).toBe(0);
    });

    it('rejects an empty key or a window that is not a positive number', async () => {
      const { counter } = await make();
      await expect(counter.hit('', 60)).rejects.toThrow(RangeError);
      await expect(counter.hit('k', 0)).rejects.toThrow(RangeError);
      await expect(counter.hit('k', Number.NaN)).rejects.toThrow(RangeError);
    });
  });
}

counterContract('memory', async () => {
  let now = 1_000_000;
  return {
    counter: createMemoryRateCounter(() => now),
    wait: async (ms) => {
      now += ms;
    },
  };
});

describe.skipIf(!redis.ok)('Redis rate counter over a real connection', () => {
  const opened: RedisRateCounter[] = [];
  const prefixes: string[] = [];
  const open = async (prefix: string): Promise<RedisRateCounter> => {
    const counter = await openRedisRateCounter({ url: REDIS_URL, prefix });
    opened.push(counter);
    return counter;
  };
  afterAll(async () => {
    for (const counter of opened) await counter.close();
    for (const prefix of prefixes) await deleteRedisKeys(prefix);
  });

  counterContract('redis', async () => {
    const prefix = `${uniqueName('rjt')}:rate:`;
    prefixes.push(prefix);
    return { counter: await open(prefix), wait: (ms) => sleep(ms) };
  });

  it('is shared: two instances count into the same window', async () => {
    const prefix = `${uniqueName('rjt')}:rate:`;
    prefixes.push(prefix);
    const a = await open(prefix);
    const b = await open(prefix);
    const results = await Promise.all(Array.from({ length: 30 }, (_, i) => (i % 2 ? a : b).hit('login:carol', 60)));
    expect(Math.max(...results)).toBe(30);
    expect(await a.hit('login:carol', 60)).toBe(31);
    await b.reset('login:carol');
    expect(await a.hit('login:carol', 60)).toBe(1);
  });

  it('reserves atomically across instances: of a burst from two counters exactly the limit succeed', async () => {
    const prefix = `${uniqueName('rjt')}:rate:`;
    prefixes.push(prefix);
    const a = await open(prefix);
    const b = await open(prefix);
    const slots = [
      { key: 'login:ua:dave|1.2.3.4', limit: 5, windowSeconds: 60 },
      { key: 'login:u:dave', limit: 50, windowSeconds: 60 },
    ];
    const results = await Promise.all(Array.from({ length: 30 }, (_, i) => (i % 2 ? a : b).reserve(slots)));
    expect(results.filter((r) => r.reserved)).toHaveLength(5);
    expect(await a.peek('login:u:dave')).toBe(5);
    await a.release('login:ua:dave|1.2.3.4');
    expect(await b.reserve(slots)).toEqual({ reserved: true, counts: [5, 6] });
  });

  it.skipIf(!hasRedisServer())('rejects with StoreUnavailableError while Redis is down, and works again when it is back', async () => {
    const server = await startThrowawayRedis();
    const counter = await openRedisRateCounter({ url: server.url, prefix: 'rate:' });
    try {
      expect(await counter.hit('k', 60)).toBe(1);
      await server.kill();
      const started = Date.now();
      await expect(counter.hit('k', 60)).rejects.toBeInstanceOf(StoreUnavailableError);
      expect(Date.now() - started).toBeLessThan(2000);
      await server.start();
      await expect.poll(() => counter.hit('k', 60).catch(() => -1), { timeout: 10_000, interval: 100 }).toBeGreaterThan(0);
    } finally {
      await counter.close();
      await server.stop();
    }
  });
});
