import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inProcessLock, memoryStorage, RestJwtClient, RestJwtClientError, webStorage, type WebStorageLike } from '@restjwt/core/client';
import { PASSWORD, startApp, type TestApp } from '../helpers/server.js';

/** A fetch that counts requests per path, over the real network. */
function countingFetch() {
  const calls: string[] = [];
  const f: typeof fetch = (input, init) => {
    calls.push(new URL(String(input)).pathname);
    return fetch(input, init);
  };
  return { f, calls, count: (path: string) => calls.filter((c) => c === path).length };
}

function sharedArea(): WebStorageLike {
  const m = new Map<string, string>();
  return { getItem: (k) => m.get(k) ?? null, setItem: (k, v) => void m.set(k, v), removeItem: (k) => void m.delete(k) };
}

describe('RestJwtClient against the reference server (rotation + blacklist on)', () => {
  let t: TestApp;
  let channelNo = 0;
  beforeAll(async () => {
    t = await startApp({ rotateRefreshTokens: true, blacklistAfterRotation: true, accessTokenLifetime: 60 });
    await t.user('alice');
  });
  afterAll(() => t.close());

  const make = (extra: Partial<ConstructorParameters<typeof RestJwtClient>[0]> = {}) => {
    const counter = countingFetch();
    const client = new RestJwtClient({ baseUrl: t.url, fetch: counter.f, channel: `test-${channelNo++}`, lock: inProcessLock, ...extra });
    return { client, ...counter };
  };

  it('logs in, calls a protected route, and emits login', async () => {
    const { client } = make();
    const seen: string[] = [];
    client.on('login', () => seen.push('login'));
    await client.login({ username: 'alice', password: PASSWORD });
    expect(seen).toEqual(['login']);
    expect(client.claims?.token_type).toBe('access');
    const res = await client.fetch(`${t.url}/api/protected/`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ message: 'Hello, authenticated user!' });
    client.close();
  });

  it('carries the server code in typed errors', async () => {
    const { client } = make();
    const err = await client.login({ username: 'alice', password: 'wrong' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RestJwtClientError);
    expect(err).toMatchObject({ status: 401, code: 'no_active_account', detail: 'No active account found with the given credentials' });
    await expect(client.fetch(`${t.url}/api/protected/`)).rejects.toMatchObject({ code: 'not_logged_in' });
    client.close();
  });

  it('single flight: 10 requests with an expiring token share one refresh', async () => {
    let now = Date.now();
    const { client, count } = make({ now: () => now });
    await client.login({ username: 'alice', password: PASSWORD });
    now += 45_000; // within the 30 s margin of the 60 s access token
    const answers = await Promise.all(Array.from({ length: 10 }, () => client.fetch(`${t.url}/api/protected/`)));
    expect(answers.map((a) => a.status)).toEqual(Array(10).fill(200));
    expect(count('/api/token/refresh/')).toBe(1);
    client.close();
  });

  it('refreshes once and retries once after a 401, without looping', async () => {
    const storage = memoryStorage();
    const { client, count } = make({ storage });
    await client.login({ username: 'alice', password: PASSWORD });
    const pair = storage.get()!;
    // A token the server refuses (tampered signature) but that looks fresh to the client.
    storage.set({ ...pair, access: `${pair.access.slice(0, -4)}AAAA` });
    const res = await client.fetch(`${t.url}/api/protected/`);
    expect(res.status).toBe(200);
    expect(count('/api/token/refresh/')).toBe(1);
    expect(count('/api/protected/')).toBe(2);
    client.close();
  });

  it('two tabs refreshing at once spend the refresh token once and both stay logged in', async () => {
    let now = Date.now();
    const area = sharedArea();
    const counter = countingFetch();
    const channel = `tabs-${channelNo++}`;
    const opts = { baseUrl: t.url, fetch: counter.f, channel, lock: inProcessLock, now: () => now };
    const tab1 = new RestJwtClient({ ...opts, storage: webStorage(area) });
    const tab2 = new RestJwtClient({ ...opts, storage: webStorage(area) });
    const logouts: string[] = [];
    tab1.on('logout', () => logouts.push('tab1'));
    tab2.on('logout', () => logouts.push('tab2'));
    await tab1.login({ username: 'alice', password: PASSWORD });
    now += 45_000;
    t.advance(45_000); // the server's clock moves too, so a new token is fresh for both
    const [a, b] = await Promise.all([tab1.fetch(`${t.url}/api/protected/`), tab2.fetch(`${t.url}/api/protected/`)]);
    expect([a.status, b.status]).toEqual([200, 200]);
    expect(counter.count('/api/token/refresh/')).toBe(1);
    expect(logouts).toEqual([]);
    tab1.close();
    tab2.close();
  });

  it('a refused refresh ends the session with refreshfailed and logout events', async () => {
    const storage = memoryStorage();
    const { client } = make({ storage });
    await client.login({ username: 'alice', password: PASSWORD });
    const events: string[] = [];
    client.on('refreshfailed', (e) => events.push(`failed:${e.error.code}`));
    client.on('logout', () => events.push('logout'));
    // Log out elsewhere: blacklist the refresh token directly on the server.
    expect((await t.post('/api/token/blacklist/', { refresh: storage.get()!.refresh })).status).toBe(200);
    await expect(client.refresh()).rejects.toMatchObject({ status: 401, code: 'token_not_valid', detail: 'Token is blacklisted' });
    expect(events).toEqual(['logout', 'failed:token_not_valid']);
    expect(client.loggedIn).toBe(false);
    client.close();
  });

  it('logout blacklists on the server and tells the other tabs', async () => {
    const channel = `logout-${channelNo++}`;
    const tab1 = new RestJwtClient({ baseUrl: t.url, channel, lock: inProcessLock });
    const tab2 = new RestJwtClient({ baseUrl: t.url, channel, lock: inProcessLock });
    await tab1.login({ username: 'alice', password: PASSWORD });
    await new Promise((r) => setTimeout(r, 50));
    expect(tab2.loggedIn).toBe(true); // memory storage, shared by broadcast
    const refresh = (tab1 as unknown as { storage: { get(): { refresh: string } } }).storage.get().refresh;
    const remote = new Promise<boolean>((r) => tab2.on('logout', (e) => r(e.remote)));
    await tab1.logout();
    expect(await remote).toBe(true);
    expect(tab2.loggedIn).toBe(false);
    expect((await t.post('/api/token/refresh/', { refresh })).json).toEqual({ detail: 'Token is blacklisted', code: 'token_not_valid' });
    tab1.close();
    tab2.close();
  });
});

describe('RestJwtClient single flight and the 401 retry, in detail', () => {
  let t: TestApp;
  let channelNo = 0;
  beforeAll(async () => {
    t = await startApp({ rotateRefreshTokens: true, blacklistAfterRotation: true, accessTokenLifetime: 60 });
    await t.user('bob');
  });
  afterAll(() => t.close());

  /** Real network, but `refuse` decides which protected calls the "server" answers 401 (a revoked or rotated key). */
  const rig = (refuse: (n: number) => boolean, extra: Partial<ConstructorParameters<typeof RestJwtClient>[0]> = {}) => {
    const calls: { path: string; auth: string | null; body?: string }[] = [];
    let protectedCalls = 0;
    const f: typeof fetch = async (input, init = {}) => {
      const req = input instanceof Request ? input : undefined;
      const path = new URL(req?.url ?? String(input)).pathname;
      const headers = new Headers(init.headers ?? req?.headers);
      calls.push({ path, auth: headers.get('authorization'), body: typeof init.body === 'string' ? init.body : req !== undefined ? await req.clone().text() : undefined });
      if (path === '/api/protected/' && refuse(protectedCalls++)) {
        return new Response(JSON.stringify({ detail: 'Given token not valid for any token type', code: 'token_not_valid' }), { status: 401, headers: { 'content-type': 'application/json' } });
      }
      return fetch(input, init);
    };
    const client = new RestJwtClient({ baseUrl: t.url, fetch: f, channel: `detail-${channelNo++}`, lock: inProcessLock, ...extra });
    return { client, calls, count: (path: string) => calls.filter((c) => c.path === path).length };
  };

  it('concurrent refresh() calls share one promise and one request', async () => {
    const { client, count } = rig(() => false);
    await client.login({ username: 'bob', password: PASSWORD });
    const ps = Array.from({ length: 5 }, () => client.refresh());
    expect(new Set(ps).size).toBe(1);
    const pairs = await Promise.all(ps);
    expect(new Set(pairs.map((p) => p.access)).size).toBe(1);
    expect(count('/api/token/refresh/')).toBe(1);
    // Once settled, the next call is a new refresh.
    await client.refresh();
    expect(count('/api/token/refresh/')).toBe(2);
    client.close();
  });

  it('a 401 that persists after the refresh is returned, not retried again (no loop)', async () => {
    const { client, count } = rig(() => true);
    await client.login({ username: 'bob', password: PASSWORD });
    const res = await client.fetch(`${t.url}/api/protected/`);
    expect(res.status).toBe(401);
    expect(await res.json()).toMatchObject({ code: 'token_not_valid' });
    expect(count('/api/protected/')).toBe(2);
    expect(count('/api/token/refresh/')).toBe(1);
    expect(client.loggedIn).toBe(true); // the refresh itself succeeded: the session is fine, the route refused
    client.close();
  });

  it('many requests refused at once share one refresh, and each is retried once with the new token', async () => {
    const { client, calls, count } = rig((n) => n < 8);
    await client.login({ username: 'bob', password: PASSWORD });
    const before = client.claims?.jti;
    const answers = await Promise.all(Array.from({ length: 8 }, () => client.fetch(`${t.url}/api/protected/`)));
    expect(answers.map((a) => a.status)).toEqual(Array(8).fill(200));
    expect(count('/api/token/refresh/')).toBe(1);
    expect(count('/api/protected/')).toBe(16);
    expect(client.claims?.jti).not.toBe(before);
    const retried = calls.filter((c) => c.path === '/api/protected/').slice(8);
    expect(new Set(retried.map((c) => c.auth))).toEqual(new Set([`Bearer ${(await client.accessToken())}`]));
    client.close();
  });

  it('retries a Request object with its body and headers intact', async () => {
    const { client, calls } = rig((n) => n === 0);
    await client.login({ username: 'bob', password: PASSWORD });
    const req = new Request(`${t.url}/api/protected/`, { method: 'POST', body: '{"x":1}', headers: { 'content-type': 'application/json', 'x-trace': 'abc' } });
    const res = await client.fetch(req);
    expect(res.status).toBe(405); // the server's answer to POST: the retry reached it
    const sent = calls.filter((c) => c.path === '/api/protected/');
    expect(sent.map((c) => c.body)).toEqual(['{"x":1}', '{"x":1}']);
    client.close();
  });

  it('a refused refresh during the retry ends the session with refreshfailed, and the caller gets the error', async () => {
    const storage = memoryStorage();
    const { client } = rig(() => true, { storage });
    await client.login({ username: 'bob', password: PASSWORD });
    expect((await t.post('/api/token/blacklist/', { refresh: storage.get()!.refresh })).status).toBe(200);
    const failed = new Promise<string>((r) => client.on('refreshfailed', (e) => r(e.error.code)));
    await expect(client.fetch(`${t.url}/api/protected/`)).rejects.toMatchObject({ status: 401, code: 'token_not_valid' });
    expect(await failed).toBe('token_not_valid');
    expect(client.loggedIn).toBe(false);
    client.close();
  });

  it('memory storage: a tab that waited for another tab\'s refresh uses its broadcast tokens, not its spent refresh token', async () => {
    const channel = `mem-tabs-${channelNo++}`;
    let now = Date.now();
    const a = rig(() => false, { channel, now: () => now });
    const b = rig(() => false, { channel, now: () => now });
    const events: string[] = [];
    b.client.on('refreshfailed', (e) => events.push(e.error.code));
    b.client.on('logout', () => events.push('logout'));
    await a.client.login({ username: 'bob', password: PASSWORD });
    await new Promise((r) => setTimeout(r, 30));
    expect(b.client.loggedIn).toBe(true);
    now = ((a.client.claims?.iat as number) ?? 0) * 1000 + 45_000;
    t.advance(45_000); // the server's clock moves too, so the new token is fresh for both tabs
    const [x, y] = await Promise.all([a.client.fetch(`${t.url}/api/protected/`), b.client.fetch(`${t.url}/api/protected/`)]);
    expect([x.status, y.status]).toEqual([200, 200]);
    expect(a.count('/api/token/refresh/') + b.count('/api/token/refresh/')).toBe(1);
    expect(events).toEqual([]);
    a.client.close();
    b.client.close();
  });

  it('autoRefresh: refreshes on a timer before expiry, at a steady pace (no loop), and stops on close', async () => {
    const short = await startApp({ rotateRefreshTokens: true, blacklistAfterRotation: true, accessTokenLifetime: 4 });
    try {
      await short.user('erin');
      const calls: string[] = [];
      const f: typeof fetch = (input, init) => {
        calls.push(new URL(String(input)).pathname);
        return fetch(input, init);
      };
      const client = new RestJwtClient({ baseUrl: short.url, fetch: f, channel: null, lock: inProcessLock, autoRefresh: true });
      const refreshed: number[] = [];
      client.on('refresh', () => refreshed.push(Date.now()));
      await client.login({ username: 'erin', password: PASSWORD });
      await new Promise((r) => setTimeout(r, 6300));
      // 4 s tokens, refreshed 2 s before expiry (half the lifetime): one refresh every 2 s, never faster, even though
      // refreshed access tokens keep the login's iat (so exp - iat grows with each refresh and says nothing).
      expect(refreshed.length).toBeGreaterThanOrEqual(2);
      expect(refreshed.length).toBeLessThanOrEqual(4);
      for (let i = 1; i < refreshed.length; i++) expect(refreshed[i]! - refreshed[i - 1]!).toBeGreaterThan(1500);
      const claims = client.claims!;
      expect((claims.exp as number) - Date.now() / 1000).toBeGreaterThan(0);
      client.close();
      const after = calls.length;
      await new Promise((r) => setTimeout(r, 1500));
      expect(calls.length).toBe(after);
    } finally {
      await short.close();
    }
  });

  it('autoRefresh after a reload: resume() arms the timer for tokens found in storage', async () => {
    const short = await startApp({ rotateRefreshTokens: true, blacklistAfterRotation: true, accessTokenLifetime: 2 });
    try {
      await short.user('frank');
      const area = sharedArea();
      const before = new RestJwtClient({ baseUrl: short.url, storage: webStorage(area), channel: null, lock: inProcessLock });
      await before.login({ username: 'frank', password: PASSWORD });
      before.close();
      const reloaded = new RestJwtClient({ baseUrl: short.url, storage: webStorage(area), channel: null, lock: inProcessLock, autoRefresh: true });
      const refreshed = new Promise<void>((r) => reloaded.on('refresh', () => r()));
      expect(await reloaded.resume()).toBe(true);
      await expect(Promise.race([refreshed.then(() => 'refreshed'), new Promise((r) => setTimeout(() => r('timeout'), 3000))])).resolves.toBe('refreshed');
      reloaded.close();
    } finally {
      await short.close();
    }
  });
});
