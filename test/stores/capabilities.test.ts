/**
 * Which stores claim the optional capabilities (sessions, linked identities, one-time values): the native stores do,
 * the Django store does not (it shares Django's tables), and the Redis wrapper does exactly when its inner store does.
 * Each store declares them in `capabilities`, and detection goes by that declaration, not by method names.
 * Needs no server: the wrapper is built around a client that never connects.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { StoreUnavailableError } from '../../packages/core/src/store/errors.js';
import { ALL_CAPABILITIES, CAPABILITY_METHODS, canImportUsers, hasCapability, hasIdentities, hasSessions, isBlacklistSource, type StoreCapability, type WithCapabilities } from '../../packages/core/src/store/capabilities.js';
import { DjangoStore, openDjangoStore } from 'restjwt/stores/django';
import { createMemoryStore, MemoryStore } from '@restjwt/core/memory';
import { RedisCachedStore, type CacheableStore } from '@restjwt/redis';
import { SqliteStore } from '@restjwt/sqlite';
import { SqlStore } from '@restjwt/sql';

const dir = mkdtempSync(join(tmpdir(), 'restjwt-capabilities-'));
const clients: Redis[] = [];
afterAll(() => {
  for (const client of clients) client.disconnect();
  rmSync(dir, { recursive: true, force: true });
});

/** The capability methods hidden from a store, as a store without them (say a third-party one) would look. */
const CAPABILITIES: ReadonlySet<string> = new Set((['sessions', 'identities', 'oneTime', 'immediateUsers', 'audit', 'factors'] as const).flatMap((c) => CAPABILITY_METHODS[c]));
function withoutCapabilities(store: MemoryStore): CacheableStore {
  return new Proxy(store, {
    get(target, property, receiver) {
      if (typeof property === 'string' && CAPABILITIES.has(property)) return undefined;
      const value: unknown = Reflect.get(target, property, receiver);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

function wrap(inner: CacheableStore): RedisCachedStore {
  // lazyConnect: the constructor only registers listeners; nothing here talks to Redis.
  const client = new Redis({ lazyConnect: true, maxRetriesPerRequest: 0 });
  clients.push(client);
  return new RedisCachedStore(inner, client, false, { target: 'nowhere:6379' });
}

describe('optional store capabilities', () => {
  it('the memory, SQLite and SQL stores have all of them', () => {
    for (const proto of [MemoryStore.prototype, SqliteStore.prototype, SqlStore.prototype]) {
      expect(hasSessions(proto)).toBe(true);
      expect(hasIdentities(proto)).toBe(true);
    }
  });

  it('the Django store has none of them, and the Redis wrapper around it none either', async () => {
    expect(hasSessions(DjangoStore.prototype)).toBe(false);
    expect(hasIdentities(DjangoStore.prototype)).toBe(false);
    const filename = join(dir, 'django.sqlite3');
    new Database(filename).close(); // Django's file exists; its tables are not needed to see the methods
    const store = await openDjangoStore({ database: { kind: 'sqlite', filename }, check: false });
    try {
      expect(hasSessions(store)).toBe(false);
      expect(hasIdentities(store)).toBe(false);
      // Its own `countUsers` and `listTokens` (importdjango's paging) are not the session capability's; the wrapper
      // must not pass them off as such.
      const wrapped = wrap(store);
      expect(hasSessions(wrapped)).toBe(false);
      expect(hasIdentities(wrapped)).toBe(false);
      for (const name of CAPABILITIES) expect(name in wrapped).toBe(false);
    } finally {
      await store.close();
    }
  });

  it('the Redis wrapper has them exactly when its inner store has them, and forwards to it', async () => {
    const bare = wrap(withoutCapabilities(createMemoryStore()));
    expect(hasSessions(bare)).toBe(false);
    expect(hasIdentities(bare)).toBe(false);
    for (const name of CAPABILITIES) expect(name in bare).toBe(false);

    const inner = createMemoryStore();
    const store = wrap(inner);
    expect(hasSessions(store)).toBe(true);
    expect(hasIdentities(store)).toBe(true);
    if (!hasSessions(store) || !hasIdentities(store)) return;
    const user = await store.createUser({ username: 'w', passwordHash: 'h' });
    expect(await store.countUsers()).toBe(1);
    await store.putOneTime('k', 'v', new Date(Date.now() + 60_000));
    expect(await inner.takeOneTime('k')).toBe('v');
    expect(await store.linkIdentity({ provider: 'github', subject: '1', userId: user.id, email: null, at: new Date() })).toBe('linked');
    expect((await inner.findIdentity('github', '1'))?.userId).toBe(user.id);

    // Closed: refused like every other call, as a rejected promise.
    await store.close();
    await expect(store.countUsers()).rejects.toBeInstanceOf(StoreUnavailableError);
    await expect(store.takeOneTime('k')).rejects.toBeInstanceOf(StoreUnavailableError);
  });
});

describe('declared store capabilities', () => {
  /** The capabilities whose method names `store` has, declared or not. */
  function namesPresent(store: object): StoreCapability[] {
    return (Object.keys(CAPABILITY_METHODS) as StoreCapability[]).filter((c) => CAPABILITY_METHODS[c].some((m) => typeof (store as Record<string, unknown>)[m] === 'function'));
  }

  it('each store lists what it implements: the native stores all seven (the in-process ones immediate lookups too), the Django store its blacklist only', () => {
    for (const proto of [MemoryStore.prototype, SqliteStore.prototype, SqlStore.prototype]) {
      const immediate = proto !== SqlStore.prototype ? ['immediateUsers'] : [];
      expect([...proto.capabilities].sort()).toEqual(['audit', 'blacklistSource', 'factors', 'identities', ...immediate, 'importUsers', 'oneTime', 'sessions']);
      expect(hasCapability(proto, 'immediateUsers')).toBe(immediate.length === 1);
      for (const capability of ALL_CAPABILITIES) expect(hasCapability(proto, capability)).toBe(true);
      // Memory and SQLite list their blacklist for the Redis cache like the SQL store does.
      expect(isBlacklistSource(proto)).toBe(true);
      expect(canImportUsers(proto)).toBe(true);
    }
    expect(DjangoStore.prototype.capabilities).toEqual(['blacklistSource']);
    expect(isBlacklistSource(DjangoStore.prototype)).toBe(true);
    expect(canImportUsers(DjangoStore.prototype)).toBe(false);
  });

  it('no store has a method named like a capability it does not declare (no name means two things)', () => {
    for (const proto of [MemoryStore.prototype, SqliteStore.prototype, SqlStore.prototype, DjangoStore.prototype]) {
      for (const capability of namesPresent(proto)) expect(proto.capabilities).toContain(capability);
    }
    // importdjango's paging of Django's own rows has names of its own.
    expect(typeof DjangoStore.prototype.countDjangoUsers).toBe('function');
    expect(typeof DjangoStore.prototype.listDjangoTokens).toBe('function');
    expect('countUsers' in DjangoStore.prototype || 'listTokens' in DjangoStore.prototype).toBe(false);
  });

  it('methods without the declaration are no capability, and a declaration without the methods is none either', () => {
    const inner = createMemoryStore();
    // Every method of every capability, but no `capabilities`: a store that merely has the names.
    const undeclared = Object.fromEntries(
      ALL_CAPABILITIES.flatMap((c) => CAPABILITY_METHODS[c].map((m) => [m, (...args: unknown[]) => Reflect.apply(Reflect.get(inner, m) as () => unknown, inner, args)])),
    );
    for (const capability of ALL_CAPABILITIES) expect(hasCapability(undeclared, capability)).toBe(false);
    expect(hasSessions(undeclared) || hasIdentities(undeclared) || canImportUsers(undeclared) || isBlacklistSource(undeclared)).toBe(false);

    // @ts-expect-error: the compiler refuses a declaration of `sessions` without SessionStore's methods
    const claimed: WithCapabilities<'sessions'> = { capabilities: ['sessions'] };
    expect(hasSessions(claimed)).toBe(false);
  });

  it('the Redis wrapper declares the inner store capabilities it passes on, plus its blacklist', async () => {
    expect([...wrap(createMemoryStore()).capabilities].sort()).toEqual(['audit', 'blacklistSource', 'factors', 'identities', 'immediateUsers', 'oneTime', 'sessions']);
    expect(wrap(withoutCapabilities(createMemoryStore())).capabilities).toEqual(['blacklistSource']);
    const filename = join(dir, 'django-declared.sqlite3');
    new Database(filename).close();
    const django = await openDjangoStore({ database: { kind: 'sqlite', filename }, check: false });
    try {
      const wrapped = wrap(django);
      expect(wrapped.capabilities).toEqual(['blacklistSource']);
      expect(namesPresent(wrapped)).toEqual(['blacklistSource']);
    } finally {
      await django.close();
    }
  });
});
