/**
 * Login-throttling counters shared by every instance, in Redis: one key per counter, incremented atomically, expiring
 * when its window closes.
 */
import type { Redis } from 'ioredis';
import type { RateCounter } from '../../core/store/types.js';
import { connectRedis, createRedisClient, redisTarget, redisUnavailable, type RedisConnectOptions } from './connect.js';

/** INCR, and start the window's expiry with the first hit (or repair a key that lost its expiry). */
const HIT_SCRIPT = `
local n = redis.call('INCR', KEYS[1])
if n == 1 or redis.call('PTTL', KEYS[1]) < 0 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return n`;

export function checkRateArguments(key: string, windowSeconds: number): void {
  if (typeof key !== 'string' || key === '') throw new RangeError('key must be a non-empty string');
  if (typeof windowSeconds !== 'number' || !Number.isFinite(windowSeconds) || windowSeconds <= 0) {
    throw new RangeError(`windowSeconds must be a positive number, got ${String(windowSeconds)}`);
  }
}

/** A {@link RateCounter} on Redis. Failures reject with `StoreUnavailableError`. */
export class RedisRateCounter implements RateCounter {
  constructor(
    private readonly client: Redis,
    /** Prepended to every key, e.g. `restjwt:rate:`. */
    private readonly prefix: string,
    private readonly target: string,
    private readonly owned = false,
  ) {}

  async hit(key: string, windowSeconds: number): Promise<number> {
    checkRateArguments(key, windowSeconds);
    const windowMs = Math.max(1, Math.ceil(windowSeconds * 1000));
    try {
      return Number(await this.client.eval(HIT_SCRIPT, 1, this.prefix + key, windowMs));
    } catch (error) {
      throw redisUnavailable(error, this.target);
    }
  }

  async peek(key: string): Promise<number> {
    if (typeof key !== 'string' || key === '') throw new RangeError('key must be a non-empty string');
    try {
      return Number((await this.client.get(this.prefix + key)) ?? 0);
    } catch (error) {
      throw redisUnavailable(error, this.target);
    }
  }

  async reset(key: string): Promise<void> {
    if (typeof key !== 'string' || key === '') throw new RangeError('key must be a non-empty string');
    try {
      await this.client.del(this.prefix + key);
    } catch (error) {
      throw redisUnavailable(error, this.target);
    }
  }

  /** Closes the connection when this counter opened it ({@link openRedisRateCounter}); otherwise does nothing. */
  async close(): Promise<void> {
    if (this.owned) this.client.disconnect();
  }
}

/** Options of {@link openRedisRateCounter}. */
export interface RedisRateCounterOptions extends RedisConnectOptions {
  url: string;
  /** Key prefix; default `restjwt:rate:`. */
  prefix?: string;
}

/**
 * Connects to Redis and returns a counter that owns the connection (close it with `close()`).
 *
 * @throws StoreUnavailableError when Redis does not answer.
 */
export async function openRedisRateCounter(options: RedisRateCounterOptions): Promise<RedisRateCounter> {
  const client = createRedisClient(options.url, options);
  const target = redisTarget(options.url);
  await connectRedis(client, target, (options.connectTimeoutMs ?? 2000) + 500);
  return new RedisRateCounter(client, options.prefix ?? 'restjwt:rate:', target, true);
}
