import Fastify from 'fastify';
import { describe, expect, it } from 'vitest';
import { guard, restjwtPlugin } from '@restjwt/fastify';
import { createRestJwt } from '@restjwt/core';
import { createMemoryRateCounter } from '../../packages/core/src/stores/memory/rate-counter.js';
import { createMemoryStore } from '@restjwt/core/memory';
import { claimsOf, fastHasher, PASSWORD, SECRET, snapshot, startApp } from '../helpers/server.js';

/** Set-Cookie values of an answer, by cookie name. */
function setCookies(headers: Headers): Record<string, string> {
  const out: Record<string, string> = {};
  for (const c of headers.getSetCookie()) out[c.slice(0, c.indexOf('='))] = c;
  return out;
}
const valueOf = (setCookie: string | undefined) => (setCookie ?? '').split(';')[0]!.split('=').slice(1).join('=');

describe('cookie mode: refresh token in an HttpOnly cookie, CSRF double submit + origin check', () => {
  const settings = { cookieMode: 'refresh', rotateRefreshTokens: true, blacklistAfterRotation: true } as const;

  async function loggedIn() {
    const t = await startApp(settings);
    await t.user('alice');
    const r = await t.post('/api/token/', { username: 'alice', password: PASSWORD });
    expect(r.status).toBe(200);
    const cookies = setCookies(r.headers);
    const refresh = valueOf(cookies['__Secure-restjwt-refresh']);
    const csrf = valueOf(cookies['__Host-restjwt-csrf']);
    const jar = `__Secure-restjwt-refresh=${refresh}; __Host-restjwt-csrf=${csrf}`;
    return { t, r, cookies, refresh, csrf, jar, host: new URL(t.url).host };
  }

  it('login sets the refresh cookie (HttpOnly, Secure, SameSite=Strict, narrow path) and never puts it in the body', async () => {
    const { t, r, cookies, refresh } = await loggedIn();
    try {
      expect(Object.keys(r.json)).toEqual(['access']);
      expect(cookies['__Secure-restjwt-refresh']).toMatch(/; Path=\/api\/token\/; Max-Age=86400; HttpOnly; Secure; SameSite=Strict$/);
      expect(cookies['__Host-restjwt-csrf']).toMatch(/; Path=\/; Max-Age=86400; Secure; SameSite=Strict$/);
      expect(cookies['__Host-restjwt-csrf']).not.toMatch(/HttpOnly/);
      expect(claimsOf(refresh).token_type).toBe('refresh');
      expect(r.text).not.toContain(refresh);
    } finally {
      await t.close();
    }
  });

  it('refresh from the cookie with the CSRF header rotates into a new cookie', async () => {
    const { t, jar, csrf, refresh, host } = await loggedIn();
    try {
      const r = await t.post('/api/token/refresh/', {}, { cookie: jar, 'x-csrf-token': csrf, origin: `http://${host}` });
      expect(r.status).toBe(200);
      expect(Object.keys(r.json)).toEqual(['access']);
      const next = valueOf(setCookies(r.headers)['__Secure-restjwt-refresh']);
      expect(next).not.toBe(refresh);
      expect(claimsOf(next).token_type).toBe('refresh');
      // the rotated-out cookie value is dead
      const again = await t.post('/api/token/refresh/', {}, { cookie: jar, 'x-csrf-token': csrf });
      expect(again.status).toBe(401);
      expect(again.json.detail).toBe('Token is blacklisted');
    } finally {
      await t.close();
    }
  });

  it.each([
    ['no CSRF header', (c: string) => ({}), 'csrf_token_missing'],
    ['a wrong CSRF header', (c: string) => ({ 'x-csrf-token': `${c}x` }), 'csrf_token_missing'],
    ['a foreign Origin', (c: string) => ({ 'x-csrf-token': c, origin: 'https://evil.example' }), 'csrf_origin'],
    ['a foreign Referer', (c: string) => ({ 'x-csrf-token': c, referer: 'https://evil.example/page' }), 'csrf_origin'],
    ['Origin null', (c: string) => ({ 'x-csrf-token': c, origin: 'null' }), 'csrf_origin'],
  ])('refuses a cookie refresh with %s: 403, nothing issued or changed', async (_n, extra, key) => {
    const { t, jar, csrf } = await loggedIn();
    try {
      const before = await snapshot(t.store);
      const r = await t.post('/api/token/refresh/', {}, { cookie: jar, ...extra(csrf) });
      expect(r.status).toBe(403);
      expect(r.json.code).toBe('csrf_failed');
      expect(r.json.detail).toMatch(key === 'csrf_origin' ? /^CSRF Failed: Origin checking failed/ : /^CSRF Failed: CSRF token missing/);
      expect(r.headers.getSetCookie()).toEqual([]);
      expect(r.json.access).toBeUndefined();
      expect(await snapshot(t.store)).toBe(before);
    } finally {
      await t.close();
    }
  });

  it('a trusted origin may make cookie requests', async () => {
    const t = await startApp({ ...settings, csrfTrustedOrigins: ['https://app.example.com'] });
    try {
      await t.user('alice');
      const r = await t.post('/api/token/', { username: 'alice', password: PASSWORD });
      const c = setCookies(r.headers);
      const csrf = valueOf(c['__Host-restjwt-csrf']);
      const jar = `__Secure-restjwt-refresh=${valueOf(c['__Secure-restjwt-refresh'])}; __Host-restjwt-csrf=${csrf}`;
      expect((await t.post('/api/token/refresh/', {}, { cookie: jar, 'x-csrf-token': csrf, origin: 'https://app.example.com' })).status).toBe(200);
    } finally {
      await t.close();
    }
  });

  it('logout from the cookie blacklists it and clears every auth cookie', async () => {
    const { t, jar, csrf } = await loggedIn();
    try {
      const before = await t.store.countTokens();
      const r = await t.post('/api/token/blacklist/', {}, { cookie: jar, 'x-csrf-token': csrf });
      expect(r.status).toBe(200);
      const cleared = setCookies(r.headers);
      for (const name of ['__Secure-restjwt-refresh', '__Host-restjwt-access', '__Host-restjwt-csrf']) {
        expect(cleared[name]).toMatch(/^[^=]+=; .*Max-Age=0/);
      }
      expect((await t.store.countTokens()).blacklisted).toBe(before.blacklisted + 1);
      const again = await t.post('/api/token/blacklist/', {}, { cookie: jar, 'x-csrf-token': csrf });
      expect(again.status).toBe(401);
      expect(again.headers.getSetCookie().length).toBe(3);
    } finally {
      await t.close();
    }
  });

  it('cookieSecure false (plain-http development) drops the prefixes and the Secure flag', async () => {
    const t = await startApp({ ...settings, cookieSecure: false });
    try {
      await t.user('alice');
      const r = await t.post('/api/token/', { username: 'alice', password: PASSWORD });
      const c = setCookies(r.headers);
      expect(Object.keys(c).sort()).toEqual(['restjwt-csrf', 'restjwt-refresh']);
      expect(c['restjwt-refresh']).not.toMatch(/Secure/);
    } finally {
      await t.close();
    }
  });
});

describe('cookie mode "both": the access token in a cookie too', () => {
  async function app() {
    const store = createMemoryStore();
    await store.createUser({ username: 'alice', passwordHash: await fastHasher.hash(PASSWORD) });
    const restjwt = createRestJwt({ store, hasher: fastHasher, settings: { signingKey: SECRET, cookieMode: 'both' } });
    const f = Fastify({ logger: false });
    await f.register(restjwtPlugin, { restjwt, prefix: '/api/' });
    f.get('/api/protected/', { preHandler: guard(restjwt) }, async () => ({ ok: true }));
    f.post('/api/notes/', { preHandler: guard(restjwt) }, async () => ({ created: true }));
    const login = await f.inject({ method: 'POST', url: '/api/token/', payload: { username: 'alice', password: PASSWORD } });
    const jar: Record<string, string> = {};
    for (const c of login.cookies) jar[c.name] = c.value;
    return { f, login, jar, cookie: Object.entries(jar).map(([k, v]) => `${k}=${v}`).join('; ') };
  }

  it('login answers no token in the body; GET works with the cookie alone; unsafe methods need CSRF', async () => {
    const { f, login, jar, cookie } = await app();
    expect(login.statusCode).toBe(200);
    expect(login.json()).toEqual({});
    expect(Object.keys(jar).sort()).toEqual(['__Host-restjwt-access', '__Host-restjwt-csrf', '__Secure-restjwt-refresh']);
    const access = login.cookies.find((c) => c.name === '__Host-restjwt-access');
    expect(access).toMatchObject({ path: '/', httpOnly: true, secure: true, sameSite: 'Strict' });
    expect((await f.inject({ method: 'GET', url: '/api/protected/', headers: { cookie } })).statusCode).toBe(200);
    const forged = await f.inject({ method: 'POST', url: '/api/notes/', headers: { cookie } });
    expect(forged.statusCode).toBe(403);
    expect(forged.json().code).toBe('csrf_failed');
    const ok = await f.inject({ method: 'POST', url: '/api/notes/', headers: { cookie, 'x-csrf-token': jar['__Host-restjwt-csrf']! } });
    expect(ok.statusCode).toBe(200);
    // no cookie, no header: anonymous
    expect((await f.inject({ method: 'GET', url: '/api/protected/' })).statusCode).toBe(401);
    await f.close();
  });
});

describe('login throttling', () => {
  async function throttled(extra: Record<string, unknown> = {}) {
    let now = Date.now();
    const counter = createMemoryRateCounter(() => now);
    const t = await startApp({ loginThrottle: true, ...extra }, { rateCounter: counter });
    await t.user('alice');
    return { t, advance: (ms: number) => (now += ms) };
  }

  it('after 5 failures, 429 with Retry-After even for the right password; the same answer for an unknown user', async () => {
    const { t } = await throttled();
    try {
      for (let i = 0; i < 5; i++) expect((await t.post('/api/token/', { username: 'alice', password: 'wrong' })).status).toBe(401);
      const before = await snapshot(t.store);
      const locked = await t.post('/api/token/', { username: 'alice', password: PASSWORD });
      expect(locked.status).toBe(429);
      expect(locked.headers.get('retry-after')).toBe('300');
      expect(locked.json).toEqual({ detail: 'Request was throttled. Expected available in 300 seconds.', code: 'throttled' });
      expect(await snapshot(t.store)).toBe(before);
      for (let i = 0; i < 5; i++) await t.post('/api/token/', { username: 'ghost', password: 'wrong' });
      const ghost = await t.post('/api/token/', { username: 'ghost', password: 'wrong' });
      expect(ghost.status).toBe(429);
      expect(ghost.text).toBe(locked.text);
    } finally {
      await t.close();
    }
  });

  it('the lockout ends with its window, and a success clears earlier failures', async () => {
    const { t, advance } = await throttled();
    try {
      for (let i = 0; i < 4; i++) await t.post('/api/token/', { username: 'alice', password: 'wrong' });
      expect((await t.post('/api/token/', { username: 'alice', password: PASSWORD })).status).toBe(200);
      for (let i = 0; i < 4; i++) await t.post('/api/token/', { username: 'alice', password: 'wrong' });
      expect((await t.post('/api/token/', { username: 'alice', password: PASSWORD })).status).toBe(200);
      for (let i = 0; i < 5; i++) await t.post('/api/token/', { username: 'alice', password: 'wrong' });
      expect((await t.post('/api/token/', { username: 'alice', password: PASSWORD })).status).toBe(429);
      advance(301_000);
      expect((await t.post('/api/token/', { username: 'alice', password: PASSWORD })).status).toBe(200);
    } finally {
      await t.close();
    }
  });

  it('X-Forwarded-For counts only from a trusted proxy', async () => {
    const spoof = await throttled();
    try {
      // untrusted peer: the header is ignored, so rotating it does not escape the lock
      for (let i = 0; i < 5; i++) await spoof.t.post('/api/token/', { username: 'alice', password: 'wrong' }, { 'x-forwarded-for': `198.51.100.${i}` });
      expect((await spoof.t.post('/api/token/', { username: 'alice', password: PASSWORD }, { 'x-forwarded-for': '203.0.113.1' })).status).toBe(429);
    } finally {
      await spoof.t.close();
    }
    const proxied = await throttled({ trustedProxies: ['127.0.0.1', '::1', '::ffff:127.0.0.1'] });
    try {
      for (let i = 0; i < 5; i++) await proxied.t.post('/api/token/', { username: 'alice', password: 'wrong' }, { 'x-forwarded-for': '198.51.100.7' });
      expect((await proxied.t.post('/api/token/', { username: 'alice', password: PASSWORD }, { 'x-forwarded-for': '198.51.100.7' })).status).toBe(429);
      // the real user behind the same proxy, from another address, is not locked out by the attacker
      expect((await proxied.t.post('/api/token/', { username: 'alice', password: PASSWORD }, { 'x-forwarded-for': '203.0.113.9' })).status).toBe(200);
    } finally {
      await proxied.t.close();
    }
  });

  it('refuses to start without a rate counter', async () => {
    await expect(startApp({ loginThrottle: true })).rejects.toThrow(/rateCounter/);
  });
});
