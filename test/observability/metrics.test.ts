/**
 * Prometheus metrics (`@restjwt/metrics`): counters that move by exactly what real HTTP requests did, on an app that
 * mounts restjwt itself (the reference server's Fastify app over SQLite) and through `restjwt serve --metrics-port`,
 * with `--workers 2` summed by the primary; and labels that stay few whatever the usernames.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPrometheusMetrics } from '@restjwt/metrics';
import { createMemoryRateCounter } from '@restjwt/core/memory';
import { openSqliteStore } from '@restjwt/sqlite';
import { PASSWORD, startApp, type TestApp } from '../helpers/server.js';
import { builtCli } from '../helpers/built-cli.js';
import { call, runCli, startServe, type ServerProcess } from '../scale/harness.js';
import { BACKENDS, SETTINGS, enrolTotp, nextCode, startMfaApp, wrongCode } from '../mfa/app.js';

/** The value of one series in Prometheus text (`name{a="b"} 3`); 0 when the series is not there. */
function sample(text: string, series: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? 0 : Number(line.slice(series.length + 1));
}

/** How many series (sample lines) the text holds. */
const seriesCount = (text: string): number => text.split('\n').filter((l) => l !== '' && !l.startsWith('#')).length;

describe('metrics of an app that mounts restjwt itself', () => {
  let app: TestApp;
  let metrics: ReturnType<typeof createPrometheusMetrics>;
  let dir: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'restjwt-metrics-'));
    metrics = createPrometheusMetrics();
    const store = metrics.instrument(await openSqliteStore({ filename: join(dir, 'db.sqlite3') }));
    app = await startApp({ rotateRefreshTokens: true, blacklistAfterRotation: true }, { store, observer: metrics.observer });
    await app.user('alice');
  });

  afterAll(async () => {
    await app.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('counts each login, refresh, reuse, verify, logout and guarded request exactly once, and times the store', async () => {
    const before = await metrics.registry.metrics();
    const first = await app.login();
    const second = await app.login();
    for (let i = 0; i < 3; i++) expect((await app.post('/api/token/', { username: 'alice', password: 'wrong' })).status).toBe(401);
    const rotated = await app.post('/api/token/refresh/', { refresh: first.refresh });
    expect(rotated.status).toBe(200);
    // The rotated-out token again: reuse, its family revoked.
    expect((await app.post('/api/token/refresh/', { refresh: first.refresh })).status).toBe(401);
    expect((await app.post('/api/token/verify/', { token: second.access })).status).toBe(200);
    expect((await app.post('/api/token/verify/', { token: `${second.access}x` })).status).toBe(401);
    expect((await app.post('/api/token/blacklist/', { refresh: second.refresh })).status).toBe(200);
    expect((await app.get('/api/protected/', { authorization: `Bearer ${second.access}` })).status).toBe(200);
    expect((await app.get('/api/protected/', { authorization: `Bearer ${second.access}` })).status).toBe(200);
    expect((await app.get('/api/protected/')).status).toBe(401);
    expect((await app.get('/api/protected/', { authorization: 'Bearer not.a.token' })).status).toBe(401);
    const after = await metrics.registry.metrics();
    const moved = (series: string) => sample(after, series) - sample(before, series);

    expect(moved('restjwt_logins_total{outcome="ok"}')).toBe(2);
    expect(moved('restjwt_logins_total{outcome="no_active_account"}')).toBe(3);
    expect(moved('restjwt_refreshes_total{outcome="ok"}')).toBe(1);
    expect(moved('restjwt_refreshes_total{outcome="token_not_valid"}')).toBe(1);
    expect(moved('restjwt_refresh_reuse_detected_total')).toBe(1);
    expect(moved('restjwt_refresh_families_revoked_total')).toBe(1);
    expect(moved('restjwt_verifications_total{outcome="valid"}')).toBe(1);
    expect(moved('restjwt_verifications_total{outcome="token_not_valid"}')).toBe(1);
    expect(moved('restjwt_logouts_total{kind="token",outcome="ok"}')).toBe(1);
    expect(moved('restjwt_authentications_total{outcome="authenticated"}')).toBe(2);
    expect(moved('restjwt_authentications_total{outcome="not_authenticated"}')).toBe(1);
    expect(moved('restjwt_authentications_total{outcome="token_not_valid"}')).toBe(1);
    expect(moved('restjwt_endpoint_duration_seconds_count{endpoint="obtainPair",status="200"}')).toBe(2);
    expect(moved('restjwt_endpoint_duration_seconds_count{endpoint="obtainPair",status="401"}')).toBe(3);
    // Store calls: two refreshes reached `rotate`, one of them losing (the reuse).
    expect(moved('restjwt_store_duration_seconds_count{operation="rotate"}')).toBe(2);
    expect(moved('restjwt_store_duration_seconds_count{operation="revokeFamily"}')).toBe(1);
    expect(moved('restjwt_store_unavailable_total{operation="rotate"}')).toBe(0);
    // The first family was revoked on reuse and the second logged out: no session left.
    expect(sample(after, 'restjwt_live_sessions')).toBe(0);
    // Never a token or a username in the text.
    for (const secret of [first.access, first.refresh, 'alice', PASSWORD]) expect(after).not.toContain(secret);
  });

  it('keeps the same series whatever the usernames: 1000 failed logins of distinct names add none', async () => {
    await app.post('/api/token/', { username: 'warm-up', password: 'wrong' });
    const before = await metrics.registry.metrics();
    for (let i = 0; i < 1000; i++) await app.post('/api/token/', { username: `guess-${i}`, password: 'wrong' });
    const after = await metrics.registry.metrics();
    expect(seriesCount(after)).toBe(seriesCount(before));
    expect(sample(after, 'restjwt_logins_total{outcome="no_active_account"}') - sample(before, 'restjwt_logins_total{outcome="no_active_account"}')).toBe(1000);
    expect(after).not.toContain('guess-');
  }, 60_000);

  it('counts throttled logins as such: 3 failures fill the limit, the next 2 attempts are throttled (429)', async () => {
    const m = createPrometheusMetrics();
    const limited = await startApp(
      { loginThrottle: { perUsernameAndAddress: { limit: 3, windowSeconds: 60 } } },
      { store: m.instrument(await openSqliteStore({ filename: ':memory:' })), observer: m.observer, rateCounter: createMemoryRateCounter() },
    );
    try {
      await limited.user('carol');
      for (let i = 0; i < 3; i++) expect((await limited.post('/api/token/', { username: 'carol', password: 'wrong' })).status).toBe(401);
      // Over the limit even the right password is refused.
      expect((await limited.post('/api/token/', { username: 'carol', password: 'wrong' })).status).toBe(429);
      expect((await limited.post('/api/token/', { username: 'carol', password: PASSWORD })).status).toBe(429);
      const text = await m.registry.metrics();
      expect(sample(text, 'restjwt_logins_total{outcome="throttled"}')).toBe(2);
      expect(sample(text, 'restjwt_logins_total{outcome="no_active_account"}')).toBe(3);
      expect(sample(text, 'restjwt_logins_total{outcome="ok"}')).toBe(0);
      expect(sample(text, 'restjwt_endpoint_duration_seconds_count{endpoint="obtainPair",status="429"}')).toBe(2);
    } finally {
      await limited.close();
    }
  });

  it('counts a store outage per operation, as the 503 answer', async () => {
    const dir2 = mkdtempSync(join(tmpdir(), 'restjwt-metrics-outage-'));
    const m = createPrometheusMetrics();
    const store = m.instrument(await openSqliteStore({ filename: join(dir2, 'db.sqlite3') }));
    const outage = await startApp({}, { store, observer: m.observer });
    try {
      await outage.user('bob');
      await store.close();
      expect((await outage.post('/api/token/', { username: 'bob', password: PASSWORD })).status).toBe(503);
      const text = await m.registry.metrics();
      expect(sample(text, 'restjwt_store_unavailable_total{operation="findUser"}')).toBe(1);
      expect(sample(text, 'restjwt_logins_total{outcome="store_unavailable"}')).toBe(1);
    } finally {
      await outage.close().catch(() => {});
      rmSync(dir2, { recursive: true, force: true });
    }
  });
});

describe('restjwt serve --metrics-port', () => {
  const servers: ServerProcess[] = [];
  const dirs: string[] = [];
  afterAll(async () => {
    await Promise.all(servers.map((s) => s.stop()));
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  /** A served instance on a fresh SQLite file with user alice, and the URL its metrics line printed. */
  async function serve(extra: string[]): Promise<{ server: ServerProcess; metricsUrl: string }> {
    const dir = mkdtempSync(join(tmpdir(), 'restjwt-serve-metrics-'));
    dirs.push(dir);
    const database = `sqlite:${join(dir, 'restjwt.sqlite3')}`;
    const env = { RESTJWT_SIGNING_KEY: 'restjwt-metrics-test-signing-key-0123456789-abcdefghijklmnop', RESTJWT_SETTINGS: JSON.stringify({ loginThrottle: false }) };
    expect(runCli(builtCli(), ['createuser', 'alice', '--database', database, '--password-stdin'], { input: `${PASSWORD}\n`, env }).status).toBe(0);
    const server = await startServe(builtCli(), ['--port', '0', '--metrics-port', '0', '--no-request-log', '--database', database, ...extra], env);
    servers.push(server);
    const metricsUrl = /metrics: (http:\/\/\S+\/metrics)/.exec(server.stderr())?.[1];
    expect(metricsUrl).toBeDefined();
    return { server, metricsUrl: metricsUrl! };
  }

  const scrape = async (url: string) => {
    const res = await fetch(url);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    return res.text();
  };

  it('serves the metrics on their own loopback port, not on the public one', async () => {
    const { server, metricsUrl } = await serve([]);
    expect(new URL(metricsUrl).hostname).toBe('127.0.0.1');
    expect(new URL(metricsUrl).port).not.toBe(new URL(server.url).port);
    for (let i = 0; i < 3; i++) expect((await call(server.url, 'POST', '/api/token/', { username: 'alice', password: PASSWORD })).status).toBe(200);
    const text = await scrape(metricsUrl);
    expect(sample(text, 'restjwt_logins_total{outcome="ok"}')).toBe(3);
    // Three logins, three live sessions (counted in the store when scraped).
    expect(sample(text, 'restjwt_live_sessions')).toBe(3);
    expect((await fetch(`${server.url}/metrics`)).status).toBe(404);
    expect((await fetch(metricsUrl.replace('/metrics', '/other'))).status).toBe(404);
  }, 60_000);

  it('with --workers 2 the primary sums every worker: 20 logins spread over both count 20', async () => {
    const { server, metricsUrl } = await serve(['--workers', '2']);
    // New connections each: node:cluster's primary hands connections to the workers in turn (round-robin).
    const answers = await Promise.all(
      Array.from({ length: 20 }, () =>
        fetch(`${server.url}/api/token/`, { method: 'POST', headers: { 'content-type': 'application/json', connection: 'close' }, body: JSON.stringify({ username: 'alice', password: PASSWORD }) }),
      ),
    );
    expect(answers.map((r) => r.status)).toEqual(Array.from({ length: 20 }, () => 200));
    const text = await scrape(metricsUrl);
    expect(sample(text, 'restjwt_logins_total{outcome="ok"}')).toBe(20);
    expect(sample(text, 'restjwt_endpoint_duration_seconds_count{endpoint="obtainPair",status="200"}')).toBe(20);
    // Both workers count the one database: reported once, not summed.
    expect(sample(text, 'restjwt_live_sessions')).toBe(20);
  }, 60_000);
});

describe('metrics of a login with a second factor', () => {
  it('counts the mfa step, then the completed login, and a wrong code by its code', async () => {
    const metrics = createPrometheusMetrics();
    const memory = BACKENDS.find((b) => b.name === 'memory');
    if (memory === undefined) throw new Error('the memory backend is always there');
    const t = await startMfaApp(memory, SETTINGS, {}, { observer: metrics.observer });
    try {
      await t.user('mona');
      const { secret } = await enrolTotp(t, (await t.password('mona')).json.access as string);
      const before = await metrics.registry.metrics();
      const first = await t.password('mona');
      expect(first.json).toMatchObject({ mfa_required: true });
      const right = await nextCode(t, secret);
      expect((await t.post('/api/token/mfa/', { mfa_token: first.json.mfa_token, code: wrongCode(right) })).status).toBe(401);
      expect((await t.post('/api/token/mfa/', { mfa_token: first.json.mfa_token, code: right })).status).toBe(200);
      const after = await metrics.registry.metrics();
      const moved = (series: string) => sample(after, series) - sample(before, series);
      expect(moved('restjwt_logins_total{outcome="mfa_required"}')).toBe(1);
      expect(moved('restjwt_logins_total{outcome="mfa_code_invalid"}')).toBe(1);
      expect(moved('restjwt_logins_total{outcome="ok"}')).toBe(1);
      expect(moved('restjwt_endpoint_duration_seconds_count{endpoint="mfa",status="200"}')).toBe(1);
    } finally {
      await t.close();
      await t.drop();
    }
  });
});
