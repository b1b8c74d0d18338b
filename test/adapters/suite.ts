/**
 * The one suite every framework adapter passes: the same requests, the same assertions. Each adapter's test file
 * builds the routes below in its framework and hands over a client; wire answers must not depend on the framework.
 *
 *   /api/token/…                the token endpoints (restjwt.endpoints) under /api/
 *   GET /api/protected/         guard(restjwt)                                              → views.protected
 *   GET /api/staff/             guard(restjwt, isStaff)                                     → views.staff
 *   GET /api/whoami/            authenticate(restjwt)   (anonymous allowed)                 → views.whoami
 *   GET /api/stateless/         guard(restjwt, { stateless: true })                         → views.stateless
 *   GET /api/stateless/staff/   guard(restjwt, { stateless: true, permissions: [isStaff] }) → views.stateless
 */
import { createSecretKey } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { ExampleOptions } from '../../examples/settings.js';
import { createRestJwt, isTokenUser, type Authentication, type RestJwt, type TokenUser, type UserRecord } from '@restjwt/core';
import { createMemoryRateCounter, createMemoryStore, type MemoryStore } from '@restjwt/core/memory';
import { claimsOf, fastHasher, heldBurst, mint, PASSWORD, SECRET } from '../helpers/server.js';
import { rawAnswer, rawHttp } from '../security/attack-kit.js';

export interface Answer {
  status: number;
  headers: Headers;
  text: string;
  /** Parsed JSON body, or undefined when the body is not JSON. */
  json: any;
}

export interface RequestInit {
  body?: string;
  headers?: Record<string, string>;
}

/** A framework's way of sending a request to an app without a network (inject, app.request, supertest). */
export interface Client {
  request(method: string, path: string, init?: RequestInit): Promise<Answer>;
  close(): Promise<void>;
}

/** The suite's routes listening on a real port, for what only a socket can send (two copies of a header). */
export interface Listening {
  /** `http://127.0.0.1:<port>` */
  url: string;
  close(): Promise<void>;
}

export interface AdapterHarness {
  /** The suite's routes (above) in this framework, for this service. */
  start(restjwt: RestJwt): Promise<Client>;
  /** The same routes on a real HTTP server (loopback, a free port). */
  listen(restjwt: RestJwt): Promise<Listening>;
  /** `examples/<framework>/app.ts`'s `buildApp(options)`. */
  example(options: ExampleOptions): Promise<Client>;
}

/** Any framework's answer, in one shape. */
export function toAnswer(status: number, headers: Record<string, string | string[] | number | undefined>, text: string): Answer {
  const h = new Headers();
  for (const [k, v] of Object.entries(headers)) if (v !== undefined) h.set(k, Array.isArray(v) ? v.join(', ') : String(v));
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status, headers: h, text, json };
}

type AnyAuth = Authentication<UserRecord | TokenUser> | null;

/** The suite's views: what each route answers, so that every framework answers the same. */
export const views = {
  protected: () => ({ message: 'Hello, authenticated user!' }),
  staff: () => ({ message: 'Hello, staff!' }),
  whoami: (auth: AnyAuth) => ({ user: auth?.user.username ?? null }),
  stateless: (auth: AnyAuth) => {
    const user = auth?.user;
    if (!isTokenUser(user)) return { tokenUser: false };
    return { tokenUser: true, id: user.id, username: user.username, isActive: user.isActive, isStaff: user.isStaff, name: user.claims.name ?? null };
  },
};

const key = createSecretKey(Buffer.from(SECRET));
const now = () => Math.floor(Date.now() / 1000);
const NOT_PROVIDED = { detail: 'Authentication credentials were not provided.', code: 'not_authenticated' };
const BAD_HEADER = { detail: 'Authorization header must contain two space-delimited values', code: 'bad_authorization_header' };
const BLACKLISTED = { detail: 'Token is blacklisted', code: 'token_not_valid' };
const DUPLICATE = { detail: 'The request has more than one Authorization header. Send exactly one.', code: 'duplicate_authorization_header' };
const DENIED = { detail: 'You do not have permission to perform this action.', code: 'permission_denied' };
const anyType = (message: string) => ({
  detail: 'Given token not valid for any token type',
  code: 'token_not_valid',
  messages: [{ token_class: 'AccessToken', token_type: 'access', message }],
});
const access = (claims: Record<string, unknown> = {}) =>
  mint({ token_type: 'access', exp: now() + 300, iat: now(), jti: 'a'.repeat(32), user_id: '1', ...claims }, key);
const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

/** The service the suite runs against: memory store, rotation on, the seed's custom claims (and `is_staff`). */
async function suiteService(): Promise<{ restjwt: RestJwt; store: MemoryStore }> {
  const store = createMemoryStore();
  const users: [string, { isActive?: boolean; isStaff?: boolean }][] = [['alice', {}], ['sleepy', { isActive: false }], ['boss', { isStaff: true }]];
  for (const [username, extra] of users) await store.createUser({ username, passwordHash: await fastHasher.hash(PASSWORD), ...extra });
  const restjwt = createRestJwt({
    store,
    hasher: fastHasher,
    settings: { signingKey: SECRET, rotateRefreshTokens: true, blacklistAfterRotation: true },
    hooks: { customClaims: (u) => ({ name: u.username, ...(u.isStaff ? { is_staff: true } : {}) }) },
  });
  return { restjwt, store };
}

function helpers(client: () => Client) {
  const post = (path: string, body: unknown, headers: Record<string, string> = {}) =>
    client().request('POST', path, {
      body: typeof body === 'string' ? body : JSON.stringify(body),
      headers: { 'content-type': 'application/json', ...headers },
    });
  const get = (path: string, headers: Record<string, string> = {}) => client().request('GET', path, { headers });
  const login = async (username = 'alice'): Promise<{ access: string; refresh: string }> => {
    const r = await post('/api/token/', { username, password: PASSWORD });
    if (r.status !== 200) throw new Error(`login failed: ${r.status} ${r.text}`);
    return r.json as { access: string; refresh: string };
  };
  return { post, get, login };
}

export function adapterSuite(name: string, harness: AdapterHarness): void {
  describe(`${name} adapter (shared suite)`, () => {
    let client: Client;
    let store: MemoryStore;
    const { post, get, login } = helpers(() => client);
    beforeAll(async () => {
      const service = await suiteService();
      store = service.store;
      client = await harness.start(service.restjwt);
    });
    afterAll(() => client.close());

    describe('token endpoints', () => {
      it('obtain pair answers {"refresh","access"} with the core headers and records the refresh token', async () => {
        const before = await store.countTokens();
        const r = await post('/api/token/', { username: 'alice', password: PASSWORD });
        expect(r.status).toBe(200);
        expect(Object.keys(r.json)).toEqual(['refresh', 'access']);
        expect(r.headers.get('content-type')).toMatch(/^application\/json/);
        expect(r.headers.get('cache-control')).toBe('no-store');
        expect(r.headers.get('x-content-type-options')).toBe('nosniff');
        expect(claimsOf(r.json.access)).toMatchObject({ token_type: 'access', user_id: '1', name: 'alice' });
        expect((await store.countTokens()).outstanding).toBe(before.outstanding + 1);
      });

      it('obtain pair takes a urlencoded body, as DRF does', async () => {
        const r = await client.request('POST', '/api/token/', {
          body: `username=alice&password=${encodeURIComponent(PASSWORD)}`,
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
        });
        expect(r.status).toBe(200);
        expect(r.json.access).toBeTypeOf('string');
      });

      it('obtain pair refuses bad credentials and inactive users alike with 401', async () => {
        for (const body of [{ username: 'alice', password: 'wrong' }, { username: 'nobody', password: PASSWORD }, { username: 'sleepy', password: PASSWORD }]) {
          const r = await post('/api/token/', body);
          expect(r.status).toBe(401);
          expect(r.json).toEqual({ detail: 'No active account found with the given credentials', code: 'no_active_account' });
          expect(r.headers.get('www-authenticate')).toBe('Bearer realm="api"');
        }
      });

      it('answers DRF field errors with 400', async () => {
        const r = await post('/api/token/', { username: '' });
        expect(r.status).toBe(400);
        expect(r.json).toEqual({ username: ['This field may not be blank.'], password: ['This field is required.'] });
        expect((await post('/api/token/refresh/', {})).json).toEqual({ refresh: ['This field is required.'] });
        expect((await post('/api/token/', '[1]')).json).toEqual({ non_field_errors: ['Invalid data. Expected a dictionary, but got list.'] });
      });

      it('refresh rotates: a new pair, the old refresh token blacklisted', async () => {
        const { refresh } = await login();
        const r = await post('/api/token/refresh/', { refresh });
        expect(r.status).toBe(200);
        expect(Object.keys(r.json)).toEqual(['access', 'refresh']);
        expect(claimsOf(r.json.refresh).jti).not.toBe(claimsOf(refresh).jti);
        const reuse = await post('/api/token/refresh/', { refresh });
        expect(reuse.status).toBe(401);
        expect(reuse.json).toEqual(BLACKLISTED);
        // Reuse of a rotated-out token revokes its family: the successor stops working too.
        expect((await post('/api/token/refresh/', { refresh: r.json.refresh })).status).toBe(401);
      });

      it('logout-all: 401 without a Bearer access token; with one, {} and every refresh token of the user refused', async () => {
        const a = await login();
        const b = await login();
        const anon = await post('/api/token/logout-all/', {});
        expect(anon.status).toBe(401);
        expect(anon.json).toEqual({ detail: 'Authentication credentials were not provided.', code: 'not_authenticated' });
        const r = await post('/api/token/logout-all/', {}, { authorization: `Bearer ${a.access}` });
        expect(r.status).toBe(200);
        expect(r.json).toEqual({});
        for (const refresh of [a.refresh, b.refresh]) expect((await post('/api/token/refresh/', { refresh })).json).toEqual(BLACKLISTED);
      });

      it('verify answers {} for a valid token and 401 for an invalid one', async () => {
        const { access: a } = await login();
        const ok = await post('/api/token/verify/', { token: a });
        expect(ok.status).toBe(200);
        expect(ok.json).toEqual({});
        const bad = await post('/api/token/verify/', { token: 'garbage' });
        expect(bad.status).toBe(401);
        expect(bad.json).toEqual({ detail: 'Token is invalid', code: 'token_not_valid' });
      });

      it('blacklist logs out: {} once, then the refresh token is refused everywhere', async () => {
        const { refresh } = await login();
        const r = await post('/api/token/blacklist/', { refresh });
        expect(r.status).toBe(200);
        expect(r.json).toEqual({});
        expect((await post('/api/token/refresh/', { refresh })).json).toEqual(BLACKLISTED);
        expect((await post('/api/token/blacklist/', { refresh })).json).toEqual(BLACKLISTED);
        expect((await post('/api/token/verify/', { token: refresh })).json).toEqual({ non_field_errors: ['Token is blacklisted'] });
      });

      it('sliding obtain answers {"token"}; sliding refresh keeps jti and refresh_exp', async () => {
        const s = await post('/api/token/sliding/', { username: 'alice', password: PASSWORD });
        expect(s.status).toBe(200);
        expect(Object.keys(s.json)).toEqual(['token']);
        const r = await post('/api/token/sliding/refresh/', { token: s.json.token });
        expect(r.status).toBe(200);
        expect(claimsOf(r.json.token)).toMatchObject({ jti: claimsOf(s.json.token).jti, refresh_exp: claimsOf(s.json.token).refresh_exp });
        expect((await post('/api/token/sliding/refresh/', {})).json).toEqual({ token: ['This field is required.'] });
      });
    });

    describe('transport, identical whatever the framework', () => {
      it.each(['GET', 'PUT', 'PATCH', 'DELETE'])('%s on a token endpoint is 405 with Allow', async (method) => {
        const r = await client.request(method, '/api/token/refresh/');
        expect(r.status).toBe(405);
        expect(r.json).toEqual({ detail: `Method "${method}" not allowed.`, code: 'method_not_allowed' });
        expect(r.headers.get('allow')).toBe('POST, OPTIONS');
      });

      it('OPTIONS describes the endpoint', async () => {
        const r = await client.request('OPTIONS', '/api/token/');
        expect(r.status).toBe(200);
        expect(r.json).toMatchObject({ name: 'Token Obtain Pair', actions: { POST: { username: { type: 'string', required: true } } } });
      });

      it.each([
        ['text/plain', 'text/plain'],
        ['application/xml', 'application/xml'],
      ])('refuses %s with 415', async (ct, shown) => {
        const r = await client.request('POST', '/api/token/', { body: 'username=alice', headers: { 'content-type': ct } });
        expect(r.status).toBe(415);
        expect(r.json).toEqual({ detail: `Unsupported media type "${shown}" in request.`, code: 'unsupported_media_type' });
      });

      it('answers invalid JSON with 400 parse_error, without echoing the body', async () => {
        const r = await post('/api/token/', `{"username":"alice","password":"${PASSWORD}"`);
        expect(r.status).toBe(400);
        expect(r.json).toEqual({ detail: 'JSON parse error - the body is not valid JSON.', code: 'parse_error' });
        expect(r.text).not.toContain(PASSWORD);
      });

      it('refuses a body over maxBodyBytes with 413 and issues nothing', async () => {
        const before = JSON.stringify(await store.countTokens());
        const r = await post('/api/token/', { username: 'alice', password: PASSWORD, pad: 'x'.repeat(70_000) });
        expect(r.status).toBe(413);
        expect(r.json).toEqual({ detail: 'Request body is larger than 65536 bytes.', code: 'request_too_large' });
        expect(JSON.stringify(await store.countTokens())).toBe(before);
      });

      it('redirects a missing trailing slash with 308, method and query kept', async () => {
        const r = await client.request('POST', '/api/token/refresh?next=1');
        expect(r.status).toBe(308);
        expect(r.headers.get('location')).toBe('/api/token/refresh/?next=1');
        expect((await client.request('POST', '/api/token')).headers.get('location')).toBe('/api/token/');
      });

      it('speaks the language the request asks for, when configured (the core negotiates)', async () => {
        const r = await post('/api/token/verify/', { token: 'x' }, { 'accept-language': 'fr' });
        expect(r.json.detail).toBe('Token is invalid'); // only "en" is configured here
      });
    });

    describe('authentication and permissions', () => {
      it('guard lets a valid Bearer access token through to the view', async () => {
        const { access: a } = await login();
        const r = await get('/api/protected/', bearer(a));
        expect(r.status).toBe(200);
        expect(r.json).toEqual(views.protected());
      });

      const expect401 = async (path: string, headers: Record<string, string>, body: unknown) => {
        const r = await get(path, headers);
        expect(r.status).toBe(401);
        expect(r.json).toEqual(body);
        expect(r.headers.get('www-authenticate')).toBe('Bearer realm="api"');
      };

      it.each([
        ['no header', {}],
        ['another scheme (anonymous)', { authorization: 'Token abc' }],
        ['Basic credentials (anonymous)', { authorization: 'Basic YWxpY2U6cHc=' }],
      ])('answers 401 not_authenticated for %s', async (_n, headers) => {
        await expect401('/api/protected/', headers, NOT_PROVIDED);
      });

      it.each([['Bearer'], ['Bearer a b']])('answers 401 bad_authorization_header for "%s"', async (value) => {
        await expect401('/api/protected/', { authorization: value }, BAD_HEADER);
      });

      it('answers 401 for a refresh token (wrong type)', async () => {
        const { refresh } = await login();
        await expect401('/api/protected/', bearer(refresh), anyType('Token has wrong type'));
      });

      it('answers 401 for an expired token', async () => {
        await expect401('/api/protected/', bearer(access({ exp: now() - 1 })), anyType('Token is expired'));
      });

      it('answers 401 for a token of an unknown user', async () => {
        await expect401('/api/protected/', bearer(access({ user_id: '999' })), { detail: 'User not found', code: 'user_not_found' });
      });

      it('answers 401 for an inactive user', async () => {
        await expect401('/api/protected/', bearer(access({ user_id: '2' })), { detail: 'User is inactive', code: 'user_inactive' });
      });

      it('answers 403 (no challenge) when an authenticated user fails a permission, 200 when it passes', async () => {
        const r = await get('/api/staff/', bearer((await login('alice')).access));
        expect(r.status).toBe(403);
        expect(r.json).toEqual(DENIED);
        expect(r.headers.get('www-authenticate')).toBeNull();
        const ok = await get('/api/staff/', bearer((await login('boss')).access));
        expect(ok.status).toBe(200);
        expect(ok.json).toEqual(views.staff());
        await expect401('/api/staff/', {}, NOT_PROVIDED);
      });

      it('authenticate leaves anonymous requests anonymous, attaches the user otherwise, refuses bad tokens', async () => {
        expect((await get('/api/whoami/')).json).toEqual({ user: null });
        expect((await get('/api/whoami/', { authorization: 'Token abc' })).json).toEqual({ user: null });
        expect((await get('/api/whoami/', bearer((await login()).access))).json).toEqual({ user: 'alice' });
        await expect401('/api/whoami/', bearer('garbage'), anyType('Token is invalid'));
      });
    });

    describe('stateless authentication (TokenUser)', () => {
      it('builds the user from the claims without reading the user store', async () => {
        const { access: a } = await login();
        const findUser = vi.spyOn(store, 'findUser');
        try {
          const r = await get('/api/stateless/', bearer(a));
          expect(r.status).toBe(200);
          expect(r.json).toEqual({ tokenUser: true, id: '1', username: '', isActive: true, isStaff: false, name: 'alice' });
          expect(findUser).not.toHaveBeenCalled();
        } finally {
          findUser.mockRestore();
        }
      });

      it('accepts a valid token whatever the store says (unknown or inactive user), as simplejwt does', async () => {
        expect((await get('/api/stateless/', bearer(access({ user_id: '999' })))).json).toMatchObject({ tokenUser: true, id: '999' });
        expect((await get('/api/stateless/', bearer(access({ user_id: '2' })))).status).toBe(200);
      });

      it('still refuses bad tokens and anonymous requests with the core 401s', async () => {
        await expect(get('/api/stateless/')).resolves.toMatchObject({ status: 401, json: NOT_PROVIDED });
        await expect(get('/api/stateless/', bearer(access({ exp: now() - 1 })))).resolves.toMatchObject({ status: 401, json: anyType('Token is expired') });
        const noId = mint({ token_type: 'access', exp: now() + 60, jti: 'b'.repeat(32) }, key);
        await expect(get('/api/stateless/', bearer(noId))).resolves.toMatchObject({
          status: 401,
          json: { detail: 'Token contained no recognizable user identification', code: 'token_not_valid' },
        });
      });

      it('isStaff reads the is_staff claim: 403 without it, 200 with it', async () => {
        const denied = await get('/api/stateless/staff/', bearer((await login('alice')).access));
        expect(denied.status).toBe(403);
        expect(denied.json).toEqual(DENIED);
        const ok = await get('/api/stateless/staff/', bearer((await login('boss')).access));
        expect(ok.status).toBe(200);
        expect(ok.json).toMatchObject({ id: '3', isStaff: true, name: 'boss' });
      });
    });
  });

  describe(`${name} adapter: the auth header sent more than once (real HTTP, raw socket)`, () => {
    let server: Listening;
    let store: MemoryStore;
    let service: RestJwt;
    beforeAll(async () => {
      ({ restjwt: service, store } = await suiteService());
      server = await harness.listen(service);
    });
    afterAll(() => server.close());

    /** One request with the given header lines, exactly as written, over a socket. */
    const send = async (requestLine: string, lines: readonly string[], body?: string) => {
      const head = [requestLine, 'Host: x', ...lines, 'Connection: close', ...(body === undefined ? [] : ['Content-Type: application/json', `Content-Length: ${Buffer.byteLength(body)}`])];
      return rawAnswer(await rawHttp(server.url, `${head.join('\r\n')}\r\n\r\n${body ?? ''}`));
    };
    const genuine = async () => {
      const r = await send('POST /api/token/ HTTP/1.1', [], JSON.stringify({ username: 'alice', password: PASSWORD }));
      if (r.status !== 200) throw new Error(`login: ${r.status} ${r.text}`);
      const { access, refresh } = r.json;
      return { access: access as string, refresh: refresh as string };
    };
    const forged = (token: string) => `${token.split('.').slice(0, 2).join('.')}.${'A'.repeat(43)}`;

    it('a single Authorization line authenticates over the socket as through the client', async () => {
      const { access: a } = await genuine();
      const r = await send('GET /api/protected/ HTTP/1.1', [`Authorization: Bearer ${a}`]);
      expect(r.status).toBe(200);
      expect(r.json).toEqual(views.protected());
    });

    it.each([
      ['the genuine token twice', (a: string) => [`Authorization: Bearer ${a}`, `Authorization: Bearer ${a}`]],
      ['a genuine token, then a forged one', (a: string) => [`Authorization: Bearer ${a}`, `Authorization: Bearer ${forged(a)}`]],
      ['a forged token, then the genuine one', (a: string) => [`Authorization: Bearer ${forged(a)}`, `Authorization: Bearer ${a}`]],
      ['Basic credentials, then a genuine Bearer token', (a: string) => ['Authorization: Basic YWxpY2U6cHc=', `Authorization: Bearer ${a}`]],
      ['a genuine Bearer token, then Basic credentials', (a: string) => [`Authorization: Bearer ${a}`, 'Authorization: Basic YWxpY2U6cHc=']],
      ['a genuine Bearer token, then an empty line of the same name', (a: string) => [`Authorization: Bearer ${a}`, 'Authorization:']],
      ['the names in other cases (authorization, AUTHORIZATION)', (a: string) => [`authorization: Bearer ${a}`, `AUTHORIZATION: Bearer ${a}`]],
      ['one line holding two comma-joined values (as web Headers and proxies join them)', (a: string) => [`Authorization: Bearer ${a}, Bearer ${a}`]],
    ])('%s: 400 duplicate_authorization_header on a guarded route and on authenticate, nobody authenticated', async (_n, lines) => {
      const { access: a } = await genuine();
      for (const path of ['/api/protected/', '/api/whoami/', '/api/stateless/']) {
        const r = await send(`GET ${path} HTTP/1.1`, lines(a));
        expect(r.status, `${path}: ${r.text}`).toBe(400);
        expect(r.json).toEqual(DUPLICATE);
        expect(r.headers.get('www-authenticate')).toBeNull();
      }
    });

    it('two copies that are both another scheme stay anonymous, as one would', async () => {
      const r = await send('GET /api/whoami/ HTTP/1.1', ['Authorization: Basic YWxpY2U6cHc=', 'Authorization: Basic Ym9iOnB3']);
      expect(r.status).toBe(200);
      expect(r.json).toEqual({ user: null });
    });

    it('logout-all with two Authorization lines is 400 and ends no session', async () => {
      const pair = await genuine();
      const r = await send('POST /api/token/logout-all/ HTTP/1.1', [`Authorization: Bearer ${pair.access}`, `Authorization: Bearer ${pair.access}`], '{}');
      expect(r.status).toBe(400);
      expect(r.json).toEqual(DUPLICATE);
      // A logout-all would have revoked this family: the refresh token still rotates.
      const refreshed = await send('POST /api/token/refresh/ HTTP/1.1', [], JSON.stringify({ refresh: pair.refresh }));
      expect(refreshed.status, refreshed.text).toBe(200);
    });

    it('with authHeaderName (AUTH_HEADER_NAME) set, two lines of that header are refused; Authorization lines are not read', async () => {
      const custom = createRestJwt({ store, hasher: fastHasher, settings: { signingKey: SECRET, authHeaderName: 'HTTP_X_API_AUTH' } });
      const other = await harness.listen(custom);
      try {
        const { access: a } = await genuine();
        const at = async (lines: string[]) => rawAnswer(await rawHttp(other.url, `GET /api/protected/ HTTP/1.1\r\nHost: x\r\n${lines.join('\r\n')}\r\nConnection: close\r\n\r\n`));
        expect((await at([`X-Api-Auth: Bearer ${a}`])).status).toBe(200);
        const twice = await at([`X-Api-Auth: Bearer ${a}`, `x-api-auth: Bearer ${forged(a)}`]);
        expect(twice.status).toBe(400);
        expect(twice.json).toEqual(DUPLICATE);
        expect((await at([`X-Api-Auth: Bearer ${a}`, `Authorization: Bearer ${a}`, `Authorization: Bearer ${a}`])).status).toBe(200);
      } finally {
        await other.close();
      }
    });
  });

  describe(`${name} adapter: the store going away`, () => {
    it('answers 503 store_unavailable on the token endpoints and the guard, never a bare 500', async () => {
      const { restjwt, store } = await suiteService();
      const c = await harness.start(restjwt);
      try {
        const { access: a } = await helpers(() => c).login();
        await store.close();
        for (const r of [await helpers(() => c).post('/api/token/', { username: 'alice', password: PASSWORD }), await c.request('GET', '/api/protected/', { headers: bearer(a) })]) {
          expect(r.status).toBe(503);
          expect(r.json).toMatchObject({ code: 'store_unavailable' });
          expect(r.headers.get('retry-after')).toBe('1');
        }
      } finally {
        await c.close();
      }
    });
  });

  describe(`${name} adapter: login throttling under a parallel burst`, () => {
    it('of 30 parallel wrong passwords on one account (limit 5) only 5 are checked; the other 25 get 429 with Retry-After', async () => {
      const store = createMemoryStore();
      const burst = heldBurst();
      const hasher = burst.hasher;
      await store.createUser({ username: 'alice', passwordHash: await fastHasher.hash(PASSWORD) });
      const restjwt = createRestJwt({ store, hasher, rateCounter: createMemoryRateCounter(), settings: { signingKey: SECRET, loginThrottle: true } });
      const c = await harness.start(restjwt);
      try {
        const { post } = helpers(() => c);
        const answers = await burst.run(30, (i) => post('/api/token/', { username: 'alice', password: `wrong-${i}` }));
        expect(hasher.checks()).toBe(5);
        expect(answers.filter((r) => r.status === 401)).toHaveLength(5);
        const throttled = answers.filter((r) => r.status === 429);
        expect(throttled).toHaveLength(25);
        for (const r of throttled) {
          expect(r.headers.get('retry-after')).toBe('300');
          expect(r.json).toEqual({ detail: 'Request was throttled. Expected available in 300 seconds.', code: 'throttled' });
        }
        // Locked: even the right password is refused, and not checked.
        expect((await post('/api/token/', { username: 'alice', password: PASSWORD })).status).toBe(429);
        expect(hasher.checks()).toBe(5);
      } finally {
        await c.close();
      }
    });
  });

  describe(`${name}: the seed's example (examples/*/app.ts)`, () => {
    it('obtains a pair, calls ProtectedView, refreshes with rotation, logs out', async () => {
      const store = createMemoryStore();
      await store.createUser({ username: 'alice', passwordHash: await fastHasher.hash(PASSWORD) });
      const c = await harness.example({ store, hasher: fastHasher, signingKey: SECRET });
      try {
        const { post, get, login } = helpers(() => c);
        const pair = await login();
        expect(claimsOf(pair.access)).toMatchObject({ name: 'alice', user_id: '1' });
        const hello = await get('/api/protected/', bearer(pair.access));
        expect(hello.status).toBe(200);
        expect(hello.json).toEqual({ message: 'Hello, authenticated user!' });
        const anonymous = await get('/api/protected/');
        expect(anonymous.status).toBe(401);
        expect(anonymous.json).toEqual(NOT_PROVIDED);
        const rotated = await post('/api/token/refresh/', { refresh: pair.refresh });
        expect(Object.keys(rotated.json)).toEqual(['access', 'refresh']);
        expect((await post('/api/token/verify/', { token: rotated.json.access })).json).toEqual({});
        expect((await post('/api/token/blacklist/', { refresh: rotated.json.refresh })).json).toEqual({});
        expect((await post('/api/token/refresh/', { refresh: rotated.json.refresh })).json).toEqual(BLACKLISTED);
        expect((await post('/api/token/sliding/', { username: 'alice', password: PASSWORD })).status).toBe(200);
      } finally {
        await c.close();
      }
    });
  });
}
