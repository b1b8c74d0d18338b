/**
 * A malicious page against cookie mode: the browser attaches the auth cookies to its forged requests, so every
 * cookie-authenticated unsafe request must prove it is the API's own page (Origin/Referer and the double-submit
 * CSRF token), and cookies must authenticate only in the mode that says so.
 *
 * Extends test/security/cookie-csrf-throttle.test.ts (missing/wrong CSRF header, foreign Origin/Referer, Origin null)
 * with look-alike origins, unparseable referers, tossed cookies, logout, and the modes that must ignore cookies.
 */
import { createSecretKey } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mint, PASSWORD, startApp, type TestApp } from '../helpers/server.js';
import { anyType, claims, expectRefused, NOT_PROVIDED } from './attack-kit.js';

const ROTATION = { rotateRefreshTokens: true, blacklistAfterRotation: true };
const CSRF_ORIGIN = /^CSRF Failed: Origin checking failed/;
const CSRF_MISSING = /^CSRF Failed: CSRF token missing/;

const cookieValue = (headers: Headers, name: string) => {
  const c = headers.getSetCookie().find((s) => s.startsWith(`${name}=`));
  return (c ?? '').split(';')[0]?.slice(name.length + 1) ?? '';
};

describe('cookie mode "refresh"', () => {
  let t: TestApp;
  let host: string;
  beforeAll(async () => {
    t = await startApp({ ...ROTATION, cookieMode: 'refresh' });
    await t.user('alice');
    host = new URL(t.url).host;
  });
  afterAll(() => t?.close());

  /** A fresh session: the refresh and CSRF cookie values and the Cookie header a browser would send. */
  async function session() {
    const r = await t.post('/api/token/', { username: 'alice', password: PASSWORD });
    expect(r.status).toBe(200);
    const refresh = cookieValue(r.headers, '__Secure-restjwt-refresh');
    const csrf = cookieValue(r.headers, '__Host-restjwt-csrf');
    expect(refresh.length).toBeGreaterThan(20);
    return { refresh, csrf, jar: `__Secure-restjwt-refresh=${refresh}; __Host-restjwt-csrf=${csrf}`, access: r.json.access as string };
  }

  it.each([
    ['an Origin that extends our host (evil subdomain-style suffix)', (h: string) => ({ origin: `http://${h}.evil.example` })],
    ['an Origin with our host as userinfo', (h: string) => ({ origin: `http://${h}@evil.example` })],
    ['an Origin with our host in the path', (h: string) => ({ origin: `http://evil.example/${h}` })],
    ['a foreign Origin beside our own Referer (Origin wins)', (h: string) => ({ origin: 'https://evil.example', referer: `http://${h}/app` })],
    ['a foreign Referer quoting our URL in its query', (h: string) => ({ referer: `https://evil.example/?next=http://${h}/` })],
    ['an unparseable Referer', () => ({ referer: 'not a url at all' })],
  ])('a cookie refresh with %s and the right CSRF token is 403, nothing rotated', async (_n, extra) => {
    const s = await session();
    const r = await expectRefused(t, () => t.post('/api/token/refresh/', {}, { cookie: s.jar, 'x-csrf-token': s.csrf, ...extra(host) }), { status: 403, code: 'csrf_failed' }, [s.refresh]);
    expect(r.json.detail).toMatch(CSRF_ORIGIN);
    // the cookie was not spent
    expect((await t.post('/api/token/refresh/', {}, { cookie: s.jar, 'x-csrf-token': s.csrf, origin: `http://${host}` })).status).toBe(200);
  });

  it.each([
    ['a CSRF header but no CSRF cookie', (s: { refresh: string; csrf: string }) => ({ cookie: `__Secure-restjwt-refresh=${s.refresh}`, 'x-csrf-token': s.csrf })],
    ['an empty CSRF cookie and an empty header', (s: { refresh: string }) => ({ cookie: `__Secure-restjwt-refresh=${s.refresh}; __Host-restjwt-csrf=`, 'x-csrf-token': '' })],
    ['a tossed unprefixed CSRF cookie matching the header', (s: { refresh: string }) => ({ cookie: `__Secure-restjwt-refresh=${s.refresh}; restjwt-csrf=tossed`, 'x-csrf-token': 'tossed' })],
    ['the CSRF cookie value as a prefix of the header', (s: { refresh: string; csrf: string }) => ({ cookie: `__Secure-restjwt-refresh=${s.refresh}; __Host-restjwt-csrf=${s.csrf.slice(0, 8)}`, 'x-csrf-token': s.csrf })],
  ])('a cookie refresh with %s is 403, nothing rotated', async (_n, headers) => {
    const s = await session();
    const r = await expectRefused(t, () => t.post('/api/token/refresh/', {}, { origin: `http://${host}`, ...headers(s) }), { status: 403, code: 'csrf_failed' }, [s.refresh]);
    expect(r.json.detail).toMatch(CSRF_MISSING);
  });

  it('a forged cross-site logout (cookie, no CSRF token) is 403 and blacklists nothing', async () => {
    const s = await session();
    await expectRefused(t, () => t.post('/api/token/blacklist/', {}, { cookie: s.jar, origin: 'https://evil.example' }), { status: 403, code: 'csrf_failed' }, [s.refresh]);
    await expectRefused(t, () => t.post('/api/token/blacklist/', {}, { cookie: s.jar }), { status: 403, code: 'csrf_failed' }, [s.refresh]);
    expect((await t.post('/api/token/refresh/', {}, { cookie: s.jar, 'x-csrf-token': s.csrf, origin: `http://${host}` })).status).toBe(200);
  });

  it('the access cookie name does not authenticate in "refresh" mode', async () => {
    const s = await session();
    await expectRefused(t, () => t.get('/api/protected/', { cookie: `__Host-restjwt-access=${s.access}` }), { status: 401, body: NOT_PROVIDED }, [s.access]);
  });
});

describe('cookie mode "both"', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startApp({ ...ROTATION, cookieMode: 'both' });
    await t.user('alice');
  });
  afterAll(() => t?.close());

  it('a forged Authorization header beside a genuine access cookie is refused (the header wins, and is checked)', async () => {
    const r = await t.post('/api/token/', { username: 'alice', password: PASSWORD });
    const access = cookieValue(r.headers, '__Host-restjwt-access');
    expect(access.length).toBeGreaterThan(20);
    const forged = mint(claims('access'), createSecretKey(Buffer.alloc(64, 4)));
    await expectRefused(
      t,
      () => t.get('/api/protected/', { cookie: `__Host-restjwt-access=${access}`, authorization: `Bearer ${forged}` }),
      { status: 401, body: anyType('Token is invalid') },
      [access, forged],
    );
  });

  it('a forged access cookie is refused', async () => {
    const forged = mint(claims('access'), createSecretKey(Buffer.alloc(64, 4)));
    await expectRefused(t, () => t.get('/api/protected/', { cookie: `__Host-restjwt-access=${forged}` }), { status: 401, body: anyType('Token is invalid') }, [forged]);
  });
});

describe('cookie mode off (the default)', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startApp(ROTATION);
    await t.user('alice');
  });
  afterAll(() => t?.close());

  it('the auth cookie names carry no credential: no authentication, no refresh, no logout', async () => {
    const { access, refresh } = await t.login();
    const jar = `__Host-restjwt-access=${access}; __Secure-restjwt-refresh=${refresh}; __Host-restjwt-csrf=x; restjwt-access=${access}; restjwt-refresh=${refresh}`;
    await expectRefused(t, () => t.get('/api/protected/', { cookie: jar }), { status: 401, body: NOT_PROVIDED }, [access, refresh]);
    const required = { refresh: ['This field is required.'] };
    await expectRefused(t, () => t.post('/api/token/refresh/', {}, { cookie: jar, 'x-csrf-token': 'x' }), { status: 400, body: required }, [refresh]);
    await expectRefused(t, () => t.post('/api/token/blacklist/', {}, { cookie: jar, 'x-csrf-token': 'x' }), { status: 400, body: required }, [refresh]);
  });
});
