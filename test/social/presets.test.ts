/**
 * The arctic presets (GitHub, Google, Microsoft, GitLab): the authorization URL each builds (host, scopes, PKCE
 * where the provider supports it, nonce for the OpenID Connect ones), with no request to the real providers. Then
 * the callbacks against fakes: GitLab (its base URL is configurable) through the whole server flow against a local
 * fake GitLab; GitHub, Google and Microsoft (fixed endpoints) with `fetch` routed to in-process fakes.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWTPayload } from 'jose';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { GitHubProvider, GoogleProvider, MicrosoftProvider, SocialError } from '@restjwt/social';
import { claimsOf } from '../helpers/server.js';
import { reserveOrigin, startSocialApp, type SocialApp } from './app.js';
import { Browser } from './browser.js';
import { codeIn } from './world.js';

const NEXT = 'http://localhost:3000/done';
const challengeOf = (verifier: string) => createHash('sha256').update(verifier).digest('base64url');

describe('authorization URLs (no network)', () => {
  let app: SocialApp;
  beforeAll(async () => {
    app = await startSocialApp(await reserveOrigin(), {
      providers: {
        github: { type: 'github', clientId: 'gh-id', clientSecret: 'gh-secret' },
        google: { type: 'google', clientId: 'g-id.apps.googleusercontent.com', clientSecret: 'g-secret' },
        microsoft: { type: 'microsoft', clientId: 'ms-id', clientSecret: 'ms-secret' },
        entra: { type: 'microsoft', clientId: 'ms-id', clientSecret: 'ms-secret', tenant: '11111111-2222-3333-4444-555555555555' },
        gitlab: { type: 'gitlab', clientId: 'gl-id', clientSecret: 'gl-secret' },
        selfhosted: { type: 'gitlab', clientId: 'gl-id', clientSecret: 'gl-secret', baseUrl: 'https://git.example.com/gitlab/', scopes: ['read_user'] },
      },
      allowedRedirects: [NEXT],
    });
  });
  afterAll(() => app.close());

  const start = async (provider: string) => {
    const r = await app.get(`/api/auth/${provider}/login`);
    expect(r.status).toBe(302);
    return new URL(r.headers.get('location') ?? '');
  };
  const common = (url: URL, provider: string, clientId: string) => {
    expect(url.searchParams.get('response_type')).toBe('code');
    expect(url.searchParams.get('client_id')).toBe(clientId);
    expect(url.searchParams.get('redirect_uri')).toBe(`${app.url}/api/auth/${provider}/callback`);
    expect(url.searchParams.get('state')).toMatch(/^[\w-]{43}$/);
  };

  it('GitHub: github.com, read:user and user:email, state; no PKCE nor nonce (not in the preset)', async () => {
    const url = await start('github');
    expect(`${url.origin}${url.pathname}`).toBe('https://github.com/login/oauth/authorize');
    common(url, 'github', 'gh-id');
    expect(url.searchParams.get('scope')).toBe('read:user user:email');
    expect(url.searchParams.has('code_challenge')).toBe(false);
    expect(url.searchParams.has('nonce')).toBe(false);
  });

  it('Google: accounts.google.com, openid email profile, PKCE S256 and nonce', async () => {
    const url = await start('google');
    expect(`${url.origin}${url.pathname}`).toBe('https://accounts.google.com/o/oauth2/v2/auth');
    common(url, 'google', 'g-id.apps.googleusercontent.com');
    expect(url.searchParams.get('scope')).toBe('openid email profile');
    expect(url.searchParams.get('code_challenge_method')).toBe('S256');
    expect(url.searchParams.get('code_challenge')).toMatch(/^[\w-]{43}$/);
    expect(url.searchParams.get('nonce')).toMatch(/^[\w-]{43}$/);
  });

  it('Microsoft: login.microsoftonline.com/{tenant}, PKCE S256 and nonce', async () => {
    const url = await start('microsoft');
    expect(`${url.origin}${url.pathname}`).toBe('https://login.microsoftonline.com/common/oauth2/v2.0/authorize');
    common(url, 'microsoft', 'ms-id');
    expect(url.searchParams.get('scope')).toBe('openid email profile');
    expect(url.searchParams.get('code_challenge_method')).toBe('S256');
    expect(url.searchParams.get('nonce')).toMatch(/^[\w-]{43}$/);
    const tenant = await start('entra');
    expect(tenant.pathname).toBe('/11111111-2222-3333-4444-555555555555/oauth2/v2.0/authorize');
  });

  it('GitLab: gitlab.com or a self-managed base URL, openid profile email (or configured scopes), PKCE S256', async () => {
    const url = await start('gitlab');
    expect(`${url.origin}${url.pathname}`).toBe('https://gitlab.com/oauth/authorize');
    common(url, 'gitlab', 'gl-id');
    expect(url.searchParams.get('scope')).toBe('openid profile email');
    expect(url.searchParams.get('code_challenge_method')).toBe('S256');
    const self = await start('selfhosted');
    expect(`${self.origin}${self.pathname}`).toBe('https://git.example.com/gitlab/oauth/authorize');
    expect(self.searchParams.get('scope')).toBe('read_user');
  });

  it('every login has its own state, nonce and verifier', async () => {
    const a = await start('google');
    const b = await start('google');
    for (const p of ['state', 'nonce', 'code_challenge']) expect(a.searchParams.get(p)).not.toBe(b.searchParams.get(p));
  });
});

/** A fake GitLab: authorize (auto-approves), token (client auth, single-use code, PKCE S256), userinfo. */
async function startFakeGitLab(profile: Record<string, unknown>): Promise<{ url: string; close(): Promise<void> }> {
  const codes = new Map<string, { challenge: string; redirectUri: string }>();
  const tokens = new Set<string>();
  const server: Server = createServer(async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const json = (status: number, body: unknown) => res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    if (url.pathname === '/gl/oauth/authorize') {
      const code = randomBytes(16).toString('hex');
      codes.set(code, { challenge: url.searchParams.get('code_challenge') ?? '', redirectUri: url.searchParams.get('redirect_uri') ?? '' });
      const back = new URL(url.searchParams.get('redirect_uri') ?? '');
      back.searchParams.set('code', code);
      back.searchParams.set('state', url.searchParams.get('state') ?? '');
      return res.writeHead(302, { location: back.href }).end();
    }
    if (url.pathname === '/gl/oauth/token' && req.method === 'POST') {
      const body = new URLSearchParams(await text(req));
      if (req.headers.authorization !== `Basic ${Buffer.from('gl-id:gl-secret').toString('base64')}`) return json(401, { error: 'invalid_client' });
      const entry = codes.get(body.get('code') ?? '');
      codes.delete(body.get('code') ?? '');
      if (entry === undefined || entry.redirectUri !== body.get('redirect_uri') || challengeOf(body.get('code_verifier') ?? '') !== entry.challenge) return json(400, { error: 'invalid_grant' });
      const token = randomBytes(16).toString('hex');
      tokens.add(token);
      return json(200, { access_token: token, token_type: 'Bearer' });
    }
    if (url.pathname === '/gl/oauth/userinfo') {
      if (!tokens.has((req.headers.authorization ?? '').replace(/^Bearer /, ''))) return json(401, { error: 'invalid_token' });
      return json(200, profile);
    }
    json(404, {});
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/gl`, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

async function text(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

describe('GitLab preset against a local fake GitLab (whole server flow)', () => {
  let gitlab: { url: string; close(): Promise<void> };
  let app: SocialApp;
  beforeAll(async () => {
    gitlab = await startFakeGitLab({ sub: '4242', nickname: 'gina', name: 'Gina', email: 'gina@example.com', email_verified: true });
    app = await startSocialApp(await reserveOrigin(), {
      providers: { gitlab: { type: 'gitlab', clientId: 'gl-id', clientSecret: 'gl-secret', baseUrl: gitlab.url } },
      allowedRedirects: [NEXT],
    });
  });
  afterAll(async () => {
    await app.close();
    await gitlab.close();
  });

  it('login → GitLab → callback (code + PKCE verifier) → userinfo → pair', async () => {
    const b = new Browser();
    const start = await b.get(`${app.url}/api/auth/gitlab/login`);
    const atGitLab = await b.get(start.location ?? '');
    const callback = atGitLab.location ?? '';
    expect(callback.startsWith(`${app.url}/api/auth/gitlab/callback?`)).toBe(true);
    const landed = await b.get(callback);
    expect(landed.status, landed.text).toBe(302);
    const pair = await b.post(`${app.url}/api/auth/exchange/`, { code: codeIn(landed.location) });
    expect(pair.status).toBe(200);
    const user = await app.store.findUser('id', String(claimsOf(pair.json.access).user_id));
    expect(user).toMatchObject({ username: 'gina', email: 'gina@example.com', passwordHash: '' });

    // The same code under a fresh state: GitLab refuses it (single-use, and bound to the first verifier).
    const again = await b.get(`${app.url}/api/auth/gitlab/login`);
    const u = new URL(callback);
    u.searchParams.set('state', new URL(again.location ?? '').searchParams.get('state') ?? '');
    const replay = await b.get(u.href);
    expect(replay.status).toBe(400);
    expect(replay.json.code).toBe('social_code_invalid');
  });
});

/** Routes `fetch` to fakes by origin; other origins (our own server) go through. */
function routeFetch(routes: Record<string, (req: Request) => Response | Promise<Response>>): void {
  const real = globalThis.fetch;
  vi.stubGlobal('fetch', async (input: string | URL | Request, init?: RequestInit) => {
    const req = new Request(input, init);
    const route = routes[new URL(req.url).origin];
    return route === undefined ? real(input, init) : route(req);
  });
}

const jsonResponse = (status: number, body: unknown) => new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });

describe('GitHub preset (fetch routed to a fake GitHub)', () => {
  afterEach(() => vi.unstubAllGlobals());
  const provider = () => new GitHubProvider({ type: 'github', clientId: 'gh-id', clientSecret: 'gh-secret' });
  const callback = (code = 'good-code') => provider().callback({ query: new URLSearchParams({ code, state: 's' }), state: 's', nonce: 'n', codeVerifier: 'v' }, 'https://api.example.com/api/auth/github/callback');

  function fakeGitHub(emails: { status: number; body: unknown }) {
    routeFetch({
      'https://github.com': async (req) => {
        const body = new URLSearchParams(await req.text());
        // GitHub answers errors with 200 and an error body.
        if (body.get('code') !== 'good-code') return jsonResponse(200, { error: 'bad_verification_code' });
        return jsonResponse(200, { access_token: 'gho_token', token_type: 'bearer', scope: 'read:user,user:email' });
      },
      'https://api.github.com': (req) => {
        if (req.headers.get('authorization') !== 'Bearer gho_token') return jsonResponse(401, {});
        const path = new URL(req.url).pathname;
        if (path === '/user') return jsonResponse(200, { id: 583231, login: 'octocat', name: 'The Octocat', email: 'public@octocat.example' });
        if (path === '/user/emails') return jsonResponse(emails.status, emails.body);
        return jsonResponse(404, {});
      },
    });
  }

  it('the numeric id is the subject; the verified primary address is the verified email', async () => {
    fakeGitHub({
      status: 200,
      body: [
        { email: 'old@octocat.example', primary: false, verified: false },
        { email: 'octo@octocat.example', primary: true, verified: true },
      ],
    });
    expect(await callback()).toEqual({ subject: '583231', email: 'octo@octocat.example', emailVerified: true, name: 'The Octocat', username: 'octocat' });
  });

  it('without a verified address, the public profile email is unverified', async () => {
    fakeGitHub({ status: 200, body: [{ email: 'octo@octocat.example', primary: true, verified: false }] });
    expect(await callback()).toMatchObject({ email: 'public@octocat.example', emailVerified: false });
    fakeGitHub({ status: 403, body: { message: 'Resource not accessible by integration' } });
    expect(await callback()).toMatchObject({ email: 'public@octocat.example', emailVerified: false });
  });

  it("GitHub's bad_verification_code is social_code_invalid; a denied authorization is social_provider_denied", async () => {
    fakeGitHub({ status: 200, body: [] });
    await expect(callback('used-code')).rejects.toMatchObject({ code: 'social_code_invalid' });
    await expect(
      provider().callback({ query: new URLSearchParams({ error: 'access_denied', state: 's' }), state: 's', nonce: 'n', codeVerifier: 'v' }, 'https://x/cb'),
    ).rejects.toBeInstanceOf(SocialError);
  });
});

/** A fake OpenID Connect token endpoint and JWKS, with ID tokens signed by a local key. */
async function fakeOidc(o: { tokenUrl: string; jwksUrl: string; idToken: (code: string) => Promise<JWTPayload> }): Promise<(claims: JWTPayload) => Promise<string>> {
  const { privateKey, publicKey } = await generateKeyPair('RS256', { extractable: true });
  const jwk = { ...(await exportJWK(publicKey)), kid: 'k1', alg: 'RS256', use: 'sig' };
  const sign = (claims: JWTPayload) => new SignJWT(claims).setProtectedHeader({ alg: 'RS256', kid: 'k1' }).sign(privateKey as CryptoKey);
  const token = new URL(o.tokenUrl);
  const jwks = new URL(o.jwksUrl);
  const handler = async (req: Request): Promise<Response> => {
    const path = new URL(req.url).pathname;
    if (path === jwks.pathname) return jsonResponse(200, { keys: [jwk] });
    if (path !== token.pathname) return jsonResponse(404, {});
    const body = new URLSearchParams(await req.text());
    if (body.get('code') === 'used') return jsonResponse(400, { error: 'invalid_grant' });
    return jsonResponse(200, { access_token: 'at', token_type: 'Bearer', id_token: await sign(await o.idToken(body.get('code') ?? '')) });
  };
  routeFetch({ [token.origin]: handler, [jwks.origin]: handler });
  return sign;
}

describe('Google preset (fetch routed to a fake Google)', () => {
  afterEach(() => vi.unstubAllGlobals());
  const now = () => Math.floor(Date.now() / 1000);
  const google = () => new GoogleProvider({ type: 'google', clientId: 'g-id', clientSecret: 'g-secret', audiences: ['android-id'] });
  const claims = (extra: JWTPayload = {}): JWTPayload => ({ iss: 'https://accounts.google.com', aud: 'g-id', sub: '1100', email: 'g@example.com', email_verified: true, name: 'G', iat: now(), exp: now() + 3600, ...extra });

  it("the callback checks the ID token against Google's keys and the login's nonce", async () => {
    await fakeOidc({ tokenUrl: 'https://oauth2.googleapis.com/token', jwksUrl: 'https://www.googleapis.com/oauth2/v3/certs', idToken: async (code) => claims({ nonce: code === 'replayed-nonce' ? 'other' : 'n-1' }) });
    const cb = (code: string) => google().callback({ query: new URLSearchParams({ code, state: 's' }), state: 's', nonce: 'n-1', codeVerifier: 'v'.repeat(43) }, 'https://api.example.com/cb');
    expect(await cb('good')).toEqual({ subject: '1100', email: 'g@example.com', emailVerified: true, name: 'G', username: null });
    await expect(cb('replayed-nonce')).rejects.toMatchObject({ code: 'social_nonce_mismatch' });
    await expect(cb('used')).rejects.toMatchObject({ code: 'social_code_invalid' });
  });

  it('native ID tokens: audience (ours or an app of ours), issuer with or without https, age', async () => {
    const sign = await fakeOidc({ tokenUrl: 'https://oauth2.googleapis.com/token', jwksUrl: 'https://www.googleapis.com/oauth2/v3/certs', idToken: async () => claims() });
    const p = google();
    expect((await p.verifyIdToken(await sign(claims()), undefined)).subject).toBe('1100');
    expect((await p.verifyIdToken(await sign(claims({ iss: 'accounts.google.com', aud: 'g-id', azp: 'android-id' })), undefined)).subject).toBe('1100');
    await expect(p.verifyIdToken(await sign(claims({ aud: 'someone-else' })), undefined)).rejects.toMatchObject({ code: 'social_id_token_invalid' });
    await expect(p.verifyIdToken(await sign(claims({ iss: 'https://evil.example' })), undefined)).rejects.toMatchObject({ code: 'social_id_token_invalid' });
    await expect(p.verifyIdToken(await sign(claims({ iat: now() - 3000 })), undefined)).rejects.toMatchObject({ code: 'social_id_token_invalid' });
    expect((await p.verifyIdToken(await sign(claims({ email_verified: false })), undefined)).emailVerified).toBe(false);
  });
});

describe('Microsoft preset (fetch routed to a fake Microsoft)', () => {
  afterEach(() => vi.unstubAllGlobals());
  const now = () => Math.floor(Date.now() / 1000);
  const TID = '11111111-2222-3333-4444-555555555555';
  const claims = (extra: JWTPayload = {}): JWTPayload => ({
    iss: `https://login.microsoftonline.com/${TID}/v2.0`,
    tid: TID,
    aud: 'ms-id',
    sub: 'pairwise-sub',
    email: 'm@contoso.example',
    preferred_username: 'm@contoso.example',
    iat: now(),
    exp: now() + 3600,
    ...extra,
  });

  it("Microsoft's email claim is unverified unless xms_edov says otherwise", async () => {
    const sign = await fakeOidc({ tokenUrl: 'https://login.microsoftonline.com/common/oauth2/v2.0/token', jwksUrl: 'https://login.microsoftonline.com/common/discovery/v2.0/keys', idToken: async () => claims({ nonce: 'n' }) });
    const p = new MicrosoftProvider({ type: 'microsoft', clientId: 'ms-id', clientSecret: 's' });
    expect(await p.verifyIdToken(await sign(claims()), undefined)).toMatchObject({ subject: 'pairwise-sub', email: 'm@contoso.example', emailVerified: false });
    expect(await p.verifyIdToken(await sign(claims({ xms_edov: true })), undefined)).toMatchObject({ emailVerified: true });
    // The browser callback: the code exchange at the tenant's token endpoint, then the same checks with the nonce.
    const cb = await p.callback({ query: new URLSearchParams({ code: 'c', state: 's' }), state: 's', nonce: 'n', codeVerifier: 'v'.repeat(43) }, 'https://api.example.com/cb');
    expect(cb).toMatchObject({ subject: 'pairwise-sub', emailVerified: false });
  });

  it("the issuer must name the token's tenant, and the configured tenant when it is an id", async () => {
    const sign = await fakeOidc({ tokenUrl: `https://login.microsoftonline.com/${TID}/oauth2/v2.0/token`, jwksUrl: `https://login.microsoftonline.com/${TID}/discovery/v2.0/keys`, idToken: async () => claims() });
    const p = new MicrosoftProvider({ type: 'microsoft', clientId: 'ms-id', clientSecret: 's', tenant: TID });
    expect((await p.verifyIdToken(await sign(claims()), undefined)).subject).toBe('pairwise-sub');
    const OTHER = '99999999-2222-3333-4444-555555555555';
    await expect(p.verifyIdToken(await sign(claims({ tid: OTHER, iss: `https://login.microsoftonline.com/${OTHER}/v2.0` })), undefined)).rejects.toMatchObject({ code: 'social_id_token_invalid' });
    await expect(p.verifyIdToken(await sign(claims({ iss: `https://login.microsoftonline.com/${OTHER}/v2.0` })), undefined)).rejects.toMatchObject({ code: 'social_id_token_invalid' });
  });
});
