import { createSecretKey } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mint, SECRET, startApp, type TestApp } from '../helpers/server.js';

const key = createSecretKey(Buffer.from(SECRET));
const now = () => Math.floor(Date.now() / 1000);
const NOT_PROVIDED = { detail: 'Authentication credentials were not provided.', code: 'not_authenticated' };
const BAD_HEADER = { detail: 'Authorization header must contain two space-delimited values', code: 'bad_authorization_header' };
const anyType = (message: string) => ({
  detail: 'Given token not valid for any token type',
  code: 'token_not_valid',
  messages: [{ token_class: 'AccessToken', token_type: 'access', message }],
});
const access = (claims: Record<string, unknown> = {}, drop: string[] = []) => {
  const p: Record<string, unknown> = { token_type: 'access', exp: now() + 300, iat: now(), jti: 'a'.repeat(32), user_id: '1', ...claims };
  for (const d of drop) delete p[d];
  return mint(p, key);
};

describe('GET /api/protected/ (JWTAuthentication + IsAuthenticated)', () => {
  let t: TestApp;
  let tokens: { access: string; refresh: string };
  beforeAll(async () => {
    t = await startApp();
    await t.user('alice');
    tokens = await t.login();
  });
  afterAll(() => t.close());

  const expect401 = async (headers: Record<string, string>, body: unknown) => {
    const r = await t.get('/api/protected/', headers);
    expect(r.status).toBe(401);
    expect(r.json).toEqual(body);
    expect(r.headers.get('www-authenticate')).toBe('Bearer realm="api"');
  };

  it('answers the seed greeting with a valid Bearer access token', async () => {
    const r = await t.get('/api/protected/', { authorization: `Bearer ${tokens.access}` });
    expect(r.status).toBe(200);
    expect(r.json).toEqual({ message: 'Hello, authenticated user!' });
    expect(r.headers.get('x-content-type-options')).toBe('nosniff');
  });

  it('accepts extra whitespace between scheme and token (Python split())', async () => {
    expect((await t.get('/api/protected/', { authorization: `Bearer    ${tokens.access}` })).status).toBe(200);
  });

  it('answers HEAD with 200 and no body', async () => {
    const r = await t.send('HEAD', '/api/protected/', { headers: { authorization: `Bearer ${tokens.access}` } });
    expect(r.status).toBe(200);
    expect(r.text).toBe('');
  });

  it('GET /api/me/ returns the user without secrets', async () => {
    const r = await t.get('/api/me/', { authorization: `Bearer ${tokens.access}` });
    expect(r.status).toBe(200);
    expect(r.json).toMatchObject({ id: '1', username: 'alice', is_active: true, is_staff: false });
    expect(r.text).not.toMatch(/argon2|password|token_version/i);
  });

  it.each([
    ['no header', {}],
    ['a lowercase scheme', { authorization: 'bearer TOKEN' }],
    ['the Token scheme', { authorization: 'Token TOKEN' }],
    ['the Basic scheme', { authorization: 'Basic YWxpY2U6cHc=' }],
    ['an empty header', { authorization: '' }],
  ])('treats %s as anonymous: 401 not provided', async (_n, headers) => {
    await expect401(headers, NOT_PROVIDED);
  });

  it.each([
    ['Bearer alone', 'Bearer'],
    ['three parts', 'Bearer a b'],
  ])('answers bad_authorization_header for %s', async (_n, value) => {
    await expect401({ authorization: value }, BAD_HEADER);
  });

  it('refuses a refresh token used as Bearer', async () => {
    await expect401({ authorization: `Bearer ${tokens.refresh}` }, anyType('Token has wrong type'));
  });

  it.each([
    ['expired', () => access({ exp: now() - 1 }), 'Token is expired'],
    ['signed with another key', () => mint({ token_type: 'access', exp: now() + 60, jti: 'x', user_id: '1' }, createSecretKey(Buffer.alloc(64, 1))), 'Token is invalid'],
    ['garbage', () => 'garbage', 'Token is invalid'],
    ['without type', () => access({}, ['token_type']), 'Token has no type'],
    ['without jti', () => access({}, ['jti']), 'Token has no id'],
    ['with an audience we do not have', () => access({ aud: 'other-service' }), 'Token is invalid'],
    ['not yet valid (nbf)', () => access({ nbf: now() + 600 }), 'Token is invalid'],
  ])('refuses a token %s', async (_n, make, message) => {
    await expect401({ authorization: `Bearer ${make()}` }, anyType(message));
  });

  it('refuses a token for an unknown user, and one without a user id', async () => {
    await expect401({ authorization: `Bearer ${access({ user_id: '999' })}` }, { detail: 'User not found', code: 'user_not_found' });
    await expect401({ authorization: `Bearer ${access({}, ['user_id'])}` }, { detail: 'Token contained no recognizable user identification', code: 'token_not_valid' });
  });

  it('accepts simplejwt 5.2 integer user ids', async () => {
    expect((await t.get('/api/protected/', { authorization: `Bearer ${access({ user_id: 1 })}` })).status).toBe(200);
  });

  it('refuses an inactive user', async () => {
    const u = await t.user('sleepy');
    const { access: a } = await t.login('sleepy');
    await t.store.setActive(u.id, false);
    await expect401({ authorization: `Bearer ${a}` }, { detail: 'User is inactive', code: 'user_inactive' });
  });

  it('answers 405 for POST, in DRF words', async () => {
    const r = await t.send('POST', '/api/protected/', { headers: { authorization: `Bearer ${tokens.access}` } });
    expect(r.status).toBe(405);
    expect(r.json).toEqual({ detail: 'Method "POST" not allowed.', code: 'method_not_allowed' });
    expect(r.headers.get('allow')).toBe('GET, HEAD, OPTIONS');
  });

  it('GET /api/public/ needs no token', async () => {
    const r = await t.get('/api/public/');
    expect(r.status).toBe(200);
    expect(r.json).toEqual({ message: 'Hello, anonymous user!' });
  });
});

describe('settings that change authentication', () => {
  it('honours authHeaderTypes and authHeaderName (SIMPLE_JWT names)', async () => {
    const t = await startApp({ AUTH_HEADER_TYPES: ['Bearer', 'JWT'], AUTH_HEADER_NAME: 'HTTP_X_AUTH' });
    try {
      await t.user('alice');
      const { access: a } = await t.login();
      expect((await t.get('/api/protected/', { 'x-auth': `JWT ${a}` })).status).toBe(200);
      expect((await t.get('/api/protected/', { 'x-auth': `Bearer ${a}` })).status).toBe(200);
      expect((await t.get('/api/protected/', { authorization: `Bearer ${a}` })).status).toBe(401);
    } finally {
      await t.close();
    }
  });

  it('authTokenClasses with sliding lists every class in messages', async () => {
    const t = await startApp({ authTokenClasses: ['access', 'sliding'] });
    try {
      await t.user('alice');
      const { refresh } = await t.login();
      const s = await t.post('/api/token/sliding/', { username: 'alice', password: 'correct horse battery staple' });
      expect((await t.get('/api/protected/', { authorization: `Bearer ${s.json.token}` })).status).toBe(200);
      const r = await t.get('/api/protected/', { authorization: `Bearer ${refresh}` });
      expect(r.json.messages).toEqual([
        { token_class: 'AccessToken', token_type: 'access', message: 'Token has wrong type' },
        { token_class: 'SlidingToken', token_type: 'sliding', message: 'Token has wrong type' },
      ]);
    } finally {
      await t.close();
    }
  });

  it('audience and issuer are issued and required', async () => {
    const t = await startApp({ audience: 'api://orders', issuer: 'https://auth.example.com' });
    try {
      await t.user('alice');
      const { access: a } = await t.login();
      expect((await t.get('/api/protected/', { authorization: `Bearer ${a}` })).status).toBe(200);
      for (const bad of [access(), access({ aud: 'api://orders' }), access({ iss: 'https://auth.example.com' }), access({ aud: 'api://other', iss: 'https://auth.example.com' })]) {
        expect((await t.get('/api/protected/', { authorization: `Bearer ${bad}` })).status).toBe(401);
      }
      expect((await t.get('/api/protected/', { authorization: `Bearer ${access({ aud: ['x', 'api://orders'], iss: 'https://auth.example.com' })}` })).status).toBe(200);
    } finally {
      await t.close();
    }
  });

  it('leeway accepts a token expired less than leeway ago', async () => {
    const t = await startApp({ leeway: 30 });
    try {
      await t.user('alice');
      expect((await t.get('/api/protected/', { authorization: `Bearer ${access({ exp: now() - 10 })}` })).status).toBe(200);
      expect((await t.get('/api/protected/', { authorization: `Bearer ${access({ exp: now() - 60 })}` })).status).toBe(401);
    } finally {
      await t.close();
    }
  });
});
