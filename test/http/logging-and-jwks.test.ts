import { createServer, type Server } from 'node:http';
import { generateKeyPairSync } from 'node:crypto';
import { Writable } from 'node:stream';
import { exportJWK } from 'jose';
import { afterAll, describe, expect, it } from 'vitest';
import { createRestJwt } from '@restjwt/core';
import { signCompact } from '../../packages/core/src/jws/sign.js';
import { buildServer, DEFAULT_LOGGER } from '../../packages/restjwt/src/server/app.js';
import { createMemoryStore } from '@restjwt/core/memory';
import { fastHasher, PASSWORD, SECRET } from '../helpers/server.js';

describe('logs', () => {
  it('are JSON lines that never contain a token or a password', async () => {
    const lines: string[] = [];
    const stream = new Writable({
      write(chunk, _enc, done) {
        lines.push(...String(chunk).split('\n').filter(Boolean));
        done();
      },
    });
    const store = createMemoryStore();
    await store.createUser({ username: 'alice', passwordHash: await fastHasher.hash(PASSWORD) });
    const restjwt = createRestJwt({ store, hasher: fastHasher, settings: { signingKey: SECRET } });
    const app = await buildServer({ restjwt, logger: { ...(DEFAULT_LOGGER as object), stream } });
    const login = await app.inject({ method: 'POST', url: '/api/token/', payload: { username: 'alice', password: PASSWORD } });
    const { access, refresh } = login.json() as { access: string; refresh: string };
    await app.inject({ method: 'GET', url: '/api/protected/', headers: { authorization: `Bearer ${access}` } });
    await app.inject({ method: 'POST', url: '/api/token/refresh/', payload: { refresh } });
    await app.inject({ method: 'POST', url: '/api/token/', payload: '{"password":"' + PASSWORD + '"' , headers: { 'content-type': 'application/json' } });
    await app.close();
    // one access line per request, and nothing in any line that could be replayed
    expect(lines.map((l) => (JSON.parse(l) as { msg?: string }).msg).filter((m) => m === 'request')).toHaveLength(4);
    for (const line of lines) {
      expect(() => JSON.parse(line)).not.toThrow();
      expect(line).not.toContain(PASSWORD);
      expect(line).not.toContain(access.split('.')[2]);
      expect(line).not.toContain(refresh.split('.')[2]);
      expect(line).not.toMatch(/eyJ[\w-]{10,}/);
    }
  });
});

describe('disableRequestLogging (restjwt serve --no-request-log)', () => {
  /** A server logging into `lines` (JSON objects), with alice and an extra route that fails. */
  async function serverLoggingTo(lines: Record<string, unknown>[], disableRequestLogging?: boolean) {
    const stream = new Writable({
      write(chunk, _enc, done) {
        for (const line of String(chunk).split('\n').filter(Boolean)) lines.push(JSON.parse(line) as Record<string, unknown>);
        done();
      },
    });
    const store = createMemoryStore();
    await store.createUser({ username: 'alice', passwordHash: await fastHasher.hash(PASSWORD) });
    const restjwt = createRestJwt({ store, hasher: fastHasher, settings: { signingKey: SECRET } });
    const app = await buildServer({ restjwt, logger: { ...(DEFAULT_LOGGER as object), stream }, ...(disableRequestLogging === undefined ? {} : { disableRequestLogging }) });
    app.get('/fails', async () => {
      throw new Error('boom');
    });
    return app;
  }

  const requestLines = (lines: Record<string, unknown>[]) => lines.filter((l) => l.msg === 'request' || l.msg === 'incoming request' || l.msg === 'request completed');

  it('by default, logs one access line per request: method, route, status, ms and request id, never the query string', async () => {
    const lines: Record<string, unknown>[] = [];
    const app = await serverLoggingTo(lines);
    await app.inject({ method: 'GET', url: '/api/public/?access_token=secret-in-query' });
    await app.inject({ method: 'GET', url: '/api/protected/', headers: { authorization: 'Bearer not-a-token' } });
    await app.inject({ method: 'GET', url: '/no/such/path?password=hunter2' });
    await app.close();
    const access = requestLines(lines);
    expect(access.map(({ method, route, status }) => ({ method, route, status }))).toEqual([
      { method: 'GET', route: '/api/public/', status: 200 },
      { method: 'GET', route: '/api/protected/', status: 401 },
      { method: 'GET', route: '/no/such/path', status: 404 },
    ]);
    for (const line of access) {
      expect(line).toEqual(expect.objectContaining({ msg: 'request', level: 30, reqId: expect.any(String), ms: expect.any(Number) }));
      expect(Object.keys(line).sort()).toEqual(['hostname', 'level', 'method', 'ms', 'msg', 'pid', 'reqId', 'route', 'status', 'time']);
    }
    expect(JSON.stringify(lines)).not.toMatch(/secret-in-query|hunter2|not-a-token/);
  });

  it('when set, logs no request line but still logs errors, without a deprecation warning', async () => {
    const warnings: Error[] = [];
    const onWarning = (w: Error) => warnings.push(w);
    process.on('warning', onWarning);
    try {
      const lines: Record<string, unknown>[] = [];
      const app = await serverLoggingTo(lines, true);
      const ok = await app.inject({ method: 'GET', url: '/api/public/' });
      expect(ok.statusCode).toBe(200);
      expect(requestLines(lines)).toEqual([]);
      const failed = await app.inject({ method: 'GET', url: '/fails' });
      expect(failed.statusCode).toBe(500);
      expect(lines).toContainEqual(expect.objectContaining({ msg: 'request failed', level: 50 }));
      expect(requestLines(lines)).toEqual([]);
      await app.close();
      await new Promise((r) => setImmediate(r)); // process warnings are emitted on a later tick
    } finally {
      process.off('warning', onWarning);
    }
    // Fastify's top-level disableRequestLogging is deprecated (FSTDEP023): the server must not print that warning.
    expect(warnings.map((w) => (w as Error & { code?: string }).code)).not.toContain('FSTDEP023');
  });

  it('set to false, logs as the default does', async () => {
    const lines: Record<string, unknown>[] = [];
    const app = await serverLoggingTo(lines, false);
    await app.inject({ method: 'GET', url: '/api/public/' });
    await app.close();
    expect(requestLines(lines).map((l) => l.msg)).toEqual(['request']);
  });
});

describe('jwkUrl: verification with keys from a remote JWKS', () => {
  let jwks: Server | undefined;
  afterAll(() => new Promise<void>((r) => (jwks ? jwks.close(() => r()) : r())));

  it('accepts a token signed by a key published at jwkUrl (by kid) and refuses an unknown kid', async () => {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    const jwk = { ...(await exportJWK(publicKey)), kid: 'remote-1', alg: 'ES256', use: 'sig' };
    let fetches = 0;
    jwks = createServer((_req, res) => {
      fetches++;
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ keys: [jwk] }));
    });
    await new Promise<void>((r) => jwks!.listen(0, '127.0.0.1', () => r()));
    const port = (jwks.address() as { port: number }).port;
    const store = createMemoryStore();
    const u = await store.createUser({ username: 'alice', passwordHash: '' });
    const restjwt = createRestJwt({ store, settings: { algorithm: 'ES256', jwkUrl: `http://127.0.0.1:${port}/jwks.json` } });
    const app = await buildServer({ restjwt, logger: false });
    const now = Math.floor(Date.now() / 1000);
    const claims = { token_type: 'access', exp: now + 60, iat: now, jti: 'j'.repeat(32), user_id: u.id };
    const good = signCompact('ES256', privateKey, claims, 'remote-1');
    const r1 = await app.inject({ method: 'GET', url: '/api/protected/', headers: { authorization: `Bearer ${good}` } });
    expect(r1.statusCode).toBe(200);
    await app.inject({ method: 'GET', url: '/api/protected/', headers: { authorization: `Bearer ${good}` } });
    expect(fetches).toBe(1);
    const other = generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey;
    for (const bad of [signCompact('ES256', other, claims, 'remote-1'), signCompact('ES256', other, claims, 'unknown-kid')]) {
      const r = await app.inject({ method: 'GET', url: '/api/protected/', headers: { authorization: `Bearer ${bad}` } });
      expect(r.statusCode).toBe(401);
    }
    // issuing is refused clearly: this service has no signing key
    const login = await app.inject({ method: 'POST', url: '/api/token/', payload: { username: 'alice', password: 'x' } });
    expect(login.statusCode).toBe(503);
    expect(login.json()).toMatchObject({ code: 'signing_disabled' });
    await app.close();
  });
});
