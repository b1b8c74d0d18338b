/**
 * Social sign-in of a user with a second factor: the provider's word is the first step only. The exchange (Bearer
 * delivery), the callback (cookie delivery) and the native token endpoint answer the second step instead of tokens,
 * and `token/mfa/` finishes it with the provider as the login's method.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { claimsOf } from '../helpers/server.js';
import { auditEvents, bearer, enrolTotp, nextCode } from '../mfa/app.js';
import { Browser } from './browser.js';
import { codeIn, NEXT, startWorld, type World } from './world.js';

describe('social sign-in with a second factor (Bearer delivery)', () => {
  let w: World;
  beforeAll(async () => {
    w = await startWorld({ options: { mfa: true } });
  });
  afterAll(() => w.close());

  it('a user without a factor gets the pair; with one, the exchange answers the second step, and token/mfa/ finishes it', async () => {
    const first = await w.pair(new Browser(), 'alice-op');
    const { secret } = await enrolTotp(w.app, first.access);
    const b = new Browser();
    const landed = await w.signIn(b, 'alice-op');
    const step = await b.post(`${w.app.url}/api/auth/exchange/`, { code: codeIn(landed.location) });
    expect(step.status, step.text).toBe(200);
    expect(step.json).toEqual({ mfa_required: true, mfa_token: expect.any(String), methods: ['totp'] });
    // No token in the step: nothing that a route would take.
    expect((await w.app.get('/api/protected/', bearer(step.json.mfa_token as string))).status).toBe(401);
    const done = await w.app.post('/api/token/mfa/', { mfa_token: step.json.mfa_token, code: await nextCode(w.app, secret) });
    expect(done.status, done.text).toBe(200);
    expect(claimsOf(done.json.access as string)).toMatchObject({ amr: ['otp', 'mfa'] });
    expect((await w.app.get('/api/protected/mfa/', bearer(done.json.access as string))).status).toBe(200);
    const logins = (await auditEvents(w.app.store)).filter((e) => e.type === 'login');
    expect(logins.at(-1)?.detail).toMatchObject({ method: 'op', amr: 'otp mfa' });
  });
});

describe('social sign-in with a second factor (cookie delivery)', () => {
  let w: World;
  beforeAll(async () => {
    w = await startWorld({ settings: { cookieMode: 'refresh', cookieSecure: false }, options: { mfa: true } });
  });
  afterAll(() => w.close());

  it('the callback lands with the step in the fragment and sets no session cookie', async () => {
    const b = new Browser();
    const landed = await w.signIn(b, 'bob-op');
    expect(landed.status).toBe(302);
    // No factor yet: the session's cookies are set.
    expect(landed.headers.getSetCookie().some((c) => c.includes('refresh'))).toBe(true);
    const user = await w.app.store.findUser('username', 'bob');
    if (user === null) throw new Error('the sign-in created bob');
    const pair = await w.app.restjwt.issuePair(user, { address: '127.0.0.1' });
    const { secret } = await enrolTotp(w.app, pair.access);
    const again = await w.signIn(new Browser(), 'bob-op');
    expect(again.status).toBe(302);
    const target = new URL(again.location ?? 'x:');
    expect(`${target.origin}${target.pathname}`).toBe(NEXT);
    const fragment = new URLSearchParams(target.hash.slice(1));
    expect(fragment.get('methods')).toBe('totp');
    expect(again.headers.getSetCookie().some((c) => /refresh=[^;]/.test(c) && !/Max-Age=0/.test(c))).toBe(false);
    const done = await w.app.post('/api/token/mfa/', { mfa_token: fragment.get('mfa_token'), code: await nextCode(w.app, secret) });
    expect(done.status, done.text).toBe(200);
    expect(done.headers.getSetCookie().some((c) => c.includes('refresh='))).toBe(true);
  });
});
