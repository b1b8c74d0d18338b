/**
 * The browser flow against a real OpenID Provider: redirect, login and consent at the provider, callback, and the
 * pair (Bearer delivery through the one-time code; cookie delivery through HttpOnly cookies). The pair is an
 * ordinary family: it authenticates, rotates, and its reuse is detected. Accounts: created without a password,
 * found again, linked by verified email when allowed, linked and unlinked by the signed-in user.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { claimsOf } from '../helpers/server.js';
import { identitiesOf } from './app.js';
import { Browser } from './browser.js';
import { codeIn, NEXT, OTHER_NEXT, startWorld, type World } from './world.js';

const ROTATION = { rotateRefreshTokens: true, blacklistAfterRotation: true };

describe('Bearer delivery (one-time code)', () => {
  let w: World;
  beforeAll(async () => {
    w = await startWorld({ settings: ROTATION });
  });
  afterAll(() => w.close());

  it('login redirects to the provider with state, nonce and PKCE (S256), and sets the browser binding', async () => {
    const b = new Browser();
    const start = await b.get(`${w.app.url}/api/auth/op/login`);
    expect(start.status).toBe(302);
    const url = new URL(start.location ?? '');
    expect(url.origin).toBe(w.op.issuer);
    expect(url.searchParams.get('client_id')).toBe('restjwt');
    expect(url.searchParams.get('redirect_uri')).toBe(w.callback);
    expect(url.searchParams.get('code_challenge_method')).toBe('S256');
    expect(url.searchParams.get('state')).toMatch(/^[\w-]{43}$/);
    expect(url.searchParams.get('nonce')).toMatch(/^[\w-]{43}$/);
    expect(url.searchParams.get('code_challenge')).toMatch(/^[\w-]{43}$/);
    expect(start.headers.get('cache-control')).toBe('no-store');
    expect(start.setCookies).toHaveLength(1);
    expect(start.setCookies[0]).toMatch(/^restjwt-social=[\w-]{43}; Path=\/api\/auth\/; Max-Age=600; HttpOnly; SameSite=Lax$/);
  });

  it('the full flow: callback → next#code → exchange → a pair for a new user without a password', async () => {
    const b = new Browser();
    const landed = await w.signIn(b, 'alice-op');
    expect(landed.status).toBe(302);
    expect(landed.location?.startsWith(`${NEXT}#code=`)).toBe(true);
    // Nothing secret in the callback's answer itself, and the binding cookie is gone.
    expect(landed.text).toBe('');
    expect(landed.setCookies.some((c) => /^restjwt-social=;.*Max-Age=0/.test(c))).toBe(true);
    expect(b.cookie(w.app.url, 'restjwt-social')).toBeUndefined();

    const ex = await b.post(`${w.app.url}/api/auth/exchange/`, { code: codeIn(landed.location) });
    expect(ex.status).toBe(200);
    expect(ex.headers.get('cache-control')).toBe('no-store');
    expect(Object.keys(ex.json).sort()).toEqual(['access', 'refresh']);

    const user = await w.app.store.findUser('id', String(claimsOf(ex.json.access).user_id));
    expect(user).toMatchObject({ username: 'alice', email: 'alice@example.com', passwordHash: '', isActive: true, isStaff: false });
    const ids = await identitiesOf(w.app.store, user?.id ?? '');
    expect(ids).toMatchObject([{ provider: 'op', subject: 'alice-op', email: 'alice@example.com' }]);
  });

  it('the pair works on /api/protected/ and /api/me/, refresh rotates, and reuse revokes the family', async () => {
    const b = new Browser();
    const pair = await w.pair(b, 'bob-op');
    const me = await w.app.get('/api/me/', { authorization: `Bearer ${pair.access}` });
    expect(me.status).toBe(200);
    expect(me.json.username).toBe('bob');
    expect((await w.app.get('/api/protected/', { authorization: `Bearer ${pair.access}` })).status).toBe(200);

    const r1 = await w.app.post('/api/token/refresh/', { refresh: pair.refresh });
    expect(r1.status).toBe(200);
    expect(r1.json.refresh).not.toBe(pair.refresh);
    // The first refresh token again: reuse. The whole family is revoked, the rotated token included.
    const reuse = await w.app.post('/api/token/refresh/', { refresh: pair.refresh });
    expect(reuse.status).toBe(401);
    expect(reuse.json.code).toBe('token_not_valid');
    const after = await w.app.post('/api/token/refresh/', { refresh: r1.json.refresh });
    expect(after.status).toBe(401);
  });

  it('a second sign-in finds the same user (no new user, no new identity) and starts a new family', async () => {
    const b = new Browser();
    const first = await w.pair(b, 'alice-op');
    const users = (await w.app.store.listUsers()).length;
    const second = await w.pair(new Browser(), 'alice-op');
    expect(claimsOf(second.access).user_id).toBe(claimsOf(first.access).user_id);
    expect((await w.app.store.listUsers()).length).toBe(users);
    expect(claimsOf(second.refresh).jti).not.toBe(claimsOf(first.refresh).jti);
  });

  it('next picks another allowed landing URL', async () => {
    const landed = await w.signIn(new Browser(), 'alice-op', OTHER_NEXT);
    expect(landed.location?.startsWith(`${OTHER_NEXT}#code=`)).toBe(true);
  });

  it('a provider without an email creates a user with no email; its username comes from the profile', async () => {
    const pair = await w.pair(new Browser(), 'nomail');
    const user = await w.app.store.findUser('id', String(claimsOf(pair.access).user_id));
    expect(user).toMatchObject({ username: 'nomail', email: '', passwordHash: '' });
  });

  it('a taken username gets a suffix instead of failing', async () => {
    await w.app.store.createUser({ username: 'carol', email: 'someone-else@example.com', passwordHash: '' });
    w.op.accounts.set('carol-op', { email: 'carol@example.com', email_verified: true, preferred_username: 'carol' });
    const pair = await w.pair(new Browser(), 'carol-op');
    const user = await w.app.store.findUser('id', String(claimsOf(pair.access).user_id));
    expect(user?.username).toMatch(/^carol-[0-9a-f]{6}$/);
  });

  it('a user with no password cannot use /api/token/ but signs in socially', async () => {
    const pair = await w.pair(new Browser(), 'alice-op');
    const user = await w.app.store.findUser('id', String(claimsOf(pair.access).user_id));
    const res = await w.app.post('/api/token/', { username: user?.username, password: '' });
    expect(res.status).toBe(400);
    const res2 = await w.app.post('/api/token/', { username: user?.username, password: 'anything' });
    expect(res2.status).toBe(401);
  });

  it('an inactive linked user is refused and gets nothing', async () => {
    w.op.accounts.set('dave-op', { email: 'dave@example.com', email_verified: true, preferred_username: 'dave' });
    const pair = await w.pair(new Browser(), 'dave-op');
    await w.app.store.setActive(String(claimsOf(pair.access).user_id), false);
    const landed = await w.signIn(new Browser(), 'dave-op');
    expect(landed.status).toBe(401);
    expect(landed.json).toEqual({ detail: 'User is inactive', code: 'social_user_inactive' });
  });
});

describe('cookie delivery (cookieMode on)', () => {
  let w: World;
  beforeAll(async () => {
    w = await startWorld({ settings: { ...ROTATION, cookieMode: 'refresh', cookieSecure: false } });
  });
  afterAll(() => w.close());

  it('the callback sets the refresh and CSRF cookies and redirects to next; the page then refreshes by cookie', async () => {
    const b = new Browser();
    const landed = await w.signIn(b, 'alice-op');
    expect(landed.status).toBe(302);
    expect(landed.location).toBe(NEXT);
    const refreshCookie = landed.setCookies.find((c) => c.startsWith('restjwt-refresh='));
    expect(refreshCookie).toMatch(/Path=\/api\/token\/; Max-Age=\d+; HttpOnly; SameSite=Strict/);
    expect(landed.setCookies.some((c) => c.startsWith('restjwt-csrf='))).toBe(true);
    // No token anywhere in the URL.
    expect(landed.location).not.toMatch(/eyJ/);

    const csrf = b.cookie(w.app.url, 'restjwt-csrf') ?? '';
    const refreshed = await b.post(`${w.app.url}/api/token/refresh/`, {}, { 'x-csrf-token': csrf });
    expect(refreshed.status).toBe(200);
    expect(typeof refreshed.json.access).toBe('string');
    expect(refreshed.json.refresh).toBeUndefined();
    const me = await w.app.get('/api/me/', { authorization: `Bearer ${refreshed.json.access}` });
    expect(me.json.username).toBe('alice');
  });
});

describe('accounts: linking by verified email, link and unlink', () => {
  let w: World;
  beforeAll(async () => {
    w = await startWorld({ social: { linkByVerifiedEmail: true } });
  });
  afterAll(() => w.close());

  it('links a first sign-in to the existing user with the same, verified, email', async () => {
    const existing = await w.app.store.createUser({ username: 'bob-local', email: 'bob@example.com', passwordHash: 'x$y' });
    const pair = await w.pair(new Browser(), 'bob-op');
    expect(claimsOf(pair.access).user_id).toBe(existing.id);
    expect(await identitiesOf(w.app.store, existing.id)).toMatchObject([{ provider: 'op', subject: 'bob-op' }]);
  });

  it('a signed-in user links a provider, lists it, and unlinks it; the last way to sign in cannot be unlinked', async () => {
    // Alice signs in socially (no password) …
    const alice = await w.pair(new Browser(), 'alice-op');
    const auth = { authorization: `Bearer ${alice.access}` };
    const list = await w.app.get('/api/auth/identities/', auth);
    expect(list.status).toBe(200);
    expect(list.json).toMatchObject({ identities: [{ provider: 'op', subject: 'alice-op' }], has_usable_password: false });
    // … her only identity is her only way in.
    const refused = await w.app.send('DELETE', '/api/auth/identities/op/alice-op/', { headers: auth });
    expect(refused.status).toBe(409);
    expect(refused.json.code).toBe('social_last_login_method');

    // She links a second account of the provider (the link flow: POST, then the browser goes through the provider).
    w.op.accounts.set('alice-work', { email: 'alice@work.example', email_verified: true });
    const b = new Browser();
    const started = await b.post(`${w.app.url}/api/auth/op/link`, { next: OTHER_NEXT }, auth);
    expect(started.status).toBe(200);
    const cb = await b.throughProvider(started.json.authorization_url, 'alice-work', w.callback);
    const linked = await b.get(cb);
    expect(linked.status).toBe(302);
    expect(linked.location).toBe(OTHER_NEXT);
    const after = await w.app.get('/api/auth/identities/', auth);
    expect(after.json.identities.map((i: { subject: string }) => i.subject).sort()).toEqual(['alice-op', 'alice-work']);
    // Signing in with the new identity is signing in as Alice.
    const viaWork = await w.pair(new Browser(), 'alice-work');
    expect(claimsOf(viaWork.access).user_id).toBe(claimsOf(alice.access).user_id);

    // Now one can go.
    const gone = await w.app.send('DELETE', '/api/auth/identities/op/alice-op/', { headers: auth });
    expect(gone.status).toBe(204);
    const last = await w.app.send('DELETE', '/api/auth/identities/op/alice-work/', { headers: auth });
    expect(last.json.code).toBe('social_last_login_method');
    const unknown = await w.app.send('DELETE', '/api/auth/identities/op/nobody/', { headers: auth });
    expect(unknown.status).toBe(404);
    expect(unknown.json.code).toBe('social_identity_not_found');
  });

  it('linking an identity that belongs to someone else is refused', async () => {
    const other = await w.pair(new Browser(), 'nomail');
    const b = new Browser();
    const started = await b.post(`${w.app.url}/api/auth/op/link`, {}, { authorization: `Bearer ${other.access}` });
    const cb = await b.throughProvider(started.json.authorization_url, 'alice-work', w.callback);
    const res = await b.get(cb);
    expect(res.status).toBe(409);
    expect(res.json.code).toBe('social_identity_in_use');
  });

  it('link, identities and unlink need a signed-in user', async () => {
    expect((await w.app.get('/api/auth/identities/')).status).toBe(401);
    expect((await w.app.post('/api/auth/op/link', {})).status).toBe(401);
    expect((await w.app.send('DELETE', '/api/auth/identities/op/alice-op/')).status).toBe(401);
    expect((await w.app.get('/api/auth/identities/', { authorization: 'Bearer not-a-token' })).json.code).toBe('token_not_valid');
  });

  it('a user with a password may unlink the only identity', async () => {
    // bob-local has a password hash ("x$y" stands for one) and the op identity linked above.
    const withPassword = await w.app.store.findUser('username', 'bob-local');
    const pair = await w.pair(new Browser(), 'bob-op');
    expect(claimsOf(pair.access).user_id).toBe(withPassword?.id);
    const res = await w.app.send('DELETE', '/api/auth/identities/op/bob-op/', { headers: { authorization: `Bearer ${pair.access}` } });
    expect(res.status).toBe(204);
  });
});

describe('no user creation', () => {
  let w: World;
  beforeAll(async () => {
    w = await startWorld({ social: { createUsers: false } });
  });
  afterAll(() => w.close());

  it('an unknown identity is refused (403) and nothing is created', async () => {
    const before = (await w.app.store.listUsers()).length;
    const res = await w.signIn(new Browser(), 'alice-op');
    expect(res.status).toBe(403);
    expect(res.json).toMatchObject({ code: 'social_account_not_found' });
    expect((await w.app.store.listUsers()).length).toBe(before);
    expect(await w.app.store.countTokens()).toEqual({ outstanding: 0, blacklisted: 0 });
  });
});
