import { createSecretKey } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { claimsOf, mint, PASSWORD, SECRET, startApp, type TestApp } from '../helpers/server.js';

const key = createSecretKey(Buffer.from(SECRET));
const now = () => Math.floor(Date.now() / 1000);

describe('sliding tokens', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startApp({ authTokenClasses: ['sliding'] });
    await t.user('alice');
  });
  afterAll(() => t.close());

  it('obtain returns {"token"} with refresh_exp, recorded as outstanding', async () => {
    const before = await t.store.countTokens();
    const r = await t.post('/api/token/sliding/', { username: 'alice', password: PASSWORD });
    expect(r.status).toBe(200);
    expect(Object.keys(r.json)).toEqual(['token']);
    const c = claimsOf(r.json.token);
    expect(Object.keys(c)).toEqual(['token_type', 'exp', 'iat', 'jti', 'refresh_exp', 'user_id']);
    expect(c.token_type).toBe('sliding');
    expect((c.exp as number) - (c.iat as number)).toBe(300);
    expect((c.refresh_exp as number) - (c.iat as number)).toBe(86400);
    expect((await t.store.countTokens()).outstanding).toBe(before.outstanding + 1);
    expect((await t.get('/api/protected/', { authorization: `Bearer ${r.json.token}` })).status).toBe(200);
  });

  it('refresh keeps jti and refresh_exp and moves exp', async () => {
    const { token } = (await t.post('/api/token/sliding/', { username: 'alice', password: PASSWORD })).json;
    t.advance(60_000);
    const r = await t.post('/api/token/sliding/refresh/', { token });
    expect(r.status).toBe(200);
    const a = claimsOf(token);
    const b = claimsOf(r.json.token);
    expect(b.jti).toBe(a.jti);
    expect(b.refresh_exp).toBe(a.refresh_exp);
    expect(b.exp as number).toBeGreaterThan(a.exp as number);
  });

  it('refreshes a sliding token whose exp passed inside its refresh window', async () => {
    const token = mint({ token_type: 'sliding', exp: now() - 60, iat: now() - 400, jti: 'b'.repeat(32), refresh_exp: now() + 3600, user_id: '1' }, key);
    expect((await t.get('/api/protected/', { authorization: `Bearer ${token}` })).status).toBe(401);
    expect((await t.post('/api/token/sliding/refresh/', { token })).status).toBe(200);
  });

  it.each([
    ['refresh_exp passed', { refresh_exp: now() - 1 }, [], "Token 'refresh_exp' claim has expired"],
    ['no refresh_exp', {}, ['refresh_exp'], "Token has no 'refresh_exp' claim"],
    ['an access token', { token_type: 'access' }, [], 'Token has wrong type'],
  ])('refresh refuses %s', async (_n, claims, drop, message) => {
    const p: Record<string, unknown> = { token_type: 'sliding', exp: now() + 60, iat: now(), jti: 'c'.repeat(32), refresh_exp: now() + 600, user_id: '1', ...claims };
    for (const d of drop as string[]) delete p[d];
    const r = await t.post('/api/token/sliding/refresh/', { token: mint(p, key) });
    expect(r.status).toBe(401);
    expect(r.json).toEqual({ detail: message, code: 'token_not_valid' });
  });

  it('answers 400 for a missing field and 401 for bad credentials', async () => {
    expect((await t.post('/api/token/sliding/refresh/', {})).json).toEqual({ token: ['This field is required.'] });
    const r = await t.post('/api/token/sliding/', { username: 'alice', password: 'x' });
    expect(r.status).toBe(401);
    expect(r.json.code).toBe('no_active_account');
  });
});
