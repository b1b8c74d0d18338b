import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cookieStorage, inProcessLock, RestJwtClient, RestJwtClientError, type CookieModeStorage } from '@restjwt/core/client';
import { claimsOf, PASSWORD, startApp, type TestApp } from '../helpers/server.js';
import { cookieJar, type CookieJar } from './cookie-jar.js';

const CSRF = 'restjwt-csrf';
const REFRESH = 'restjwt-refresh';

describe('RestJwtClient in cookie mode against the reference server (cookieMode refresh, rotation + blacklist)', () => {
  let t: TestApp;
  let channelNo = 0;
  beforeAll(async () => {
    t = await startApp({ cookieMode: 'refresh', cookieSecure: false, rotateRefreshTokens: true, blacklistAfterRotation: true, accessTokenLifetime: 60 });
    await t.user('carol');
    await t.user('dave');
  });
  afterAll(() => t.close());

  /** One "tab": a client whose cookies are the jar's (one jar = one browser) and whose `document.cookie` it reads. */
  const tab = (jar: CookieJar, extra: Partial<ConstructorParameters<typeof RestJwtClient>[0]> = {}) => {
    const storage: CookieModeStorage = cookieStorage({ cookies: jar.documentCookie });
    const client = new RestJwtClient({ baseUrl: t.url, fetch: jar.fetch, storage, channel: `cookie-${channelNo++}`, lock: inProcessLock, ...extra });
    return { client, storage };
  };
  const refreshes = (jar: CookieJar) => jar.sent.filter((r) => r.path === '/api/token/refresh/');

  it('logs in without the refresh token ever reaching JavaScript, and calls a protected route', async () => {
    const jar = cookieJar();
    const { client, storage } = tab(jar);
    await client.login({ username: 'carol', password: PASSWORD });
    const pair = storage.get();
    expect(pair?.refresh).toBeUndefined();
    expect(claimsOf(pair!.access).token_type).toBe('access');
    // The refresh token is in an HttpOnly cookie scoped to the token endpoints; JavaScript sees only the CSRF cookie.
    expect(jar.all()[REFRESH]).toMatchObject({ httpOnly: true, path: '/api/token/' });
    expect(jar.documentCookie()).toMatch(new RegExp(`^${CSRF}=[\\w-]+$`));
    expect(jar.sent[0]).toMatchObject({ path: '/api/token/', credentials: 'include' });
    const res = await client.fetch(`${t.url}/api/protected/`);
    expect(res.status).toBe(200);
    // Not sent with API calls: its path is the token endpoints'.
    expect(jar.sent.at(-1)!.cookie).not.toContain(REFRESH);
    expect(client.loggedIn).toBe(true);
    client.close();
  });

  it('refreshes with an empty body, the CSRF header and the cookie: single flight for 10 requests', async () => {
    const jar = cookieJar();
    let now = Date.now();
    const { client, storage } = tab(jar, { now: () => now });
    await client.login({ username: 'carol', password: PASSWORD });
    const before = jar.all()[REFRESH]!.value;
    const first = storage.get()!.access;
    // The server's clock may already be ahead (earlier tests advanced it): go 45 s past this token's issue.
    now = (claimsOf(first).iat as number) * 1000 + 45_000;
    t.advance(45_000);
    const events: string[] = [];
    client.on('refresh', () => events.push('refresh'));
    const answers = await Promise.all(Array.from({ length: 10 }, () => client.fetch(`${t.url}/api/protected/`)));
    expect(answers.map((a) => a.status)).toEqual(Array(10).fill(200));
    const sent = refreshes(jar);
    expect(sent).toHaveLength(1);
    expect(sent[0]!.body).toBe('{}');
    expect(sent[0]!.credentials).toBe('include');
    expect(sent[0]!.cookie).toContain(`${REFRESH}=${before}`);
    expect(sent[0]!.headers.get('x-csrf-token')).toBe(sent[0]!.cookie.match(new RegExp(`${CSRF}=([\\w-]+)`))![1]);
    expect(events).toEqual(['refresh']);
    // Rotated: a new refresh cookie (and a new CSRF secret); the old one is blacklisted.
    expect(jar.all()[REFRESH]!.value).not.toBe(before);
    expect(storage.get()!.access).not.toBe(first);
    expect(storage.get()!.refresh).toBeUndefined();
    expect((await t.post('/api/token/refresh/', { refresh: before })).json).toMatchObject({ code: 'token_not_valid' });
    client.close();
  });

  it('refreshes once and retries once after a 401', async () => {
    const jar = cookieJar();
    const { client, storage } = tab(jar);
    await client.login({ username: 'carol', password: PASSWORD });
    storage.set({ access: `${storage.get()!.access.slice(0, -4)}AAAA` });
    const res = await client.fetch(`${t.url}/api/protected/`);
    expect(res.status).toBe(200);
    expect(refreshes(jar)).toHaveLength(1);
    expect(jar.sent.filter((r) => r.path === '/api/protected/')).toHaveLength(2);
    client.close();
  });

  it('resumes after a reload: a new client with only the cookies gets an access token', async () => {
    const jar = cookieJar();
    const first = tab(jar);
    await first.client.login({ username: 'carol', password: PASSWORD });
    first.client.close();
    const reloaded = tab(jar);
    expect(reloaded.storage.get()).toBeNull();
    expect(reloaded.client.loggedIn).toBe(true);
    expect(await reloaded.client.resume()).toBe(true);
    expect(reloaded.client.claims?.token_type).toBe('access');
    expect((await reloaded.client.fetch(`${t.url}/api/me/`)).status).toBe(200);
    reloaded.client.close();
    // No cookies at all: nothing to resume, and no request is made.
    const empty = cookieJar();
    const fresh = tab(empty);
    expect(fresh.client.loggedIn).toBe(false);
    expect(await fresh.client.resume()).toBe(false);
    expect(empty.sent).toEqual([]);
    await expect(fresh.client.fetch(`${t.url}/api/protected/`)).rejects.toMatchObject({ code: 'not_logged_in' });
    fresh.client.close();
  });

  it('a CSRF refusal (403) is reported with its code and does not end the session', async () => {
    const jar = cookieJar();
    const { client } = tab(jar, { storage: cookieStorage({ cookies: () => `${CSRF}=not-the-cookie-value` }) });
    await client.login({ username: 'carol', password: PASSWORD });
    const events: string[] = [];
    client.on('logout', () => events.push('logout'));
    const err = await client.refresh().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RestJwtClientError);
    expect(err).toMatchObject({ status: 403, code: 'csrf_failed', detail: 'CSRF Failed: CSRF token missing or incorrect.' });
    expect(events).toEqual([]);
    expect(client.loggedIn).toBe(true);
    client.close();
  });

  it('two tabs refreshing at once share one rotation; neither is logged out and the family survives', async () => {
    const jar = cookieJar();
    let now = Date.now();
    const channel = `cookie-tabs-${channelNo++}`;
    const tab1 = tab(jar, { channel, now: () => now });
    const tab2 = tab(jar, { channel, now: () => now });
    const events: string[] = [];
    for (const [name, c] of [['tab1', tab1.client], ['tab2', tab2.client]] as const) {
      c.on('logout', () => events.push(`${name}:logout`));
      c.on('refreshfailed', (e) => events.push(`${name}:failed:${e.error.code}`));
    }
    await tab1.client.login({ username: 'carol', password: PASSWORD });
    await new Promise((r) => setTimeout(r, 50));
    expect(tab2.storage.get()).toEqual(tab1.storage.get()); // shared by broadcast
    now = (claimsOf(tab1.storage.get()!.access).iat as number) * 1000 + 45_000;
    t.advance(45_000);
    const [a, b] = await Promise.all([tab1.client.fetch(`${t.url}/api/protected/`), tab2.client.fetch(`${t.url}/api/protected/`)]);
    expect([a.status, b.status]).toEqual([200, 200]);
    expect(refreshes(jar)).toHaveLength(1);
    expect(events).toEqual([]);
    // The family is intact: the current cookie still refreshes.
    expect((await tab2.client.refresh()).access).toBeTypeOf('string');
    expect(events).toEqual([]);
    tab1.client.close();
    tab2.client.close();
  });

  it('logout blacklists the cookie\'s token with the CSRF header, and the server clears the cookies', async () => {
    const jar = cookieJar();
    const { client } = tab(jar);
    await client.login({ username: 'carol', password: PASSWORD });
    const refresh = jar.all()[REFRESH]!.value;
    const csrf = jar.all()[CSRF]!.value;
    const events: string[] = [];
    client.on('logout', (e) => events.push(`logout:${e.remote}`));
    await client.logout();
    const sent = jar.sent.at(-1)!;
    expect(sent).toMatchObject({ path: '/api/token/blacklist/', body: '{}', credentials: 'include' });
    expect(csrf).toMatch(/^[\w-]{16,}$/);
    expect(sent.headers.get('x-csrf-token')).toBe(csrf);
    expect(jar.all()).toEqual({});
    expect(events).toEqual(['logout:false']);
    expect(client.loggedIn).toBe(false);
    expect((await t.post('/api/token/refresh/', { refresh })).json).toEqual({ detail: 'Token is blacklisted', code: 'token_not_valid' });
    client.close();
  });

  it('log out everywhere: another browser\'s session dies at its next refresh', async () => {
    const mine = cookieJar();
    const theirs = cookieJar();
    const me = tab(mine);
    const other = tab(theirs);
    await me.client.login({ username: 'dave', password: PASSWORD });
    await other.client.login({ username: 'dave', password: PASSWORD });
    const failed = new Promise<string>((r) => other.client.on('refreshfailed', (e) => r(e.error.code)));
    await me.client.logoutAll();
    expect(mine.sent.at(-1)).toMatchObject({ path: '/api/token/logout-all/', method: 'POST' });
    expect(mine.sent.at(-1)!.headers.get('authorization')).toMatch(/^Bearer /);
    expect(me.client.loggedIn).toBe(false);
    expect(mine.all()).toEqual({});
    await expect(other.client.refresh()).rejects.toMatchObject({ status: 401, code: 'token_not_valid' });
    expect(await failed).toBe('token_not_valid');
    // Its cookies outlive the session here (the server only clears them on the requests it answers to that
    // browser): the client knows that session is over.
    expect(theirs.documentCookie()).toContain(CSRF);
    expect(other.client.loggedIn).toBe(false);
    expect(await other.client.resume()).toBe(false);
    me.client.close();
    other.client.close();
  });
});
