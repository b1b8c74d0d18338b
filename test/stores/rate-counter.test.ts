/**
 * The login-throttling counters (`RateCounter`): the memory one always, the Redis one over a real connection (shared
 * by two "instances") when Redis is reachable, and its failure mode with a throwaway Redis killed.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, describe, expect, it } from 'vitest';
import { StoreUnavailableError } from '../../src/core/store/errors.js';
import type { RateCounter } from '../../src/core/store/types.js';
import { createMemoryRateCounter } from '../../src/stores/memory/index.js';
import { openRedisRateCounter, type RedisRateCounter } from '../../src/stores/redis/index.js';
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
