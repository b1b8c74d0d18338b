/**
 * `fetch()` and `baseUrl`: relative paths go to the API, and the token (or cookie mode's credentials) goes only to the
 * baseUrl's origin and `allowedOrigins`. A second server on another port (another origin) records what it received.
 */
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cookieStorage, inProcessLock, memoryStorage, RestJwtClient, RestJwtClientError } from '@restjwt/core/client';
import { PASSWORD, startApp, type TestApp } from '../helpers/server.js';
import { cookieJar } from './cookie-jar.js';

interface OtherOrigin {
  url: string;
  /** The requests it received: path and headers. */
  seen: { path: string; headers: IncomingHttpHeaders }[];
  /** The status it answers (401 to look like an API that wanted a token). */
  status: number;
  close(): Promise<void>;
}

async function otherOrigin(): Promise<OtherOrigin> {
  const other: Partial<OtherOrigin> & { seen: OtherOrigin['seen']; status: number } = { seen: [], status: 200 };
  const server: Server = createServer((req, res) => {
    other.seen.push({ path: req.url ?? '', headers: req.headers });
    res.writeHead(other.status, { 'content-type': 'application/json' }).end('{"other":true}');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const addr = server.address();
  other.url = `http://127.0.0.1:${typeof addr === 'object' && addr !== null ? addr.port : 0}`;
  other.close = () => new Promise<void>((r) => server.close(() => r()));
  return other as OtherOrigin;
}

/** A fetch that records what the client asked for (URL, Authorization, credentials), over the real network. */
function recordingFetch(inner: typeof fetch = fetch) {
  const calls: { url: string; auth: string | null; credentials: RequestInit['credentials'] }[] = [];
  const f: typeof fetch = (input, init = {}) => {
    const req = input instanceof Request ? input : undefined;
    calls.push({ url: req?.url ?? String(input), auth: new Headers(init.headers ?? req?.headers).get('authorization'), credentials: init.credentials });
    return inner(input, init);
  };
  return { f, calls };
}

describe('RestJwtClient.fetch and baseUrl: relative paths and the origins that get the token', () => {
  let t: TestApp;
  let other: OtherOrigin;
  let channelNo = 0;
  beforeAll(async () => {
    t = await startApp({ rotateRefreshTokens: true, blacklistAfterRotation: true });
    await t.user('alice');
    other = await otherOrigin();
  });
  afterAll(async () => {
    await other.close();
    await t.close();
  });

  const make = (extra: Partial<ConstructorParameters<typeof RestJwtClient>[0]> = {}) => {
    const rec = recordingFetch();
    const client = new RestJwtClient({ baseUrl: t.url, fetch: rec.f, channel: `base-url-${channelNo++}`, lock: inProcessLock, ...extra });
    return { client, calls: rec.calls };
  };

  it('a relative path resolves against baseUrl in Node (the global fetch, no wrapper)', async () => {
    for (const baseUrl of [t.url, `${t.url}/`]) {
      const client = new RestJwtClient({ baseUrl, channel: null, lock: inProcessLock });
      await client.login({ username: 'alice', password: PASSWORD });
      const res = await client.fetch('/api/protected/');
      expect(res.status).toBe(200);
      expect(await res.json()).toEqual({ message: 'Hello, authenticated user!' });
      // Without the leading slash too: still under baseUrl, not relative to anything else.
      expect(await (await client.fetch('api/me/')).json()).toMatchObject({ username: 'alice' });
      client.close();
    }
  });

  it('a baseUrl with a path prefixes relative paths, as it prefixes the token endpoints', async () => {
    // The "API" is the recording server under /backend/, holding a pair the real server issued.
    const storage = memoryStorage();
    const pair = await t.login('alice');
    storage.set(pair);
    const { client } = make({ baseUrl: `${other.url}/backend/`, storage });
    other.seen.length = 0;
    await client.fetch('/api/me/');
    await client.fetch('api/protected/');
    await client.refresh().catch(() => undefined); // the recording server's answer has no token: only the path matters
    expect(other.seen.map((s) => [s.path, s.headers.authorization])).toEqual([
      ['/backend/api/me/', `Bearer ${pair.access}`],
      ['/backend/api/protected/', `Bearer ${pair.access}`],
      ['/backend/api/token/refresh/', undefined],
    ]);
    client.close();
  });

  it('another origin gets no Authorization header, however it is named, and its 401 triggers no refresh', async () => {
    const { client, calls } = make();
    await client.login({ username: 'alice', password: PASSWORD });
    other.seen.length = 0;
    other.status = 401;
    try {
      const port = new URL(other.url).port;
      const answers = [
        await client.fetch(`${other.url}/absolute`),
        await client.fetch(new URL(`${other.url}/url-object`)),
        await client.fetch(`//127.0.0.1:${port}/protocol-relative`),
        await client.fetch(new Request(`${other.url}/request`, { headers: { 'x-trace': 'kept' } })),
        // The same host on another port is another origin, even with the API's host name.
        await client.fetch(`http://127.0.0.1:${port}/same-host`),
      ];
      expect(answers.map((a) => a.status)).toEqual([401, 401, 401, 401, 401]);
    } finally {
      other.status = 200;
    }
    expect(other.seen.map((s) => s.path)).toEqual(['/absolute', '/url-object', '/protocol-relative', '/request', '/same-host']);
    expect(other.seen.map((s) => s.headers.authorization)).toEqual([undefined, undefined, undefined, undefined, undefined]);
    expect(other.seen[3]!.headers['x-trace']).toBe('kept');
    // Sent once each: no refresh, no retry.
    expect(calls.filter((c) => c.url.includes('/api/token/refresh/'))).toEqual([]);
    expect(calls.filter((c) => c.url.startsWith(other.url))).toHaveLength(5);
    // The API itself still gets the token.
    expect((await client.fetch('/api/protected/')).status).toBe(200);
    expect(calls.at(-1)!.auth).toBe(`Bearer ${await client.accessToken()}`);
    client.close();
  });

  it('another origin is reachable logged out (no not_logged_in: nothing of the session is used)', async () => {
    const { client } = make();
    other.seen.length = 0;
    expect(await (await client.fetch(`${other.url}/public`)).json()).toEqual({ other: true });
    expect(other.seen).toHaveLength(1);
    await expect(client.fetch('/api/protected/')).rejects.toMatchObject({ code: 'not_logged_in' });
    client.close();
  });

  it('an origin in allowedOrigins gets the token', async () => {
    const { client } = make({ allowedOrigins: [`${other.url}/any/path/is/ignored`] });
    await client.login({ username: 'alice', password: PASSWORD });
    other.seen.length = 0;
    expect((await client.fetch(`${other.url}/allowed`)).status).toBe(200);
    expect(other.seen.map((s) => s.headers.authorization)).toEqual([`Bearer ${await client.accessToken()}`]);
    // Allowing one origin allows no other: the same host on a third port still gets nothing.
    const third = await otherOrigin();
    try {
      await client.fetch(`${third.url}/not-allowed`);
      expect(third.seen.map((s) => s.headers.authorization)).toEqual([undefined]);
    } finally {
      await third.close();
    }
    client.close();
  });

  it('refuses allowedOrigins entries and relative paths it cannot resolve with invalid_url', async () => {
    for (const bad of ['files.example.com', 'not a url', 'data:text/plain,x']) {
      const err = (() => {
        try {
          new RestJwtClient({ baseUrl: t.url, allowedOrigins: [bad], channel: null });
          return null;
        } catch (e) {
          return e;
        }
      })();
      expect(err, bad).toBeInstanceOf(RestJwtClientError);
      expect(err, bad).toMatchObject({ status: 0, code: 'invalid_url' });
    }
    // '' means "the page's origin": in Node there is no page.
    const client = new RestJwtClient({ baseUrl: '', channel: null, lock: inProcessLock });
    await expect(client.fetch('/api/protected/')).rejects.toMatchObject({ status: 0, code: 'invalid_url' });
    client.close();
  });
});

describe('RestJwtClient.fetch in cookie mode: credentials only to allowed origins', () => {
  let t: TestApp;
  let other: OtherOrigin;
  beforeAll(async () => {
    t = await startApp({ cookieMode: 'refresh', cookieSecure: false, rotateRefreshTokens: true, blacklistAfterRotation: true });
    await t.user('carol');
    other = await otherOrigin();
  });
  afterAll(async () => {
    await other.close();
    await t.close();
  });

  it("sends credentials: 'include' and the token to the API and allowed origins, neither elsewhere", async () => {
    const jar = cookieJar();
    const rec = recordingFetch(jar.fetch);
    const third = await otherOrigin();
    try {
      const client = new RestJwtClient({
        baseUrl: t.url,
        fetch: rec.f,
        storage: cookieStorage({ cookies: jar.documentCookie }),
        allowedOrigins: [third.url],
        channel: null,
        lock: inProcessLock,
      });
      await client.login({ username: 'carol', password: PASSWORD });
      const bearer = `Bearer ${await client.accessToken()}`;
      other.seen.length = 0;
      expect((await client.fetch('/api/me/')).status).toBe(200);
      await client.fetch(`${other.url}/not-allowed`);
      await client.fetch(`${third.url}/allowed`);
      const sent = rec.calls.slice(-3).map((c) => ({ url: c.url, auth: c.auth, credentials: c.credentials }));
      expect(sent).toEqual([
        { url: `${t.url}/api/me/`, auth: bearer, credentials: 'include' },
        { url: `${other.url}/not-allowed`, auth: null, credentials: undefined },
        { url: `${third.url}/allowed`, auth: bearer, credentials: 'include' },
      ]);
      expect(other.seen.map((s) => s.headers.authorization)).toEqual([undefined]);
      expect(third.seen.map((s) => s.headers.authorization)).toEqual([bearer]);
      // A caller's own choice of credentials is kept for the API.
      await client.fetch('/api/me/', { credentials: 'omit' });
      expect(rec.calls.at(-1)!.credentials).toBe('omit');
      client.close();
    } finally {
      await third.close();
    }
  });
});
