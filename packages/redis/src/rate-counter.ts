/**
 * Login-throttling counters shared by every instance, in Redis: one key per counter, incremented atomically, expiring
 * when its window closes.
 */
import type { Redis } from 'ioredis';
import { checkRateArguments, checkRateKey, checkRateSlots, windowMs, type RateCounter, type RateReservation, type RateSlot } from '@restjwt/core/store-kit';
import { connectRedis, createRedisClient, redisTarget, redisUnavailable, type RedisConnectOptions } from './connect.js';

/** INCR, and start the window's expiry with the first hit (or repair a key that lost its expiry). */
const HIT_SCRIPT = `
local n = redis.call('INCR', KEYS[1])
if n == 1 or redis.call('PTTL', KEYS[1]) < 0 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return n`;

/**
 * Check every key against its limit (ARGV: limit, window ms, per key), then count one hit on each only if none is
 * full — one script, so no other client's reservation can run between the check and the count. Answers
 * `{1, counts}` or `{0, indexes of the full keys}`.
 */
const RESERVE_SCRIPT = `
local full = {}
for i, key in ipairs(KEYS) do
  if tonumber(redis.call('GET', key) or '0') >= tonumber(ARGV[2 * i - 1]) then full[#full + 1] = i end
end
if #full > 0 then return {0, full} end
local counts = {}
for i, key in ipairs(KEYS) do
  local n = redis.call('INCR', key)
  if n == 1 or redis.call('PTTL', key) < 0 then redis.call('PEXPIRE', key, ARGV[2 * i]) end
  counts[i] = n
end
return {1, counts}`;

/** One hit back, never below zero: DECR keeps the key's expiry, and the last hit goes with its key. */
const RELEASE_SCRIPT = `
local n = tonumber(redis.call('GET', KEYS[1]) or '0')
if n > 1 then redis.call('DECR', KEYS[1]) elseif n == 1 then redis.call('DEL', KEYS[1]) end
return 0`;

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
    try {
      return Number(await this.client.eval(HIT_SCRIPT, 1, this.prefix + key, windowMs(windowSeconds)));
    } catch (error) {
      throw redisUnavailable(error, this.target);
    }
  }

  async peek(key: string): Promise<number> {
    checkRateKey(key);
    try {
      return Number((await this.client.get(this.prefix + key)) ?? 0);
    } catch (error) {
      throw redisUnavailable(error, this.target);
    }
  }

  async reset(key: string): Promise<void> {
    checkRateKey(key);
    try {
      await this.client.del(this.prefix + key);
    } catch (error) {
      throw redisUnavailable(error, this.target);
    }
  }

  async reserve(slots: readonly RateSlot[]): Promise<RateReservation> {
    checkRateSlots(slots);
    if (slots.length === 0) return { reserved: true, counts: [] };
    const keys = slots.map((s) => this.prefix + s.key);
    const args = slots.flatMap((s) => [s.limit, windowMs(s.windowSeconds)]);
    let answer: [number, number[]];
    try {
      answer = (await this.client.eval(RESERVE_SCRIPT, keys.length, ...keys, ...args)) as [number, number[]];
    } catch (error) {
      throw redisUnavailable(error, this.target);
    }
    const [reserved, values] = answer;
    if (reserved === 1) return { reserved: true, counts: values.map(Number) };
    // Lua indexes from 1.
    return { reserved: false, full: values.map((i) => slots[Number(i) - 1]?.key ?? '') };
  }

  async release(key: string): Promise<void> {
    checkRateKey(key);
    try {
      await this.client.eval(RELEASE_SCRIPT, 1, this.prefix + key);
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
