import { createSecretKey } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { claimsOf, mint, SECRET, snapshot, startApp, type TestApp } from '../helpers/server.js';

const key = createSecretKey(Buffer.from(SECRET));
const now = () => Math.floor(Date.now() / 1000);
const INVALID = { detail: 'Token is invalid', code: 'token_not_valid' };
const EXPIRED = { detail: 'Token is expired', code: 'token_not_valid' };
const BLACKLISTED = { detail: 'Token is blacklisted', code: 'token_not_valid' };

function craft(claims: Record<string, unknown>, drop: string[] = []): string {
  const base: Record<string, unknown> = { token_type: 'refresh', exp: now() + 600, iat: now(), jti: 'f'.repeat(32), user_id: '1', ...claims };
  for (const d of drop) delete base[d];
  return mint(base, key);
}

describe('refresh, verify and blacklist with simplejwt defaults (no rotation)', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startApp();
    await t.user('alice');
  });
  afterAll(() => t.close());

  it('refresh returns only a new access token that copies iat and the user id', async () => {
    const { refresh } = await t.login();
    t.advance(2000);
    const r = await t.post('/api/token/refresh/', { refresh });
    expect(r.status).toBe(200);
    expect(Object.keys(r.json)).toEqual(['access']);
    const a = claimsOf(r.json.access);
    const rc = claimsOf(refresh);
    expect(a.token_type).toBe('access');
    expect(a.iat).toBe(rc.iat);
    expect(a.user_id).toBe('1');
    expect(a.jti).not.toBe(rc.jti);
    // the same refresh token keeps working without rotation
    expect((await t.post('/api/token/refresh/', { refresh })).status).toBe(200);
  });

  it.each([
    ['an access token', async () => (await t.login()).access, { detail: 'Token has wrong type', code: 'token_not_valid' }],
    ['garbage', async () => 'not-a-token', INVALID],
    ['an expired refresh token', async () => craft({ exp: now() - 60 }), EXPIRED],
    ['a token signed with another key', async () => mint({ token_type: 'refresh', exp: now() + 60, iat: now(), jti: 'a'.repeat(32), user_id: '1' }, createSecretKey(Buffer.alloc(64, 7))), INVALID],
    ['a token with no exp', async () => craft({}, ['exp']), { detail: "Token has no 'exp' claim", code: 'token_not_valid' }],
    ['a token with no jti (simplejwt answers 500 here)', async () => craft({}, ['jti']), { detail: 'Token has no id', code: 'token_not_valid' }],
    ['a token with no type', async () => craft({}, ['token_type']), { detail: 'Token has no type', code: 'token_not_valid' }],
    ['a token with no user id', async () => craft({ jti: 'b'.repeat(32) }, ['user_id']), { detail: 'Token contained no recognizable user identification', code: 'token_not_valid' }],
    ['a token with a string exp', async () => craft({ exp: String(now() + 600) }), INVALID],
    ['an HS512 token (algorithm not configured)', async () => mint({ token_type: 'refresh', exp: now() + 60, iat: now(), jti: 'c'.repeat(32), user_id: '1' }, key, 'HS512'), INVALID],
  ])('refresh refuses %s with 401', async (_name, make, expected) => {
    const token = await make();
    const before = await snapshot(t.store);
    const r = await t.post('/api/token/refresh/', { refresh: token });
    expect(r.status).toBe(401);
    expect(r.json).toEqual(expected);
    expect(r.headers.get('www-authenticate')).toBe('Bearer realm="api"');
    expect(await snapshot(t.store)).toBe(before);
  });

  it('refresh refuses a token of a deleted/unknown user with no_active_account', async () => {
    const r = await t.post('/api/token/refresh/', { refresh: craft({ user_id: '999', jti: 'd'.repeat(32) }) });
    expect(r.status).toBe(401);
    expect(r.json).toEqual({ detail: 'No active account found for the given token.', code: 'no_active_account' });
  });

  it('refresh refuses a token of a user deactivated since login', async () => {
    const u = await t.user('eve');
    const { refresh } = await t.login('eve');
    await t.store.setActive(u.id, false);
    const r = await t.post('/api/token/refresh/', { refresh });
    expect(r.status).toBe(401);
    expect(r.json.code).toBe('no_active_account');
  });

  it('refresh answers 400 for a missing field', async () => {
    const r = await t.post('/api/token/refresh/', {});
    expect(r.status).toBe(400);
    expect(r.json).toEqual({ refresh: ['This field is required.'] });
  });

  it('verify accepts any valid token type and tokens without a type', async () => {
    const { access, refresh } = await t.login();
    for (const token of [access, refresh, craft({ jti: 'e'.repeat(32) }, ['token_type'])]) {
      const r = await t.post('/api/token/verify/', { token });
      expect(r.status).toBe(200);
      expect(r.json).toEqual({});
    }
  });

  it.each([
    ['garbage', () => 'garbage', INVALID],
    ['an expired token', () => craft({ exp: now() - 60 }), EXPIRED],
    ['alg none', () => `${Buffer.from('{"alg":"none","typ":"JWT"}').toString('base64url')}.${Buffer.from(JSON.stringify({ token_type: 'access', exp: now() + 60, jti: 'x', user_id: '1' })).toString('base64url')}.`, INVALID],
    ['no jti', () => craft({}, ['jti']), { detail: 'Token has no id', code: 'token_not_valid' }],
    ['no exp', () => craft({}, ['exp']), { detail: "Token has no 'exp' claim", code: 'token_not_valid' }],
  ])('verify refuses %s with 401', async (_n, make, expected) => {
    const r = await t.post('/api/token/verify/', { token: make() });
    expect(r.status).toBe(401);
    expect(r.json).toEqual(expected);
  });

  it('verify answers 400 for a missing field', async () => {
    expect((await t.post('/api/token/verify/', {})).json).toEqual({ token: ['This field is required.'] });
  });

  it('blacklist logs out: {} once, then 401 for reuse on refresh, blacklist, and 400 on verify', async () => {
    const { refresh, access } = await t.login();
    const before = await t.store.countTokens();
    const r = await t.post('/api/token/blacklist/', { refresh });
    expect(r.status).toBe(200);
    expect(r.json).toEqual({});
    expect((await t.store.countTokens()).blacklisted).toBe(before.blacklisted + 1);
    expect((await t.post('/api/token/refresh/', { refresh })).json).toEqual(BLACKLISTED);
    const again = await t.post('/api/token/blacklist/', { refresh });
    expect(again.status).toBe(401);
    expect(again.json).toEqual(BLACKLISTED);
    const v = await t.post('/api/token/verify/', { token: refresh });
    expect(v.status).toBe(400);
    expect(v.json).toEqual({ non_field_errors: ['Token is blacklisted'] });
    // access tokens are stateless: valid until they expire
    expect((await t.get('/api/protected/', { authorization: `Bearer ${access}` })).status).toBe(200);
  });

  it('blacklist refuses an access token and a missing field', async () => {
    const { access } = await t.login();
    expect((await t.post('/api/token/blacklist/', { refresh: access })).json).toEqual({ detail: 'Token has wrong type', code: 'token_not_valid' });
    expect((await t.post('/api/token/blacklist/', {})).json).toEqual({ refresh: ['This field is required.'] });
  });
});

describe('rotation with blacklist after rotation', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startApp({ rotateRefreshTokens: true, blacklistAfterRotation: true });
    await t.user('alice');
  });
  afterAll(() => t.close());

  it('returns access and a new refresh, blacklists the old one, and records the new one', async () => {
    const { refresh } = await t.login();
    t.advance(2000);
    const before = await t.store.countTokens();
    const r = await t.post('/api/token/refresh/', { refresh });
    expect(r.status).toBe(200);
    expect(Object.keys(r.json)).toEqual(['access', 'refresh']);
    const old = claimsOf(refresh);
    const next = claimsOf(r.json.refresh);
    expect(Object.keys(next)).toEqual(Object.keys(old));
    expect(next.jti).not.toBe(old.jti);
    expect(next.iat as number).toBeGreaterThan(old.iat as number);
    expect(claimsOf(r.json.access).iat).toBe(old.iat);
    const after = await t.store.countTokens();
    expect(after).toEqual({ outstanding: before.outstanding + 1, blacklisted: before.blacklisted + 1 });
    const reuse = await t.post('/api/token/refresh/', { refresh });
    expect(reuse.status).toBe(401);
    expect(reuse.json).toEqual(BLACKLISTED);
    // Reuse revokes the family (see test/security/families.test.ts): the successor is blacklisted too.
    expect((await t.post('/api/token/refresh/', { refresh: r.json.refresh })).json).toEqual(BLACKLISTED);
  });

  it('of 10 concurrent refreshes of one token exactly one succeeds', async () => {
    const { refresh } = await t.login();
    const before = await t.store.countTokens();
    const answers = await Promise.all(Array.from({ length: 10 }, () => t.post('/api/token/refresh/', { refresh })));
    const ok = answers.filter((a) => a.status === 200);
    expect(ok).toHaveLength(1);
    for (const a of answers.filter((x) => x.status !== 200)) expect(a.json).toEqual(BLACKLISTED);
    // The losers count as reuse (refreshReuseInterval 0): the winner's successor is revoked with the family.
    expect(await t.store.countTokens()).toEqual({ outstanding: before.outstanding + 1, blacklisted: before.blacklisted + 2 });
  });
});

describe('checkRevokeToken: a password change ends every session', () => {
  it('refuses old access and refresh tokens after the password changes', async () => {
    const t = await startApp({ checkRevokeToken: true, rotateRefreshTokens: true });
    try {
      const u = await t.user('alice');
      const { access, refresh } = await t.login();
      expect(claimsOf(access).hash_password).toBe(u.tokenVersion);
      expect((await t.get('/api/protected/', { authorization: `Bearer ${access}` })).status).toBe(200);
      await t.store.setPassword(u.id, 'x');
      const p = await t.get('/api/protected/', { authorization: `Bearer ${access}` });
      expect(p.status).toBe(401);
      expect(p.json).toEqual({ detail: "The user's password has been changed.", code: 'password_changed' });
      const r = await t.post('/api/token/refresh/', { refresh });
      expect(r.status).toBe(401);
      expect(r.json).toEqual({ detail: "The user's password has been changed.", code: 'password_changed' });
      expect((await t.post('/api/token/refresh/', { refresh })).json).toEqual(BLACKLISTED);
    } finally {
      await t.close();
    }
  });
});

describe('messageVersion 5.2 speaks simplejwt 5.2.2', () => {
  it('joins "invalid" and "expired" into one message', async () => {
    const t = await startApp({ messageVersion: '5.2' });
    try {
      const expected = { detail: 'Token is invalid or expired', code: 'token_not_valid' };
      expect((await t.post('/api/token/verify/', { token: 'garbage' })).json).toEqual(expected);
      expect((await t.post('/api/token/verify/', { token: craft({ exp: now() - 5 }) })).json).toEqual(expected);
    } finally {
      await t.close();
    }
  });
});
