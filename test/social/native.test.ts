/**
 * The native (mobile) flow against a real OpenID Provider: the app signs in at the provider itself and sends us an
 * ID token (validated against the provider's JWKS: signature, issuer, audience, expiry, nonce) or an authorization
 * code with its PKCE verifier. Refusals carry their code, issue nothing and create nothing; failures count for the
 * login throttle.
 */
import { generateKeyPair, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMemoryRateCounter } from '@restjwt/core/memory';
import { claimsOf } from '../helpers/server.js';
import { socialState } from './app.js';
import { Browser } from './browser.js';
import { appAuthorize, appRedeem } from './op.js';
import { APP_REDIRECT, CLIENT_ID, CLIENT_SECRET, NATIVE_CLIENT_ID, NATIVE_REDIRECT, OTHER_CLIENT_ID, OTHER_CLIENT_SECRET, startWorld, type World } from './world.js';

const JWT_SHAPED = /[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}/;

/** An ID token the native app obtained for itself from the provider (a real flow, its own client). */
async function appIdToken(w: World, account: string, o: { clientId?: string; clientSecret?: string; nonce?: string } = {}): Promise<string> {
  const clientId = o.clientId ?? NATIVE_CLIENT_ID;
  const got = await appAuthorize(new Browser(), w.op, { clientId, redirectUri: NATIVE_REDIRECT, account, ...(o.nonce === undefined ? {} : { nonce: o.nonce }) });
  const tokens = await appRedeem(w.op, { clientId, ...(o.clientSecret === undefined ? {} : { clientSecret: o.clientSecret }), redirectUri: NATIVE_REDIRECT, ...got });
  return tokens.id_token;
}

async function refused(w: World, attempt: () => Promise<{ status: number; json: any; text: string }>, status: number, code: string): Promise<void> {
  const before = await socialState(w.app.store);
  const r = await attempt();
  expect(r.status, r.text).toBe(status);
  expect(r.json?.code, r.text).toBe(code);
  expect(r.text).not.toMatch(JWT_SHAPED);
  expect(await socialState(w.app.store)).toBe(before);
}

describe('native ID token', () => {
  let w: World;
  beforeAll(async () => {
    w = await startWorld({ settings: { rotateRefreshTokens: true, blacklistAfterRotation: true } });
  });
  afterAll(() => w.close());

  it('a valid ID token (with its nonce) gives a pair like /api/token/, for an ordinary family', async () => {
    const idToken = await appIdToken(w, 'alice-op', { nonce: 'app-nonce-1' });
    const res = await w.app.post('/api/auth/op/token', { id_token: idToken, nonce: 'app-nonce-1' });
    expect(res.status, res.text).toBe(200);
    expect(Object.keys(res.json).sort()).toEqual(['access', 'refresh']);
    expect(res.headers.get('cache-control')).toBe('no-store');
    const me = await w.app.get('/api/me/', { authorization: `Bearer ${res.json.access}` });
    expect(me.json).toMatchObject({ username: 'alice', email: 'alice@example.com' });
    const rotated = await w.app.post('/api/token/refresh/', { refresh: res.json.refresh });
    expect(rotated.status).toBe(200);
    expect((await w.app.post('/api/token/refresh/', { refresh: res.json.refresh })).status).toBe(401);
  });

  it('a valid ID token without a nonce is accepted without one', async () => {
    const idToken = await appIdToken(w, 'bob-op');
    const res = await w.app.post('/api/auth/op/token', { id_token: idToken });
    expect(res.status, res.text).toBe(200);
  });

  it('the same person through the browser and the native flow is one user', async () => {
    const browserPair = await w.pair(new Browser(), 'alice-op');
    const idToken = await appIdToken(w, 'alice-op');
    const res = await w.app.post('/api/auth/op/token', { id_token: idToken });
    expect(claimsOf(res.json.access).user_id).toBe(claimsOf(browserPair.access).user_id);
  });

  it('a wrong nonce is refused', async () => {
    const idToken = await appIdToken(w, 'alice-op', { nonce: 'the-real-nonce' });
    await refused(w, () => w.app.post('/api/auth/op/token', { id_token: idToken, nonce: 'another-nonce' }), 401, 'social_nonce_mismatch');
    // A token bound to a nonce presented without it is refused too (it belongs to some request we know nothing of).
    await refused(w, () => w.app.post('/api/auth/op/token', { id_token: idToken }), 401, 'social_nonce_mismatch');
    // And a nonce the token does not carry.
    const bare = await appIdToken(w, 'alice-op');
    await refused(w, () => w.app.post('/api/auth/op/token', { id_token: bare, nonce: 'x' }), 401, 'social_nonce_mismatch');
  });

  it('a wrong audience (an ID token minted by the provider for another client) is refused', async () => {
    w.op.accounts.set('frank-op', { email: 'frank@example.com', email_verified: true });
    const idToken = await appIdToken(w, 'frank-op', { clientId: OTHER_CLIENT_ID, clientSecret: OTHER_CLIENT_SECRET });
    expect(claimsOf(idToken).aud).toBe(OTHER_CLIENT_ID);
    await refused(w, () => w.app.post('/api/auth/op/token', { id_token: idToken }), 401, 'social_id_token_invalid');
    expect(await w.app.store.findUser('email', 'frank@example.com')).toBeNull();
  });

  it('forged, expired, foreign-issuer, several-audience and tampered tokens are refused', async () => {
    const now = Math.floor(Date.now() / 1000);
    const base = { sub: 'forged', aud: NATIVE_CLIENT_ID, email: 'forged@example.com', email_verified: true };
    // Signed with a key that is not the provider's.
    const { privateKey } = await generateKeyPair('RS256');
    const foreign = await new SignJWT({ ...base, iss: w.op.issuer, iat: now, exp: now + 600 }).setProtectedHeader({ alg: 'RS256', kid: 'op-key-1' }).sign(privateKey);
    await refused(w, () => w.app.post('/api/auth/op/token', { id_token: foreign }), 401, 'social_id_token_invalid');
    // HMAC with the client secret, or no signature at all.
    const hmac = await new SignJWT({ ...base, iss: w.op.issuer, iat: now, exp: now + 600 }).setProtectedHeader({ alg: 'HS256' }).sign(new TextEncoder().encode(CLIENT_SECRET));
    await refused(w, () => w.app.post('/api/auth/op/token', { id_token: hmac }), 401, 'social_id_token_invalid');
    const none = `${Buffer.from('{"alg":"none"}').toString('base64url')}.${Buffer.from(JSON.stringify({ ...base, iss: w.op.issuer, iat: now, exp: now + 600 })).toString('base64url')}.`;
    await refused(w, () => w.app.post('/api/auth/op/token', { id_token: none }), 401, 'social_id_token_invalid');
    // The provider's own key, but expired; issued too long ago; another issuer; several audiences without azp.
    await refused(w, () => w.op.sign({ ...base, iat: now - 1200, exp: now - 600 }).then((t) => w.app.post('/api/auth/op/token', { id_token: t })), 401, 'social_id_token_invalid');
    await refused(w, () => w.op.sign({ ...base, iat: now - 3600, exp: now + 600 }).then((t) => w.app.post('/api/auth/op/token', { id_token: t })), 401, 'social_id_token_invalid');
    await refused(w, () => w.op.sign({ ...base, iss: 'https://evil.example' }).then((t) => w.app.post('/api/auth/op/token', { id_token: t })), 401, 'social_id_token_invalid');
    await refused(w, () => w.op.sign({ ...base, aud: [NATIVE_CLIENT_ID, 'someone-else'] }).then((t) => w.app.post('/api/auth/op/token', { id_token: t })), 401, 'social_id_token_invalid');
    await refused(w, () => w.op.sign({ ...base, azp: 'someone-else' }).then((t) => w.app.post('/api/auth/op/token', { id_token: t })), 401, 'social_id_token_invalid');
    // A genuine token with its payload altered.
    const genuine = await w.op.sign(base);
    const [h, , s] = genuine.split('.');
    const altered = `${h}.${Buffer.from(JSON.stringify({ ...base, sub: 'admin', iss: w.op.issuer, iat: now, exp: now + 600 })).toString('base64url')}.${s}`;
    await refused(w, () => w.app.post('/api/auth/op/token', { id_token: altered }), 401, 'social_id_token_invalid');
    // The untouched one is fine (control).
    expect((await w.app.post('/api/auth/op/token', { id_token: genuine })).status).toBe(200);
  });

  it('bad requests are refused with a clear code', async () => {
    await refused(w, () => w.app.post('/api/auth/op/token', {}), 400, 'social_bad_request');
    await refused(w, () => w.app.post('/api/auth/op/token', { id_token: 42 }), 400, 'social_bad_request');
    await refused(w, () => w.app.post('/api/auth/op/token', { id_token: 'x'.repeat(20_000) }), 400, 'social_bad_request');
    await refused(w, () => w.app.post('/api/auth/op/token', { id_token: 'not.a.jwt' }), 401, 'social_id_token_invalid');
    await refused(w, () => w.app.post('/api/auth/nope/token', { id_token: 'x' }), 404, 'social_unknown_provider');
    const notJson = await w.app.send('POST', '/api/auth/op/token', { body: '{', headers: { 'content-type': 'application/json' } });
    expect(notJson.status).toBe(400);
    expect(notJson.json.code).toBe('parse_error');
  });
});

describe('native authorization code', () => {
  let w: World;
  beforeAll(async () => {
    w = await startWorld();
  });
  afterAll(() => w.close());

  it("the app's code, verifier and redirect URI give a pair; the code is single-use", async () => {
    const got = await appAuthorize(new Browser(), w.op, { clientId: CLIENT_ID, redirectUri: APP_REDIRECT, account: 'alice-op' });
    const body = { code: got.code, code_verifier: got.verifier, redirect_uri: APP_REDIRECT };
    const res = await w.app.post('/api/auth/op/token', body);
    expect(res.status, res.text).toBe(200);
    expect((await w.app.get('/api/me/', { authorization: `Bearer ${res.json.access}` })).json.username).toBe('alice');
    await refused(w, () => w.app.post('/api/auth/op/token', body), 400, 'social_code_invalid');
  });

  it('with the nonce the app sent', async () => {
    const got = await appAuthorize(new Browser(), w.op, { clientId: CLIENT_ID, redirectUri: APP_REDIRECT, account: 'bob-op', nonce: 'n-123' });
    const wrong = await w.app.post('/api/auth/op/token', { code: got.code, code_verifier: got.verifier, redirect_uri: APP_REDIRECT, nonce: 'n-999' });
    expect(wrong.status).toBe(401);
    expect(wrong.json.code).toBe('social_nonce_mismatch');
  });

  it('a wrong verifier is refused by the provider', async () => {
    const got = await appAuthorize(new Browser(), w.op, { clientId: CLIENT_ID, redirectUri: APP_REDIRECT, account: 'alice-op' });
    await refused(w, () => w.app.post('/api/auth/op/token', { code: got.code, code_verifier: 'A'.repeat(43), redirect_uri: APP_REDIRECT }), 400, 'social_code_invalid');
  });

  it('a redirect URI outside nativeRedirectUris is refused before the provider is asked', async () => {
    const got = await appAuthorize(new Browser(), w.op, { clientId: CLIENT_ID, redirectUri: APP_REDIRECT, account: 'alice-op' });
    await refused(w, () => w.app.post('/api/auth/op/token', { code: got.code, code_verifier: got.verifier, redirect_uri: w.callback }), 400, 'social_redirect_not_allowed');
    await refused(w, () => w.app.post('/api/auth/op/token', { code: got.code, code_verifier: 'short', redirect_uri: APP_REDIRECT }), 400, 'social_bad_request');
  });
});

describe('login throttle', () => {
  let w: World;
  beforeAll(async () => {
    w = await startWorld({
      settings: { loginThrottle: { perUsernameAndAddress: { limit: 3, windowSeconds: 60 } } },
      options: { rateCounter: createMemoryRateCounter() },
    });
  });
  afterAll(() => w.close());

  it('failed native sign-ins from an address are throttled (429 with Retry-After), valid ones too afterwards', async () => {
    const bad = await w.op.sign({ sub: 'x', aud: NATIVE_CLIENT_ID, iss: 'https://evil.example' });
    for (let i = 0; i < 3; i++) expect((await w.app.post('/api/auth/op/token', { id_token: bad })).status).toBe(401);
    const good = await appIdToken(w, 'alice-op');
    const res = await w.app.post('/api/auth/op/token', { id_token: good });
    expect(res.status).toBe(429);
    expect(res.json.code).toBe('throttled');
    expect(res.headers.get('retry-after')).toBe('60');
  });
});
