/**
 * A revocation cache in Redis in front of a store's blacklist (normally the SQL store), shared by every instance.
 *
 * The rules, in order of importance:
 *
 * 1. **Fail closed.** When Redis cannot be asked, `isBlacklisted`, `blacklist` and `rotate` reject with
 *    `StoreUnavailableError` (503). They never answer "not revoked" without knowing.
 * 2. **A revocation is never lost.** `blacklist` and `rotate` write Redis before the SQL commit (a *pending* entry,
 *    counted per writer) and again after it (the entry becomes *committed*): a revocation that is in SQL is in
 *    Redis, even when Redis answers slowly after the commit or another instance is reloading the set. When the SQL
 *    write certainly did not happen, the pending entry is withdrawn; when that is unknown it stays (a token refused
 *    too eagerly, never one accepted wrongly). A committed entry that could not be written is retried when Redis is
 *    back.
 * 3. **Redis answers only when it holds the full set.** A marker key records that the set was loaded from SQL, and by
 *    which Redis process (its `run_id`). If the marker is missing or names another process (Redis restarted empty,
 *    or from an older snapshot, or failed over), `isBlacklisted` answers from SQL and the set is reloaded from SQL in
 *    the background (one instance loads, under a lock); then Redis answers again.
 *
 * Entries expire `ttlGraceSeconds` after their token (default one day, which covers leeway and sliding tokens that
 * stay refreshable after their `exp`). Every instance that writes to the database must use the same Redis and prefix.
 * Redis must not evict keys (`maxmemory-policy noeviction`, its default).
 *
 * One idea, one file (about 550 lines): these rules, and the store that keeps them.
 */
import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import { StoreUnavailableError } from '@restjwt/core';
import { CAPABILITY_METHODS, hasCapability, isBlacklistSource, type StoreCapability, type Audited, type AuditStore, type FactorStore, type BlacklistPage, type BlacklistResult, type BlacklistSource, type FlushProgress, type IdentityStore, type ImmediateUserLookup, type OneTimeStore, type OutstandingToken, type RotateOptions, type RotateResult, type SessionStore, type Store, closedStoreError, checkBatchSize } from '@restjwt/core/store-kit';
import { connectRedis, createRedisClient, redisTarget, redisUnavailable, type RedisConnectOptions } from './connect.js';
import { RedisRateCounter } from './rate-counter.js';

/** A store the cache can sit in front of: it must be able to list its blacklist (to load the cache). */
export type CacheableStore = Store & BlacklistSource;

/** A line for the operator; never carries a token. */
export interface RedisCacheEvent {
  event: 'redis_cache_loaded' | 'redis_cache_load_failed' | 'redis_cache_write_deferred' | 'redis_cache_repaired' | 'redis_cache_warning';
  level: 'info' | 'warn' | 'error';
  reason?: string;
  count?: number;
}

/** Options of {@link withRedisCache}. */
export interface RedisCacheOptions extends RedisConnectOptions {
  /** `redis://…` or `rediss://…`; ignored when `client` is given. */
  url?: string;
  /** An existing client to use (not closed by `close()`); else one is created from `url`. */
  client?: Redis;
  /** Prefix of every key; default `restjwt:`. Instances sharing a database must share it. */
  prefix?: string;
  /** How long an entry outlives its token's expiry, in seconds. Default 86400. */
  ttlGraceSeconds?: number;
  /** Rows per page when loading the set from SQL. Default 1000. */
  loadPageSize?: number;
  /** Receives operator events (loads, deferred writes). Default: none. */
  onEvent?: (event: RedisCacheEvent) => void;
}

/** Counters for operators and tests. */
export interface RedisCacheStats {
  /** `isBlacklisted` answers that came from Redis. */
  redisAnswers: number;
  /** `isBlacklisted` answers that came from the store because the set was not loaded. */
  storeAnswers: number;
  /** Completed loads of the set from the store. */
  loads: number;
  /** Committed entries waiting for Redis to come back. */
  deferredWrites: number;
}

/** Adds a pending writer to an entry unless it is committed. */
const PEND_SCRIPT = `
local v = redis.call('GET', KEYS[1])
if v == 'c' then return 0 end
redis.call('INCR', KEYS[1])
redis.call('PEXPIRE', KEYS[1], ARGV[1])
return 1`;

/** Removes one pending writer (its write did not happen); deletes the entry when none is left and it is not committed. */
const WITHDRAW_SCRIPT = `
local v = redis.call('GET', KEYS[1])
if (not v) or v == 'c' then return 0 end
if redis.call('DECR', KEYS[1]) <= 0 then redis.call('DEL', KEYS[1]) end
return 1`;

/** Deletes a lock only if this holder still owns it. */
const UNLOCK_SCRIPT = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`;

const COMMITTED = 'c';
const LOAD_LOCK_MS = 60_000;
/**
 * Sets the loaded marker only when no bulk revocation ran since the load started (KEYS[2], the generation, is
 * unchanged) and none is running (KEYS[3], the count of bulk revocations in progress, is zero).
 */
const MARK_LOADED_SCRIPT = `
if (redis.call('GET', KEYS[2]) or '0') ~= ARGV[2] then return 0 end
if tonumber(redis.call('GET', KEYS[3]) or '0') > 0 then return 0 end
redis.call('SET', KEYS[1], ARGV[1])
return 1`;
const MAX_DEFERRED = 100_000;

/**
 * The inner store's methods the wrapper passes on as they are, because none of them reads or writes the revocation
 * set: users, token bookkeeping, access revocations (one indexed lookup per request, Redis is not involved).
 */
const PASSED_ON = [
  'migrate',
  'findUser',
  'createUser',
  'updatePasswordHash',
  'setPassword',
  'setActive',
  'renewTokenVersion',
  'updateLastLogin',
  'listUsers',
  'recordOutstanding',
  'countTokens',
  'findOutstanding',
  'revokeAccess',
  'isAccessRevoked',
  'listBlacklisted',
] as const satisfies readonly (keyof CacheableStore)[];

/** The optional capabilities passed on when the inner store has them (none touches revocations either). */
const PASSED_ON_CAPABILITIES = ['sessions', 'identities', 'oneTime', 'immediateUsers', 'audit', 'factors'] as const satisfies readonly StoreCapability[];

/** Passed-on methods that answer synchronously (the immediate user lookup): refused by a throw, not a rejection, once closed. */
const SYNCHRONOUS: ReadonlySet<string> = new Set(CAPABILITY_METHODS.immediateUsers);

/**
 * The passed-on methods, which the constructor defines on each instance (see {@link RedisCachedStore}): declared
 * here, as a class cannot declare members without emitting fields; interface and class merge into one type.
 */
export interface RedisCachedStore
  extends Pick<CacheableStore, (typeof PASSED_ON)[number]>,
    Partial<SessionStore>,
    Partial<IdentityStore>,
    Partial<OneTimeStore>,
    Partial<ImmediateUserLookup>,
    Partial<AuditStore>,
    Partial<FactorStore> {}

/**
 * The {@link Store} returned by {@link withRedisCache}: users and tokens from the inner store, revocations cached.
 *
 * One mechanism passes methods on to the inner store: the constructor defines each method of {@link PASSED_ON}, and
 * each method of an optional capability the inner store declares (sessions, linked identities, one-time values), as
 * a call of the inner store's method that is refused once this store is closed. So the wrapper declares (in
 * `capabilities`) and has exactly the inner store's capabilities, plus `blacklistSource`, and every capability guard
 * answers for it what it answers for the inner store.
 */
export class RedisCachedStore implements Store, BlacklistSource {
  /** The optional capabilities: `blacklistSource`, and those of the inner store it passes on. */
  readonly capabilities: readonly StoreCapability[];
  /** Login-throttling counters on the same Redis connection (keys `<prefix>rate:…`). */
  readonly rateCounter: RedisRateCounter;
  readonly target: string;
  private readonly markerKey: string;
  private readonly lockKey: string;
  private readonly generationKey: string;
  private readonly revokingKey: string;
  private readonly entryPrefix: string;
  private readonly graceMs: number;
  private readonly pageSize: number;
  private readonly onEvent: (event: RedisCacheEvent) => void;
  /** The run_id of the Redis process currently connected; null while (re)connecting. */
  private runId: string | null = null;
  private loading: Promise<void> | null = null;
  /** Committed entries whose write failed: key → expiry (ms), written again when Redis is back. */
  private readonly deferred = new Map<string, number>();
  private closed = false;
  private readonly counters = { redisAnswers: 0, storeAnswers: 0, loads: 0 };

  /** Use {@link withRedisCache}. */
  constructor(
    private readonly inner: CacheableStore,
    private readonly client: Redis,
    private readonly ownsClient: boolean,
    options: RedisCacheOptions & { target: string },
  ) {
    const prefix = options.prefix ?? 'restjwt:';
    this.target = options.target;
    this.entryPrefix = `${prefix}revoked:`;
    this.markerKey = `${prefix}revoked-set-loaded`;
    this.lockKey = `${prefix}revoked-set-loading`;
    this.generationKey = `${prefix}revoked-set-generation`;
    this.revokingKey = `${prefix}revoked-set-bulk-revocations`;
    const grace = options.ttlGraceSeconds ?? 86_400;
    if (!Number.isFinite(grace) || grace < 0) throw new RangeError(`ttlGraceSeconds must be a non-negative number, got ${String(grace)}`);
    this.graceMs = grace * 1000;
    this.pageSize = options.loadPageSize ?? 1000;
    this.onEvent = options.onEvent ?? (() => undefined);
    this.rateCounter = new RedisRateCounter(client, `${prefix}rate:`, this.target);
    const passed = PASSED_ON_CAPABILITIES.filter((capability) => hasCapability(inner, capability));
    this.capabilities = Object.freeze(['blacklistSource', ...passed]);
    this.passOn([...PASSED_ON, ...passed.flatMap((capability) => CAPABILITY_METHODS[capability])]);

    // Until the new connection's run_id is known, the marker cannot be trusted.
    const forget = (): void => {
      this.runId = null;
    };
    client.on('close', forget);
    client.on('reconnecting', forget);
    client.on('end', forget);
    client.on('ready', () => {
      void this.onReady();
    });
  }

  /** Learns the connected Redis process's run_id, writes deferred entries, and loads the set if needed. */
  async onReady(): Promise<void> {
    try {
      const info = await this.client.info('server');
      // Without INFO (some managed services hide it), a constant: restarts are then detected by the marker's absence.
      this.runId = /^run_id:([0-9a-f]+)/m.exec(info)?.[1] ?? 'unknown';
    } catch {
      return; // the next 'ready' tries again
    }
    await this.flushDeferred();
    this.scheduleLoad();
  }

  // --- lifecycle -------------------------------------------------------------------------------------------------

  /** Resolves when both Redis and the inner store answer. */
  async ping(): Promise<void> {
    this.assertOpen();
    try {
      await this.client.ping();
    } catch (error) {
      throw redisUnavailable(error, this.target);
    }
    await this.inner.ping();
  }

  /** Closes the Redis connection (when this store opened it) and the inner store. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.ownsClient) this.client.disconnect();
    await this.inner.close();
  }

  /** Counters for operators and tests. */
  stats(): RedisCacheStats {
    return { ...this.counters, deferredWrites: this.deferred.size };
  }

  /**
   * Loads the set from the store now unless Redis already holds it (or another instance is loading it), and waits.
   * Resolves true when Redis holds the full set afterwards.
   */
  async ensureLoaded(): Promise<boolean> {
    this.assertOpen();
    if (await this.isLoaded()) return true;
    this.scheduleLoad();
    await this.loading;
    return this.isLoaded();
  }

  // --- revocations: the cache's --------------------------------------------------------------------------------

  /**
   * From Redis when it holds the full set (one round trip: the marker and the entry together); else from the
   * store, while the set is reloaded. Rejects with `StoreUnavailableError` when Redis cannot be asked.
   */
  async isBlacklisted(jti: string): Promise<boolean> {
    this.assertOpen();
    let marker: string | null;
    let entry: string | null;
    try {
      [marker = null, entry = null] = await this.client.mget(this.markerKey, this.entryPrefix + jti);
    } catch (error) {
      throw redisUnavailable(error, this.target);
    }
    if (entry !== null) {
      this.counters.redisAnswers++;
      return true;
    }
    if (this.runId !== null && marker === this.runId) {
      this.counters.redisAnswers++;
      return false;
    }
    this.scheduleLoad();
    this.counters.storeAnswers++;
    return this.inner.isBlacklisted(jti);
  }

  blacklist(token: OutstandingToken, options?: Audited): Promise<BlacklistResult> {
    return this.writeThrough(token, () => this.inner.blacklist(token, options));
  }

  rotate(presented: OutstandingToken, successor: OutstandingToken, options?: RotateOptions): Promise<RotateResult> {
    return this.writeThrough(presented, () => this.inner.rotate(presented, successor, options));
  }

  revokeFamily(familyId: string, options?: Audited): Promise<number> {
    return this.bulkRevoke(() => this.inner.revokeFamily(familyId, options));
  }

  revokeUser(userId: string, options?: Audited): Promise<number> {
    return this.bulkRevoke(() => this.inner.revokeUser(userId, options));
  }

  /**
   * Drops the cache entries of the blacklisted tokens about to be flushed (best effort: they expire anyway), then
   * flushes the inner store.
   */
  async flushExpired(now: Date, options?: { batchSize?: number; onProgress?: (p: FlushProgress) => void }): Promise<number> {
    this.assertOpen();
    checkBatchSize(options ?? {});
    try {
      let cursor: string | null = null;
      do {
        const page: BlacklistPage = await this.inner.listBlacklisted({ expiresBefore: now, cursor, limit: this.pageSize });
        if (page.entries.length > 0) await this.client.unlink(...page.entries.map((e) => this.entryPrefix + e.jti));
        cursor = page.next;
      } while (cursor !== null);
    } catch (error) {
      if (!(error instanceof StoreUnavailableError) && !isRedisError(error)) throw error;
      this.onEvent({ event: 'redis_cache_warning', level: 'warn', reason: `flush left cache entries to expire by themselves: ${describe(error)}` });
    }
    return this.inner.flushExpired(now, options);
  }

  // --- internals -------------------------------------------------------------------------------------------------

  /** Defines each of `names` on this instance as a call of the inner store's method, refused once this store is closed. */
  private passOn(names: readonly string[]): void {
    const inner = this.inner;
    for (const name of names) {
      const method = Reflect.get(inner, name) as (...args: unknown[]) => unknown;
      // Not async: on the hot path (findUser) the inner store's promise is returned as it is.
      const passed = SYNCHRONOUS.has(name)
        ? (...args: unknown[]): unknown => {
            if (this.closed) throw this.closedError();
            return method.apply(inner, args);
          }
        : (...args: unknown[]): unknown => (this.closed ? Promise.reject(this.closedError()) : method.apply(inner, args));
      Object.defineProperty(this, name, { value: passed, enumerable: false, writable: false, configurable: false });
    }
  }

  /** Pending entry in Redis, the store's write, then the committed entry (see the module comment). */
  private async writeThrough<T>(token: OutstandingToken, write: () => Promise<T>): Promise<T> {
    this.assertOpen();
    const expiresAt = token.expiresAt instanceof Date ? token.expiresAt.getTime() : Number.NaN;
    if (Number.isNaN(expiresAt)) throw new RangeError('expiresAt must be a valid Date');
    const key = this.entryPrefix + token.jti;
    const ttl = this.ttl(expiresAt);
    let pending = false;
    if (ttl !== null) {
      try {
        pending = Number(await this.client.eval(PEND_SCRIPT, 1, key, ttl)) === 1;
      } catch (error) {
        // Redis cannot record the revocation: refuse before changing anything.
        throw redisUnavailable(error, this.target);
      }
    }
    let result: T;
    try {
      result = await write();
    } catch (error) {
      if (pending && error instanceof StoreUnavailableError && error.outcome === 'not_applied') {
        await this.client.eval(WITHDRAW_SCRIPT, 1, key).catch(() => undefined);
      }
      throw error;
    }
    if (ttl !== null) await this.commit(key, expiresAt);
    return result;
  }

  /**
   * A revocation of many tokens whose jtis are known only to the store. Before it, the loaded marker is dropped and a
   * bulk revocation is counted as running (Redis down → refused before anything changed), so every instance answers
   * from the store; after it, the generation is bumped and the marker dropped again, so that a load that read the set
   * before the commit cannot mark it loaded. Then the set is reloaded in the background.
   */
  private async bulkRevoke(write: () => Promise<number>): Promise<number> {
    this.assertOpen();
    try {
      const results = await this.client
        .multi()
        .incr(this.generationKey)
        .incr(this.revokingKey)
        .pexpire(this.revokingKey, LOAD_LOCK_MS)
        .del(this.markerKey)
        .exec();
      for (const [error] of results ?? []) if (error) throw error;
    } catch (error) {
      throw redisUnavailable(error, this.target);
    }
    try {
      return await write();
    } finally {
      try {
        await this.client.multi().incr(this.generationKey).decr(this.revokingKey).del(this.markerKey).exec();
      } catch (error) {
        // The running count stays up until it expires: loads wait, answers keep coming from the store. Safe.
        this.onEvent({ event: 'redis_cache_warning', level: 'warn', reason: `after a bulk revocation: ${describe(error)}` });
      }
      this.scheduleLoad();
    }
  }

  /** Writes a committed entry; when Redis fails, remembers it for when Redis is back. */
  private async commit(key: string, expiresAt: number): Promise<void> {
    const ttl = this.ttl(expiresAt);
    if (ttl === null) return;
    try {
      await this.client.set(key, COMMITTED, 'PX', ttl);
      this.deferred.delete(key);
    } catch (error) {
      if (this.deferred.size < MAX_DEFERRED) this.deferred.set(key, expiresAt);
      this.onEvent({
        event: 'redis_cache_write_deferred',
        level: 'warn',
        reason: `a revocation is in the database but not yet in Redis (${describe(error)}); it is written when Redis answers again`,
      });
    }
  }

  private async flushDeferred(): Promise<void> {
    if (this.deferred.size === 0) return;
    const entries = [...this.deferred];
    let written = 0;
    for (const [key, expiresAt] of entries) {
      const ttl = this.ttl(expiresAt);
      try {
        if (ttl !== null) await this.client.set(key, COMMITTED, 'PX', ttl);
        this.deferred.delete(key);
        written++;
      } catch {
        return;
      }
    }
    this.onEvent({ event: 'redis_cache_repaired', level: 'info', count: written });
  }

  /** Milliseconds an entry for a token expiring at `expiresAt` lives, or null when it would already be gone. */
  private ttl(expiresAt: number): number | null {
    const ttl = Math.ceil(expiresAt + this.graceMs - Date.now());
    return ttl > 0 ? ttl : null;
  }

  private async isLoaded(): Promise<boolean> {
    if (this.runId === null) return false;
    try {
      return (await this.client.get(this.markerKey)) === this.runId;
    } catch (error) {
      throw redisUnavailable(error, this.target);
    }
  }

  /** Starts a load unless one runs in this process or the connection's run_id is unknown. */
  private scheduleLoad(): void {
    if (this.loading !== null || this.runId === null || this.closed) return;
    this.loading = this.load()
      .catch((error: unknown) => {
        this.onEvent({ event: 'redis_cache_load_failed', level: 'warn', reason: describe(error) });
      })
      .finally(() => {
        this.loading = null;
      });
  }

  /**
   * Loads every live revocation from the store into Redis, then sets the marker to the run_id seen at the start (so a
   * Redis restart during the load leaves the set marked as not loaded). Only one instance loads at a time.
   */
  private async load(): Promise<void> {
    const runId = this.runId;
    if (runId === null) return;
    if ((await this.client.get(this.markerKey)) === runId) return;
    const generation = (await this.client.get(this.generationKey)) ?? '0';
    const nonce = randomBytes(12).toString('hex');
    if ((await this.client.set(this.lockKey, nonce, 'PX', LOAD_LOCK_MS, 'NX')) !== 'OK') return; // another instance loads
    try {
      const since = new Date(Date.now() - this.graceMs);
      let cursor: string | null = null;
      let count = 0;
      do {
        const page: BlacklistPage = await this.inner.listBlacklisted({ expiresAfter: since, cursor, limit: this.pageSize });
        const pipeline = this.client.pipeline();
        for (const entry of page.entries) {
          const ttl = this.ttl(entry.expiresAt.getTime());
          if (ttl !== null) pipeline.set(this.entryPrefix + entry.jti, COMMITTED, 'PX', ttl);
        }
        pipeline.pexpire(this.lockKey, LOAD_LOCK_MS);
        for (const [error] of (await pipeline.exec()) ?? []) if (error) throw error;
        count += page.entries.length;
        cursor = page.next;
      } while (cursor !== null);
      const marked = Number(await this.client.eval(MARK_LOADED_SCRIPT, 3, this.markerKey, this.generationKey, this.revokingKey, runId, generation));
      // A bulk revocation ran meanwhile: this set may miss its tokens. The next miss schedules another load.
      if (marked !== 1) return;
      this.counters.loads++;
      this.onEvent({ event: 'redis_cache_loaded', level: 'info', count });
    } finally {
      await this.client.eval(UNLOCK_SCRIPT, 1, this.lockKey, nonce).catch(() => undefined);
    }
  }

  private assertOpen(): void {
    if (this.closed) throw this.closedError();
  }

  private closedError(): StoreUnavailableError {
    return closedStoreError('This Redis-cached store', 'Open a new one.');
  }
}

/**
 * Puts a Redis revocation cache in front of `store`'s blacklist and returns the combined store. Connects now and
 * starts loading the set from `store` in the background (until it is loaded, `isBlacklisted` asks `store`).
 *
 * @throws StoreUnavailableError when Redis does not answer (nothing is left open; `store` stays open).
 */
export async function withRedisCache(store: CacheableStore, options: RedisCacheOptions): Promise<RedisCachedStore> {
  if (!isBlacklistSource(store)) {
    throw new TypeError(
      'withRedisCache needs a store that can list its blacklist (that declares the blacklistSource capability): the SQL, SQLite, memory or Django store.',
    );
  }
  let client = options.client;
  const owns = client === undefined;
  const url = options.url ?? '';
  const target = client === undefined ? redisTarget(url) : `${client.options.host ?? '127.0.0.1'}:${client.options.port ?? 6379}`;
  client ??= createRedisClient(url, options);
  const cached = new RedisCachedStore(store, client, owns, { ...options, target });
  if (owns) await connectRedis(client, target, (options.connectTimeoutMs ?? 2000) + 500);
  // Also run by the 'ready' event; awaited here so that the first requests can already trust the marker.
  if (client.status === 'ready') await cached.onReady();
  return cached;
}

function isRedisError(error: unknown): boolean {
  return error instanceof Error && (error.name === 'ReplyError' || /Redis|Stream isn't writeable|Command timed out|Connection is closed/i.test(error.message));
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
