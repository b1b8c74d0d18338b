/**
 * Redis connections that fail fast: a command sent while Redis is down or slow is rejected within
 * `commandTimeoutMs` instead of being queued, and the client keeps reconnecting in the background, so service
 * resumes by itself when Redis is back.
 */
import { Redis } from 'ioredis';
import { StoreUnavailableError } from '@restjwt/core';

/** Options of {@link createRedisClient}. */
export interface RedisConnectOptions {
  /** How long to wait for the TCP connection and handshake. Default 2000. */
  connectTimeoutMs?: number;
  /** How long one command may take before it fails. Default 1000. */
  commandTimeoutMs?: number;
}

export const DEFAULT_REDIS_CONNECT_TIMEOUT_MS = 2000;
export const DEFAULT_REDIS_COMMAND_TIMEOUT_MS = 1000;

/** True for `redis://` and `rediss://` (TLS) URLs. */
export function isRedisUrl(url: string): boolean {
  return /^rediss?:\/\//i.test(url.trim());
}

/** `host:port` of a Redis URL, without credentials, for messages. */
export function redisTarget(url: string): string {
  try {
    const parsed = new URL(url.trim());
    return `${parsed.hostname}:${parsed.port === '' ? '6379' : parsed.port}`;
  } catch {
    return 'the configured Redis';
  }
}

/**
 * A Redis client that is not connected yet (call `connect()`), configured to fail fast and reconnect forever:
 * no offline queue, no resending of commands lost with a connection, one retry per request, commands time out.
 *
 * @throws Error when `url` is not a `redis://` or `rediss://` URL (the message does not repeat it).
 */
export function createRedisClient(url: string, options: RedisConnectOptions = {}): Redis {
  if (!isRedisUrl(url)) {
    throw new Error('Expected a Redis URL such as redis://127.0.0.1:6379 or rediss://:password@host:6380/0 (REDIS_URL / --redis).');
  }
  const client = new Redis(url.trim(), {
    lazyConnect: true,
    connectTimeout: options.connectTimeoutMs ?? DEFAULT_REDIS_CONNECT_TIMEOUT_MS,
    commandTimeout: options.commandTimeoutMs ?? DEFAULT_REDIS_COMMAND_TIMEOUT_MS,
    maxRetriesPerRequest: 1,
    enableOfflineQueue: false,
    autoResendUnfulfilledCommands: false,
    enableReadyCheck: true,
    // Reconnect forever, quickly at first, then once a second.
    retryStrategy: (attempt) => Math.min(50 * attempt, 1000),
  });
  // Connection errors are reported through the failing commands; without a listener ioredis would print them.
  client.on('error', () => undefined);
  return client;
}

/**
 * Connects `client`, waiting at most `timeoutMs`.
 *
 * @throws StoreUnavailableError saying what to check when Redis does not answer.
 */
export async function connectRedis(client: Redis, target: string, timeoutMs: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      client.connect(),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
      }),
    ]);
  } catch (error) {
    client.disconnect();
    throw redisUnavailable(error, target);
  } finally {
    clearTimeout(timer);
  }
}

/** Any Redis failure as the `StoreUnavailableError` the core answers with 503 (the revocation cache fails closed). */
export function redisUnavailable(error: unknown, target: string): StoreUnavailableError {
  if (error instanceof StoreUnavailableError) return error;
  const code = (error as { code?: unknown } | null)?.code;
  const message = error instanceof Error ? error.message : String(error);
  const reason = typeof code === 'string' && !message.includes(code) ? `${code}: ${message}` : message;
  return new StoreUnavailableError(
    `Redis at ${target} is unavailable (${reason}). Token checks that need the revocation cache answer 503 until it is ` +
      'back (they never answer "not revoked" without knowing); check that Redis is running and reachable, and REDIS_URL / ' +
      '--redis. restjwt reconnects by itself.',
    { cause: error, outcome: 'not_applied' },
  );
}
