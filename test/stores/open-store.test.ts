/**
 * Choosing a store from a URL, the server-database URL syntax and the pool settings. Needs no server, except the last
 * block (skipped when PostgreSQL or Redis is not reachable).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { MemoryStore } from '@restjwt/core/memory';
import { openStore } from '../../packages/restjwt/src/stores/open-store.js';
import { RedisCachedStore } from '@restjwt/redis';
import { createKysely, parseSqlUrl, sqlDialectOf, SqlStore } from '@restjwt/sql';
import type { Store } from '../../packages/core/src/store/types.js';
import { deleteRedisKeys, POSTGRES_URL, postgresAdmin, probePostgres, probeRedis, REDIS_URL, uniqueName, withParams } from './services.js';

describe('server database URLs', () => {
  it.each([
    ['postgres://u:p@db/app', 'postgres'],
    ['postgresql://db/app', 'postgres'],
    ['mysql://u@db/app', 'mysql'],
    ['MariaDB://u@db:3307/app', 'mysql'],
    ['sqlite:./x', null],
    ['redis://x', null],
  ])('%s → %s', (url, dialect) => {
    expect(sqlDialectOf(url)).toBe(dialect);
  });

  it('takes restjwt parameters out of the URL and leaves the driver its own', () => {
    const parsed = parseSqlUrl('postgres://app:pw@db.internal/tokens?pool=25&connect_timeout=3&statement_timeout=2500&sslmode=require&schema=auth');
    expect(parsed).toMatchObject({
      dialect: 'postgres',
      target: 'db.internal:5432/tokens',
      pool: 25,
      connectTimeoutMs: 3000,
      statementTimeoutMs: 2500,
      schema: 'auth',
    });
    expect(parsed.driverUrl).toBe('postgres://app:pw@db.internal/tokens?sslmode=require');
    expect(parseSqlUrl('mariadb://root@127.0.0.1:3307/app').driverUrl).toBe('mysql://root@127.0.0.1:3307/app');
    expect(parseSqlUrl('mysql://root@h/app').target).toBe('h:3306/app');
  });

  it.each([
    ['postgres:///app?password=s3cret', /names no host/],
    ['postgres://u:s3cret@db', /must name one database/],
    ['postgres://u:s3cret@db/app?pool=0', /pool must be a whole number from 1/],
    ['mysql://u:s3cret@db/app?connect_timeout=soon', /connect_timeout must be a whole number/],
    ['postgres://u:s3cret@db/app?schema=a;drop', /schema must be a plain identifier/],
    ['postgres://u:s3cret@db:99999/app', /malformed/],
    ['postgres://u:s3cret@db/app?prepare=no', /prepare must be true or false/],
  ])('rejects %s without echoing the password', (url, message) => {
    expect(() => parseSqlUrl(url)).toThrow(message);
    expect(() => parseSqlUrl(url)).not.toThrow(/s3cret/);
  });

  it('pool size: the option, else ?pool=N, else 10', async () => {
    const connections = [
      createKysely('postgres://db/app?pool=4', { poolSize: 7 }),
      createKysely('postgres://db/app?pool=4'),
      createKysely('mysql://db/app'),
    ];
    expect(connections.map((c) => c.poolSize)).toEqual([7, 4, 10]);
    expect(connections.map((c) => [c.connectTimeoutMs, c.statementTimeoutMs])).toEqual([
      [5000, 5000],
      [5000, 5000],
      [5000, 5000],
    ]);
    for (const c of connections) await c.db.destroy();
  });

  it('prepared statements: on for PostgreSQL unless the option or ?prepare=false says otherwise; never for MariaDB/MySQL', async () => {
    const connections = [
      createKysely('postgres://db/app'),
      createKysely('postgres://db/app?prepare=false'),
      createKysely('postgres://db/app?prepare=false', { prepareStatements: true }),
      createKysely('postgres://db/app', { prepareStatements: false }),
      createKysely('mysql://db/app'),
    ];
    expect(connections.map((c) => typeof c.prepared)).toEqual(['function', 'undefined', 'function', 'undefined', 'undefined']);
    expect(parseSqlUrl('postgres://db/app?prepare=false&sslmode=require').driverUrl).toBe('postgres://db/app?sslmode=require');
    for (const c of connections) await c.db.destroy();
  });
});

describe('openStore', () => {
  const stores: Store[] = [];
  afterEach(async () => {
    for (const store of stores.splice(0)) await store.close();
  });

  it('opens memory: without Redis unless asked', async () => {
    const store = await openStore('memory:', { env: { REDIS_URL: '' } });
    stores.push(store);
    expect(store).toBeInstanceOf(MemoryStore);
  });

  it('refuses a bad RESTJWT_DB_POOL_SIZE with what to set', async () => {
    await expect(openStore('postgres://127.0.0.1:1/app', { env: { RESTJWT_DB_POOL_SIZE: 'lots' } })).rejects.toThrow(
      /RESTJWT_DB_POOL_SIZE must be a whole number/,
    );
  });
});

const [pg, redis] = await Promise.all([probePostgres(), probeRedis()]);

describe.skipIf(!pg.ok || !redis.ok)('openStore with PostgreSQL and Redis', () => {
  it('postgres:// opens the SQL store; REDIS_URL wraps it in the Redis cache', async () => {
    const schema = uniqueName('rjt');
    const prefix = `${uniqueName('rjt')}:`;
    const url = withParams(POSTGRES_URL, { schema });
    try {
      const plain = await openStore(url, { env: { RESTJWT_DB_POOL_SIZE: '3' } });
      expect(plain).toBeInstanceOf(SqlStore);
      await plain.close();
      const wrapped = await openStore(url, { env: { REDIS_URL: REDIS_URL, RESTJWT_REDIS_PREFIX: prefix } });
      expect(wrapped).toBeInstanceOf(RedisCachedStore);
      await wrapped.ping();
      await wrapped.close();
    } finally {
      await postgresAdmin(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      await deleteRedisKeys(prefix);
    }
  });
});
