/**
 * What an attacker (or anyone reading the logs) learns from refusals: error bodies and server logs never contain a
 * token, a password, a stack trace or SQL. Runs a battery of bad requests against the reference server with its
 * default JSON logger (pino, secrets redacted) writing to a captured stream, plus restjwt's own `log` events.
 *
 * Extends test/http/logging-and-jwks.test.ts (a happy path and one malformed body, through inject) with real HTTP,
 * the SQLite store, every kind of refusal, credentials in the URL, and a real database failure.
 */
import { createSecretKey } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import Database from 'better-sqlite3';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRestJwt, type LogEvent, type RestJwt, type Store } from '@restjwt/core';
import { buildServer, DEFAULT_LOGGER } from '../../packages/restjwt/src/server/app.js';
import { openSqliteStore } from '@restjwt/sqlite';
import { answer, fastHasher, mint, PASSWORD, SECRET, type Answer } from '../helpers/server.js';
import { claims } from './attack-kit.js';

/** A stack frame, in any rendering. */
const STACK = /\n\s+at |\bat [^\s]+ \(?[^\s()]*:\d+:\d+\)?|node:internal|\.[jt]s:\d+:\d+/;
/** An SQL statement. */
const SQL_STATEMENT = /\b(SELECT\s.+\sFROM|INSERT\s+INTO|UPDATE\s+\w+\s+SET|DELETE\s+FROM|CREATE\s+TABLE|DROP\s+TABLE)\b/i;
/** A JWT-shaped string. */
const JWT_SHAPED = /eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}/;

const ATTACKER_PASSWORD = 'hunter2-the-attackers-guess';

let dir: string;
let file: string;
let store: Store;
let restjwt: RestJwt;
let app: FastifyInstance;
let base: string;
const lines: string[] = [];
const events: LogEvent[] = [];
const bodies: Array<{ what: string; r: Answer }> = [];
/** Every token issued during the run (the genuine ones: a log must not hold them either). */
const issued: string[] = [];

async function send(what: string, path: string, init: RequestInit = {}): Promise<Answer> {
  const r = await answer(await fetch(base + path, { redirect: 'manual', ...init }));
  bodies.push({ what, r });
  return r;
}
const json = (body: unknown, extra: Record<string, string> = {}): RequestInit => ({
  method: 'POST',
  body: typeof body === 'string' ? body : JSON.stringify(body),
  headers: { 'content-type': 'application/json', ...extra },
});

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'restjwt-leaks-'));
  file = join(dir, 'db.sqlite3');
  store = await openSqliteStore({ filename: file });
  restjwt = createRestJwt({
    store,
    hasher: fastHasher,
    settings: { signingKey: SECRET, rotateRefreshTokens: true, blacklistAfterRotation: true },
    log: (e) => events.push(e),
  });
  const stream = new Writable({
    write(chunk, _enc, done) {
      lines.push(...String(chunk).split('\n').filter(Boolean));
      done();
    },
  });
  app = await buildServer({ restjwt, logger: { ...(DEFAULT_LOGGER as object), stream } });
  await app.listen({ host: '127.0.0.1', port: 0 });
  base = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
  await store.createUser({ username: 'alice', passwordHash: await fastHasher.hash(PASSWORD) });
  await store.createUser({ username: 'sleepy', passwordHash: await fastHasher.hash(PASSWORD), isActive: false });

  const login = await send('login', '/api/token/', json({ username: 'alice', password: PASSWORD }));
  const { access, refresh } = login.json as { access: string; refresh: string };
  issued.push(access, refresh);
  const rotated = await send('rotation', '/api/token/refresh/', json({ refresh }));
  issued.push(rotated.json.access, rotated.json.refresh);
  const forged = mint(claims('access'), createSecretKey(Buffer.alloc(64, 5)));
  const forgedRefresh = mint(claims('refresh'), createSecretKey(Buffer.alloc(64, 5)));
  issued.push(forged, forgedRefresh);

  // The battery of bad requests.
  await send('wrong password', '/api/token/', json({ username: 'alice', password: ATTACKER_PASSWORD }));
  await send('unknown user', '/api/token/', json({ username: 'nobody', password: ATTACKER_PASSWORD }));
  await send('inactive user', '/api/token/', json({ username: 'sleepy', password: PASSWORD }));
  await send('malformed JSON holding the password', '/api/token/', json(`{"username":"alice","password":"${PASSWORD}"`));
  await send('a form with the wrong password', '/api/token/', {
    method: 'POST',
    body: new URLSearchParams({ username: 'alice', password: ATTACKER_PASSWORD }).toString(),
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
  });
  await send('413 holding the password', '/api/token/', json({ username: 'alice', password: PASSWORD, pad: 'x'.repeat(70_000) }));
  await send('415 holding the password', '/api/token/', { method: 'POST', body: JSON.stringify({ username: 'alice', password: PASSWORD }), headers: { 'content-type': 'text/plain' } });
  await send('405 with credentials', '/api/token/', { method: 'PUT', body: JSON.stringify({ username: 'alice', password: PASSWORD }), headers: { 'content-type': 'application/json' } });
  await send('forged Bearer token', '/api/protected/', { headers: { authorization: `Bearer ${forged}` } });
  await send('refresh token as Bearer', '/api/protected/', { headers: { authorization: `Bearer ${rotated.json.refresh}` } });
  await send('genuine token, wrong scheme', '/api/protected/', { headers: { authorization: `bearer ${access}` } });
  await send('genuine token, three parts', '/api/protected/', { headers: { authorization: `Bearer ${access} ${access}` } });
  await send('replayed refresh token', '/api/token/refresh/', json({ refresh }));
  await send('replayed refresh token on verify', '/api/token/verify/', json({ token: refresh }));
  await send('forged refresh token', '/api/token/refresh/', json({ refresh: forgedRefresh }));
  await send('forged logout', '/api/token/blacklist/', json({ refresh: forgedRefresh }));
  await send('access token on logout', '/api/token/blacklist/', json({ refresh: access }));
  await send('garbage on verify', '/api/token/verify/', json({ token: 'not-a-token' }));
  await send('token with a bad field type', '/api/token/verify/', json({ token: { access } }));
  await send('17 KB header', '/api/protected/', { headers: { authorization: `Bearer ${'A'.repeat(17 * 1024)}` } });
  await send('unknown path with a token', `/api/nothing/?token=x`, { headers: { authorization: `Bearer ${access}` } });
  await send('redirect with a body', '/api/token', json({ username: 'alice', password: PASSWORD }));
  // Credentials where they do not belong: in the URL.
  await send('access token in the query', `/api/protected/?access_token=${access}`);
  await send('password in the query', `/api/token/?username=alice&password=${encodeURIComponent(PASSWORD)}`, json({}));
  await send('refresh token in the query', `/api/token/refresh/?refresh=${rotated.json.refresh}`, json({}));
});

afterAll(async () => {
  await app?.close();
  await store?.close().catch(() => {});
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
});

/** The secrets that must appear nowhere: passwords, and every token and token signature seen in the run. */
function secrets(): string[] {
  return [PASSWORD, encodeURIComponent(PASSWORD), ATTACKER_PASSWORD, ...issued, ...issued.map((t) => t.split('.')[2] as string)];
}

describe('error bodies', () => {
  it('never contain a token, a password, a stack trace or SQL', () => {
    const refusals = bodies.filter((b) => b.r.status >= 300);
    expect(refusals.length).toBeGreaterThan(20);
    for (const { what, r } of refusals) {
      for (const s of secrets()) expect(r.text.includes(s), `${what}: ${r.text}`).toBe(false);
      expect(r.text, what).not.toMatch(JWT_SHAPED);
      expect(r.text, what).not.toMatch(STACK);
      expect(r.text, what).not.toMatch(SQL_STATEMENT);
      expect(r.text, what).not.toMatch(/sqlite|better-sqlite3|fastify|node_modules|\/src\//i);
      expect(r.headers.get('set-cookie'), what).toBeNull();
    }
  });
});

describe('restjwt log events', () => {
  it('name users and jtis, never a token, a password or a stack', () => {
    expect(events.some((e) => e.event === 'login_failed')).toBe(true);
    for (const e of events) {
      const text = JSON.stringify(e);
      for (const s of secrets()) expect(text.includes(s), text).toBe(false);
      expect(text).not.toMatch(JWT_SHAPED);
      expect(text).not.toMatch(STACK);
      expect(text).not.toMatch(SQL_STATEMENT);
    }
  });
});

describe('the server log (pino JSON lines)', () => {
  it('is JSON, and holds no token, password, stack or SQL from the request bodies and headers', () => {
    // one access line per request (the attacks above sent more than 20), plus start-up and error lines
    expect(lines.filter((l) => (JSON.parse(l) as { msg?: string }).msg === 'request').length).toBeGreaterThan(20);
    for (const line of lines) {
      expect(() => JSON.parse(line)).not.toThrow();
      const entry = JSON.parse(line) as { req?: { url?: string }; route?: string };
      // The URL (an error line's req.url, an access line's route) is checked in the next test; everything else here.
      const rest = JSON.stringify({ ...entry, route: undefined, req: entry.req === undefined ? undefined : { ...entry.req, url: undefined } });
      for (const s of secrets()) expect(rest.includes(s), line).toBe(false);
      expect(rest).not.toMatch(JWT_SHAPED);
      expect(rest).not.toMatch(STACK);
      expect(rest).not.toMatch(SQL_STATEMENT);
    }
  });

  // FINDING: Fastify's default request serializer logs `req.url` with its query string, so a client that puts a
  // token or a password in the URL (RFC 6750 §2.3's access_token=, a misconfigured form) has it written to the log
  // in clear text. The README promises "Logs are JSON lines without tokens, passwords or bodies".
  it('never logs a token or a password that a client put in the query string', () => {
    const urls = lines
      .map((l) => JSON.parse(l) as { req?: { url?: string }; route?: string })
      .flatMap((e) => [e.req?.url, e.route])
      .filter((u): u is string => u !== undefined);
    expect(urls.some((u) => u.startsWith('/api/protected/'))).toBe(true);
    for (const url of urls) {
      for (const s of secrets()) expect(url.includes(s), `logged URL: ${url}`).toBe(false);
      expect(url, `logged URL: ${url}`).not.toMatch(JWT_SHAPED);
    }
  });
});

describe('a real database failure', () => {
  it('answers a generic 500 (or 503) and logs neither SQL nor a stack', async () => {
    const before = { lines: lines.length, events: events.length };
    // Another connection breaks the schema under the running server.
    const db = new Database(file);
    db.pragma('foreign_keys = OFF');
    db.exec('DROP TABLE restjwt_blacklisted_token');
    db.close();
    const { refresh } = (await send('login before the failure', '/api/token/', json({ username: 'alice', password: PASSWORD }))).json as { refresh: string };
    if (refresh !== undefined) issued.push(refresh);
    const r = await send('refresh during the failure', '/api/token/refresh/', json({ refresh: refresh ?? 'x' }));
    expect([500, 503]).toContain(r.status);
    expect(r.json).toMatchObject({ code: r.status === 500 ? 'server_error' : 'store_unavailable' });
    for (const s of secrets()) expect(r.text.includes(s)).toBe(false);
    expect(r.text).not.toMatch(STACK);
    expect(r.text).not.toMatch(/sqlite|restjwt_|no such table/i);
    const newLogs = [...lines.slice(before.lines), ...events.slice(before.events).map((e) => JSON.stringify(e))];
    expect(newLogs.length).toBeGreaterThan(0);
    for (const line of newLogs) {
      for (const s of secrets()) expect(line.includes(s), line).toBe(false);
      expect(line).not.toMatch(STACK);
      expect(line).not.toMatch(SQL_STATEMENT);
    }
  });
});
