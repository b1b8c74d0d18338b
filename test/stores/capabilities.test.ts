/**
 * Which stores claim the optional capabilities (sessions, linked identities, one-time values): the native stores do,
 * the Django store does not (it shares Django's tables), and the Redis wrapper does exactly when its inner store does.
 * Needs no server: the wrapper is built around a client that never connects.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { StoreUnavailableError } from '../../src/core/store/errors.js';
import { hasIdentities, hasSessions } from '../../src/core/store/types.js';
import { DjangoStore, openDjangoStore } from '../../src/stores/django/index.js';
import { createMemoryStore, MemoryStore } from '../../src/stores/memory/index.js';
import { RedisCachedStore, type CacheableStore } from '../../src/stores/redis/index.js';
import { SqliteStore } from '../../src/stores/sqlite/index.js';
import { SqlStore } from '../../src/stores/sql/index.js';

const dir = mkdtempSync(join(tmpdir(), 'restjwt-capabilities-'));
const clients: Redis[] = [];
afterAll(() => {
  for (const client of clients) client.disconnect();
  rmSync(dir, { recursive: true, force: true });
});

/** The capability methods hidden from a store, as a store without them (say a third-party one) would look. */
const CAPABILITIES = new Set([
  'recordSession', 'touchSession', 'listSessions', 'sessionOwner', 'listTokens', 'countUsers',
  'findIdentity', 'linkIdentity', 'touchIdentity', 'unlinkIdentity', 'listIdentities', 'putOneTime', 'takeOneTime',
]);
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
