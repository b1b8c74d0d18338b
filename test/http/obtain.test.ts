import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { claimsOf, headerOf, PASSWORD, snapshot, startApp, type TestApp } from '../helpers/server.js';

const NO_ACCOUNT = { detail: 'No active account found with the given credentials', code: 'no_active_account' };

describe('POST /api/token/ (obtain pair)', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startApp({ updateLastLogin: true });
    await t.user('alice');
    await t.user('sleepy', { isActive: false });
  });
  afterAll(() => t.close());

  it('returns a refresh and an access token in simplejwt format, and records the refresh token', async () => {
    const before = await t.store.countTokens();
    const r = await t.post('/api/token/', { username: 'alice', password: PASSWORD });
    expect(r.status).toBe(200);
    expect(Object.keys(r.json)).toEqual(['refresh', 'access']);
    expect(r.headers.get('content-type')).toMatch(/^application\/json/);
    expect(r.headers.get('cache-control')).toBe('no-store');
    expect(r.headers.get('www-authenticate')).toBeNull();
    for (const token of [r.json.refresh, r.json.access]) {
      expect(token).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+$/);
      expect(headerOf(token)).toEqual({ alg: 'HS256', typ: 'JWT' });
      expect(Buffer.from(token.split('.')[2], 'base64url')).toHaveLength(32);
    }
    const refresh = claimsOf(r.json.refresh);
    const access = claimsOf(r.json.access);
    expect(Object.keys(refresh)).toEqual(['token_type', 'exp', 'iat', 'jti', 'user_id']);
    expect(Object.keys(access)).toEqual(['token_type', 'exp', 'iat', 'jti', 'user_id']);
    expect(refresh.token_type).toBe('refresh');
    expect(access.token_type).toBe('access');
    expect(refresh.jti).toMatch(/^[0-9a-f]{32}$/);
    expect(access.jti).not.toBe(refresh.jti);
    expect(access.user_id).toBe('1');
    expect((access.exp as number) - (access.iat as number)).toBe(300);
    expect((refresh.exp as number) - (refresh.iat as number)).toBe(86400);
    const after = await t.store.countTokens();
    expect(after.outstanding).toBe(before.outstanding + 1);
    expect((await t.store.findUser('username', 'alice'))?.lastLogin).toBeInstanceOf(Date);
  });

  it('accepts a form-encoded body, as DRF does', async () => {
    const r = await t.send('POST', '/api/token/', {
      body: new URLSearchParams({ username: 'alice', password: PASSWORD }).toString(),
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });
    expect(r.status).toBe(200);
    expect(r.json.access).toBeTypeOf('string');
  });

  it.each([
    ['a wrong password', { username: 'alice', password: 'nope' }],
    ['an unknown user', { username: 'mallory', password: PASSWORD }],
    ['a username in the wrong case', { username: 'Alice', password: PASSWORD }],
    ['an inactive user with the right password', { username: 'sleepy', password: PASSWORD }],
  ])('refuses %s with 401 and issues nothing', async (_name, body) => {
    const before = await snapshot(t.store);
    const r = await t.post('/api/token/', body);
    expect(r.status).toBe(401);
    expect(r.json).toEqual(NO_ACCOUNT);
    expect(r.headers.get('www-authenticate')).toBe('Bearer realm="api"');
    expect(await snapshot(t.store)).toBe(before);
  });

  it('gives byte-identical answers for unknown user, wrong password and inactive user', async () => {
    const bodies = await Promise.all(
      [
        { username: 'alice', password: 'wrong' },
        { username: 'nobody', password: 'wrong' },
        { username: 'sleepy', password: PASSWORD },
      ].map(async (b) => (await t.post('/api/token/', b)).text),
    );
    expect(new Set(bodies).size).toBe(1);
  });

  it.each([
    ['missing both fields', {}, { username: ['This field is required.'], password: ['This field is required.'] }],
    ['missing password', { username: 'alice' }, { password: ['This field is required.'] }],
    ['blank strings', { username: '', password: '' }, { username: ['This field may not be blank.'], password: ['This field may not be blank.'] }],
    ['whitespace username', { username: '   ', password: 'x' }, { username: ['This field may not be blank.'] }],
    ['null values', { username: null, password: null }, { username: ['This field may not be null.'], password: ['This field may not be null.'] }],
    ['wrong JSON types', { username: ['alice'], password: { a: 1 } }, { username: ['Not a valid string.'], password: ['Not a valid string.'] }],
    ['a boolean', { username: true, password: 'x' }, { username: ['Not a valid string.'] }],
  ])('answers 400 field errors for %s', async (_name, body, expected) => {
    const before = await snapshot(t.store);
    const r = await t.post('/api/token/', body);
    expect(r.status).toBe(400);
    expect(r.json).toEqual(expected);
    expect(r.headers.get('www-authenticate')).toBeNull();
    expect(await snapshot(t.store)).toBe(before);
  });

  it('answers 400 for a JSON array, string and null body', async () => {
    expect((await t.post('/api/token/', '[1,2]')).json).toEqual({ non_field_errors: ['Invalid data. Expected a dictionary, but got list.'] });
    expect((await t.post('/api/token/', '"alice"')).json).toEqual({ non_field_errors: ['Invalid data. Expected a dictionary, but got str.'] });
    expect((await t.post('/api/token/', 'null')).status).toBe(400);
  });

  it('answers 400 parse_error for malformed JSON without echoing it', async () => {
    const r = await t.post('/api/token/', '{"username":"alice","password":"hunter2-secret"');
    expect(r.status).toBe(400);
    expect(r.json.code).toBe('parse_error');
    expect(r.json.detail).toMatch(/^JSON parse error - /);
    expect(r.text).not.toContain('hunter2');
  });

  it('treats an empty JSON body as empty data', async () => {
    const r = await t.post('/api/token/', '');
    expect(r.status).toBe(400);
    expect(r.json).toEqual({ username: ['This field is required.'], password: ['This field is required.'] });
  });

  it('ignores __proto__ in the body (no prototype pollution)', async () => {
    const r = await t.post('/api/token/', '{"__proto__":{"isAdmin":true},"username":"alice","password":"nope"}');
    expect(r.status).toBe(401);
    expect(({} as Record<string, unknown>).isAdmin).toBeUndefined();
  });

  it('trims the username but not the password', async () => {
    expect((await t.post('/api/token/', { username: '  alice ', password: PASSWORD })).status).toBe(200);
    expect((await t.post('/api/token/', { username: 'alice', password: ` ${PASSWORD}` })).status).toBe(401);
  });
});

describe('login by email and rehashing Django hashes', () => {
  it('logs in with the email when usernameField is "email"', async () => {
    const t = await startApp({ usernameField: 'email' });
    try {
      await t.user('bob', { email: 'bob@example.com' });
      expect((await t.post('/api/token/', { email: 'bob@example.com', password: PASSWORD })).status).toBe(200);
      expect((await t.post('/api/token/', { username: 'bob', password: PASSWORD })).json).toEqual({ email: ['This field is required.'] });
    } finally {
      await t.close();
    }
  });

  it('accepts a Django pbkdf2_sha256 hash and upgrades it to argon2id on login', async () => {
    const t = await startApp();
    try {
      // Django's own hash of PASSWORD (salt "seasalt123", 1000 iterations), computed with hashlib.pbkdf2_hmac.
      const { encodeDjangoPbkdf2 } = await import('../../packages/core/src/passwords/index.js');
      const django = await encodeDjangoPbkdf2(PASSWORD, 'seasalt123', 1000);
      const u = await t.store.createUser({ username: 'dj', passwordHash: django });
      expect((await t.post('/api/token/', { username: 'dj', password: 'wrong' })).status).toBe(401);
      expect((await t.store.findUser('id', u.id))?.passwordHash).toBe(django);
      expect((await t.post('/api/token/', { username: 'dj', password: PASSWORD })).status).toBe(200);
      const upgraded = (await t.store.findUser('id', u.id))?.passwordHash;
      expect(upgraded).toMatch(/^\$argon2id\$/);
      expect((await t.post('/api/token/', { username: 'dj', password: PASSWORD })).status).toBe(200);
    } finally {
      await t.close();
    }
  });
});

describe('custom claims hook', () => {
  it('adds claims to the refresh token and copies them into every access token', async () => {
    const t = await startApp(
      { rotateRefreshTokens: true },
      { hooks: { customClaims: (user) => ({ name: user.username, roles: ['reader'] }) } },
    );
    try {
      await t.user('carol');
      const { access, refresh } = await t.login('carol');
      expect(claimsOf(refresh)).toMatchObject({ name: 'carol', roles: ['reader'] });
      expect(claimsOf(access)).toMatchObject({ name: 'carol', roles: ['reader'] });
      const r = await t.post('/api/token/refresh/', { refresh });
      expect(claimsOf(r.json.access)).toMatchObject({ name: 'carol', roles: ['reader'] });
      expect(claimsOf(r.json.refresh)).toMatchObject({ name: 'carol', roles: ['reader'] });
    } finally {
      await t.close();
    }
  });

  it('refuses a hook that overrides a claim restjwt owns, issuing nothing', async () => {
    const t = await startApp({}, { hooks: { customClaims: () => ({ user_id: '999' }) } });
    try {
      await t.user('dave');
      const r = await t.post('/api/token/', { username: 'dave', password: PASSWORD });
      expect(r.status).toBe(500);
      expect(r.json).toEqual({ detail: 'A server error occurred.', code: 'server_error' });
      expect((await t.store.countTokens()).outstanding).toBe(0);
    } finally {
      await t.close();
    }
  });
});
