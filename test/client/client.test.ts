import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inProcessLock, memoryStorage, RestJwtClient, RestJwtClientError, webStorage, type WebStorageLike } from '../../src/client/index.js';
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
