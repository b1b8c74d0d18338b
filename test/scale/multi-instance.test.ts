/**
 * Three `restjwt serve` processes (the built CLI) sharing one PostgreSQL database and one Redis, as behind a load
 * balancer: tokens move freely between instances, rotation and logout are enforced by all of them at once, and of
 * concurrent refreshes of one token spread over the three exactly one succeeds.
 *
 * Skipped with a console line when PostgreSQL or Redis is not reachable. Uses its own database and key prefix.
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openSqlStore, type SqlStore } from '@restjwt/sql';
import { freePort } from '../helpers/free-port.js';
import { deleteRedisKeys, POSTGRES_URL, postgresAdmin, probePostgres, probeRedis, REDIS_URL, uniqueName, withDatabase } from '../stores/services.js';
import { call, claims, PASSWORD, prepareCli, runCli, SHARED_SIGNING_KEY, startServe, type ServerProcess } from './harness.js';

const [pg, redis] = await Promise.all([probePostgres(), probeRedis()]);

describe.skipIf(!pg.ok || !redis.ok)('three restjwt serve instances sharing PostgreSQL and Redis', () => {
  const database = uniqueName('rjt_scale');
  const prefix = `${uniqueName('rjt')}:`;
  const databaseUrl = withDatabase(POSTGRES_URL, database);
  let cli: { cli: string; remove: () => void } | undefined;
  let servers: ServerProcess[] = [];
  let store: SqlStore | undefined;
  let redisClient: Redis | undefined;

  beforeAll(async () => {
    cli = prepareCli();
    await postgresAdmin(`CREATE DATABASE "${database}"`);
    const env = {
      RESTJWT_SIGNING_KEY: SHARED_SIGNING_KEY,
      REDIS_URL,
      RESTJWT_REDIS_PREFIX: prefix,
      RESTJWT_SETTINGS: JSON.stringify({ loginThrottle: { perUsernameAndAddress: { limit: 3, windowSeconds: 60 } } }),
    };
    // All three start (and migrate) at the same moment: the migration lock lets one apply it.
    const ports = await Promise.all([freePort(), freePort(), freePort()]);
    servers = await Promise.all(ports.map((port) => startServe(cli!.cli, ['--port', String(port), '--database', databaseUrl], env)));
    const created = runCli(cli.cli, ['createuser', 'alice', '--database', databaseUrl, '--password-stdin'], { input: `${PASSWORD}\n` });
    expect(created.stderr).toBe('');
    expect(created.status).toBe(0);
    store = await openSqlStore({ url: databaseUrl, migrate: false });
    redisClient = new Redis(REDIS_URL);
  }, 120_000);

  afterAll(async () => {
    await Promise.all(servers.map((s) => s.stop()));
    await store?.close();
    redisClient?.disconnect();
    await deleteRedisKeys(prefix);
    await postgresAdmin(`DROP DATABASE IF EXISTS "${database}" WITH (FORCE)`);
    cli?.remove();
  }, 60_000);

  const login = async (server: ServerProcess): Promise<{ access: string; refresh: string }> => {
    const r = await call(server.url, 'POST', '/api/token/', { username: 'alice', password: PASSWORD });
    expect(r.status).toBe(200);
    return r.json as { access: string; refresh: string };
  };
  const refresh = (server: ServerProcess, token: string) => call(server.url, 'POST', '/api/token/refresh/', { refresh: token });
  const blacklisted = { detail: 'Token is blacklisted', code: 'token_not_valid' };

  it('each instance runs on its own port over the same database', () => {
    expect(new Set(servers.map((s) => s.url)).size).toBe(3);
  });

  it('a token issued by one instance is refreshed by another; the rotated-out token is refused by all three', async () => {
    const [a, b, c] = servers as [ServerProcess, ServerProcess, ServerProcess];
    const pair = await login(a);
    for (const server of servers) {
      expect((await call(server.url, 'GET', '/api/protected/', undefined, { authorization: `Bearer ${pair.access}` })).status).toBe(200);
    }

    const rotated = await refresh(b, pair.refresh);
    expect(rotated.status).toBe(200);
    expect(Object.keys(rotated.json as object).sort()).toEqual(['access', 'refresh']);

    for (const server of [a, b, c]) {
      const again = await refresh(server, pair.refresh);
      expect(again.status).toBe(401);
      expect(again.json).toMatchObject(blacklisted);
    }
    // The revocation is in SQL and in the shared Redis cache.
    expect(await store!.isBlacklisted(claims(pair.refresh).jti as string)).toBe(true);
    expect(await redisClient!.get(`${prefix}revoked:${claims(pair.refresh).jti as string}`)).toBe('c');

    // The replays were reuse: the family is revoked, so the successor is refused by every instance (the Redis cache
    // drops its loaded marker on a bulk revocation and answers from SQL until it has reloaded).
    for (const server of [a, b, c]) expect((await refresh(server, (rotated.json as { refresh: string }).refresh)).status).toBe(401);
  });

  it('a logout on one instance is refused by the other two at once', async () => {
    const [a, b, c] = servers as [ServerProcess, ServerProcess, ServerProcess];
    const pair = await login(b);
    expect((await call(c.url, 'POST', '/api/token/verify/', { token: pair.refresh })).status).toBe(200);

    const logout = await call(a.url, 'POST', '/api/token/blacklist/', { refresh: pair.refresh });
    expect(logout.status).toBe(200);
    expect(logout.json).toEqual({});

    for (const server of [b, c]) {
      const r = await refresh(server, pair.refresh);
      expect(r.status).toBe(401);
      expect(r.json).toMatchObject(blacklisted);
      const verified = await call(server.url, 'POST', '/api/token/verify/', { token: pair.refresh });
      expect(verified.status).toBe(400);
      expect(verified.json).toEqual({ non_field_errors: ['Token is blacklisted'] });
      expect((await call(server.url, 'POST', '/api/token/blacklist/', { refresh: pair.refresh })).status).toBe(401);
    }
  });

  it.each([20, 50, 60])('%i concurrent refreshes of one token spread over the three instances: exactly one 200', async (n) => {
    const pair = await login(servers[0]!);
    const before = await store!.countTokens();
    const started = performance.now();
    const answers = await Promise.all(Array.from({ length: n }, (_, i) => refresh(servers[i % 3]!, pair.refresh)));
    const ms = performance.now() - started;
    const statuses = answers.map((r) => r.status);
    console.info(
      `[scale] ${n} concurrent refreshes over 3 instances: ${ms.toFixed(0)} ms wall, ` +
        `slowest answer ${Math.max(...answers.map((r) => r.ms)).toFixed(0)} ms; statuses ${JSON.stringify(countBy(statuses))}`,
    );

    expect(statuses.filter((s) => s === 200)).toHaveLength(1);
    expect(statuses.filter((s) => s === 401)).toHaveLength(n - 1);
    for (const r of answers) if (r.status === 401) expect(r.json).toMatchObject(blacklisted);
    // One rotation recorded: the presented token blacklisted, one successor outstanding. The losers count as reuse
    // (refreshReuseInterval 0), so the family is revoked: the winner's successor is blacklisted too.
    const after = await store!.countTokens();
    expect(after.blacklisted - before.blacklisted).toBe(2);
    expect(after.outstanding - before.outstanding).toBe(1);
    const winner = answers.find((r) => r.status === 200)!.json as { refresh: string };
    expect((await refresh(servers[2]!, winner.refresh)).status).toBe(401);
  });

  it('login throttling counts failures from every instance together (Redis counters)', async () => {
    const [a, b, c] = servers as [ServerProcess, ServerProcess, ServerProcess];
    const attempt = (server: ServerProcess) => call(server.url, 'POST', '/api/token/', { username: 'mallory', password: 'wrong' });
    // One failure per instance: each instance alone would be far from the limit of 3.
    for (const server of [a, b, c]) expect((await attempt(server)).status).toBe(401);
    for (const server of [a, b, c]) {
      const refused = await attempt(server);
      expect(refused.status).toBe(429);
    }
    expect(Number(await redisClient!.get(`${prefix}rate:login:ua:mallory|127.0.0.1`))).toBe(3);
  });

  it('restjwt migrate and flushexpiredtokens --redis work on the shared database while the instances run', () => {
    const migrated = runCli(cli!.cli, ['migrate', '--database', databaseUrl]);
    expect(migrated.status).toBe(0);
    expect(migrated.stdout).toBe('No migrations to apply.\n');
    const flushed = runCli(cli!.cli, ['flushexpiredtokens', '--database', databaseUrl, '--redis', REDIS_URL], {
      env: { RESTJWT_REDIS_PREFIX: prefix },
    });
    expect(flushed.stderr).toBe('');
    expect(flushed.status).toBe(0);
    expect(flushed.stdout).toBe('Deleted 0 expired tokens.\n');
  });
});

function countBy(values: number[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const v of values) out[v] = (out[v] ?? 0) + 1;
  return out;
}
