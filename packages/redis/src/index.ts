/**
 * Redis for several restjwt instances: a revocation cache in front of the SQL blacklist ({@link withRedisCache}) and
 * shared login-throttling counters ({@link RedisRateCounter}).
 */
export {
  withRedisCache,
  RedisCachedStore,
  type CacheableStore,
  type RedisCacheEvent,
  type RedisCacheOptions,
  type RedisCacheStats,
} from './cache.js';
export { openRedisRateCounter, RedisRateCounter, type RedisRateCounterOptions } from './rate-counter.js';
export {
  createRedisClient,
  isRedisUrl,
  redisTarget,
  DEFAULT_REDIS_COMMAND_TIMEOUT_MS,
  DEFAULT_REDIS_CONNECT_TIMEOUT_MS,
  type RedisConnectOptions,
} from './connect.js';
