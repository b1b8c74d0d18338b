/**
 * Outages seen from outside: a `restjwt serve` process (the built CLI) whose Redis is a throwaway redis-server that
 * the test kills and restarts, and whose PostgreSQL connection goes through a TCP proxy that the test cuts. Whatever
 * fails answers 503 with the core's clear body within seconds (never a hang, never a 500, never a token issued
 * without being recorded), and service resumes by itself.
 *
 * The shared servers are never touched: the test kills only its own Redis and its own proxy.
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openSqlStore, type SqlStore } from '@restjwt/sql';
import { freePort } from '../helpers/free-port.js';
import { hasRedisServer, startThrowawayRedis, type ThrowawayRedis } from '../helpers/redis-server.js';
import { startTcpProxy, type TcpProxy } from '../helpers/tcp-proxy.js';
import { POSTGRES_URL, postgresAdmin, probePostgres, uniqueName, withDatabase } from '../stores/services.js';
import { call, claims, PASSWORD, prepareCli, runCli, SHARED_SIGNING_KEY, startServe, STORE_UNAVAILABLE, type ServerProcess } from './harness.js';

const pg = await probePostgres();
const canRunRedis = hasRedisServer();
if (!canRunRedis) console.warn('[restjwt tests] SKIPPING the fault tests: no redis-server binary on the PATH to start a throwaway Redis.');

describe.skipIf(!pg.ok || !canRunRedis)('faults: Redis and PostgreSQL going away under a running server', () => {
  const database = uniqueName('rjt_faults');
  const directUrl = withDatabase(POSTGRES_URL, database);
  const prefix = 'restjwt:';
  let cli: { cli: string; remove: () => void } | undefined;
  let redis: ThrowawayRedis | undefined;
  let proxy: TcpProxy | undefined;
  let server: ServerProcess;
  let store: SqlStore | undefined;

  beforeAll(async () => {
    cli = prepareCli();
    await postgresAdmin(`CREATE DATABASE "${database}"`);
    redis = await startThrowawayRedis();
    const target = new URL(POSTGRES_URL);
    proxy = await startTcpProxy(target.hostname, Number(target.port || 5432));
    const proxied = new URL(directUrl);
    proxied.port = String(proxy.port);
    proxied.searchParams.set('connect_timeout', '2');
    proxied.searchParams.set('statement_timeout', '2000');
    server = await startServe(
      cli.cli,
      ['--port', String(await freePort()), '--database', proxied.toString(), '--redis', redis.url],
      { RESTJWT_SIGNING_KEY: SHARED_SIGNING_KEY, RESTJWT_SETTINGS: JSON.stringify({ authTokenClasses: ['access', 'sliding'], loginThrottle: true }) },
    );
    const created = runCli(cli.cli, ['createuser', 'alice', '--database', directUrl, '--password-stdin'], { input: `${PASSWORD}\n` });
    expect(created.status).toBe(0);
    store = await openSqlStore({ url: directUrl, migrate: false });
  }, 120_000);

  afterAll(async () => {
    await server?.stop();
    await store?.close();
    await proxy?.close();
    await redis?.stop();
    await postgresAdmin(`DROP DATABASE IF EXISTS "${database}" WITH (FORCE)`);
    cli?.remove();
  }, 60_000);

  const credentials = { username: 'alice', password: PASSWORD };
  const login = () => call(server.url, 'POST', '/api/token/', credentials);
  const refresh = (token: string) => call(server.url, 'POST', '/api/token/refresh/', { refresh: token });
  const expectUnavailable = (r: { status: number; json: unknown; ms: number }, withinMs: number): void => {
    expect(r.status).toBe(503);
    expect(r.json).toEqual(STORE_UNAVAILABLE);
    expect(r.ms).toBeLessThan(withinMs);
  };

  it('Redis killed: refresh, verify, logout, sliding-token and throttled login requests answer 503; restarted: service resumes and earlier revocations hold', async () => {
    const loggedOut = (await login()).json as { refresh: string };
    expect((await call(server.url, 'POST', '/api/token/blacklist/', { refresh: loggedOut.refresh })).status).toBe(200);
    const live = (await login()).json as { access: string; refresh: string };
    const sliding = (await call(server.url, 'POST', '/api/token/sliding/', credentials)).json as { token: string };
    const slidingAuth = { authorization: `Bearer ${sliding.token}` };
    expect((await call(server.url, 'GET', '/api/protected/', undefined, slidingAuth)).status).toBe(200);

    await redis!.kill();
    expectUnavailable(await refresh(live.refresh), 3000);
    // Never "not revoked" without knowing: the logged-out token is not let through either.
    expectUnavailable(await refresh(loggedOut.refresh), 3000);
    expectUnavailable(await call(server.url, 'POST', '/api/token/verify/', { token: loggedOut.refresh }), 3000);
    expectUnavailable(await call(server.url, 'POST', '/api/token/blacklist/', { refresh: live.refresh }), 3000);
    expectUnavailable(await call(server.url, 'GET', '/api/protected/', undefined, slidingAuth), 3000);
    expect((await call(server.url, 'GET', '/healthz')).status).toBe(503);
    // The login throttle's counters live in Redis too: no login without them.
    expectUnavailable(await login(), 3000);
    // The failed logout changed nothing.
    expect(await store!.isBlacklisted(claims(live.refresh).jti as string)).toBe(false);

    await redis!.start(); // same port, empty: no entries, no marker
    await expect.poll(async () => (await call(server.url, 'GET', '/healthz')).status, { timeout: 15_000, interval: 100 }).toBe(200);
    const reused = await refresh(loggedOut.refresh);
    expect(reused.status).toBe(401);
    expect(reused.json).toMatchObject({ detail: 'Token is blacklisted', code: 'token_not_valid' });
    expect((await refresh(live.refresh)).status).toBe(200);
    expect((await call(server.url, 'GET', '/api/protected/', undefined, slidingAuth)).status).toBe(200);
    expect((await login()).status).toBe(200);

    // The cache was reloaded from SQL: the new Redis holds the earlier revocation and the marker.
    const client = new Redis(redis!.url);
    try {
      await expect.poll(() => client.exists(`${prefix}revoked-set-loaded`), { timeout: 10_000, interval: 100 }).toBe(1);
      expect(await client.get(`${prefix}revoked:${claims(loggedOut.refresh).jti as string}`)).toBe('c');
    } finally {
      client.disconnect();
    }
  }, 60_000);

  it('PostgreSQL connection cut: login answers 503 at once and records nothing; resumes when the connection is back', async () => {
    const pair = (await login()).json as { refresh: string };
    const before = await store!.countTokens();

    await proxy!.cut();
    expectUnavailable(await login(), 3000);
    expectUnavailable(await refresh(pair.refresh), 3000);
    expect((await call(server.url, 'GET', '/healthz')).status).toBe(503);
    expect(await store!.countTokens()).toEqual(before);

    await proxy!.restore();
    await expect.poll(async () => (await login()).status, { timeout: 15_000, interval: 200 }).toBe(200);
    expect((await store!.countTokens()).outstanding).toBeGreaterThan(before.outstanding);
    expect((await refresh(pair.refresh)).status).toBe(200);
  }, 60_000);

  it('PostgreSQL stops answering (black hole): login answers 503 within the timeouts, records nothing, resumes', async () => {
    const before = await store!.countTokens();
    proxy!.stall();
    const answers = await Promise.all([login(), login(), login()]);
    for (const r of answers) expectUnavailable(r, 6000);
    console.info(`[faults] login with PostgreSQL black-holed: 503 after ${Math.max(...answers.map((r) => r.ms)).toFixed(0)} ms`);
    expect(await store!.countTokens()).toEqual(before);

    await proxy!.restore();
    await expect.poll(async () => (await login()).status, { timeout: 15_000, interval: 200 }).toBe(200);
  }, 60_000);
});
