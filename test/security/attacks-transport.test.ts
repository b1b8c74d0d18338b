/**
 * Transport attacks over HTTP: Authorization header variants, sizes, content types, malformed and hostile bodies.
 * Each is answered with a clean 4xx, nothing issued or rotated, the store unchanged, and the process unharmed
 * (no prototype pollution, no hang).
 *
 * Extends test/http/transport.test.ts (405/415/413 on login, a 9,000-character token on verify) and
 * test/http/protected.test.ts (scheme parsing with placeholder tokens) with genuine tokens behind wrong headers,
 * exact size boundaries, raw-socket requests, and bodies built to hurt the parser.
 */
import { connect } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { PASSWORD, startApp, type TestApp } from '../helpers/server.js';
import {
  anyType,
  assertNothingIssued,
  BAD_HEADER,
  DUPLICATE_HEADER,
  expectRefused,
  INVALID,
  NO_ACCOUNT,
  NOT_PROVIDED,
  rawAnswer,
  rawHttp,
  state,
} from './attack-kit.js';

const ROTATION = { rotateRefreshTokens: true, blacklistAfterRotation: true };
const LIMIT = 65536;
const UNSUPPORTED = (type: string) => ({ detail: `Unsupported media type "${type}" in request.`, code: 'unsupported_media_type' });
const TOO_LARGE = { detail: `Request body is larger than ${LIMIT} bytes.`, code: 'request_too_large' };
const PARSE_ERROR = { detail: 'JSON parse error - the body is not valid JSON.', code: 'parse_error' };

let t: TestApp;
let alice: { access: string; refresh: string };
beforeAll(async () => {
  t = await startApp(ROTATION);
  await t.user('alice');
  alice = await t.login();
});
afterAll(() => t?.close());

/** A fresh refresh token (rotation makes each one single-use). */
const freshRefresh = async () => (await t.login()).refresh;

describe('the Authorization header', () => {
  it.each([
    ['a lowercase scheme ("bearer")', (a: string) => `bearer ${a}`, NOT_PROVIDED],
    ['an uppercase scheme ("BEARER")', (a: string) => `BEARER ${a}`, NOT_PROVIDED],
    ['the scheme and token glued together', (a: string) => `Bearer${a}`, NOT_PROVIDED],
    ['a no-break space (U+00A0) as the separator', (a: string) => `Bearer\u00A0${a}`, NOT_PROVIDED],
    ['the Basic scheme around the token', (a: string) => `Basic ${a}`, NOT_PROVIDED],
    ['the token twice', (a: string) => `Bearer ${a} ${a}`, BAD_HEADER],
  ])('a genuine access token behind %s does not authenticate', async (_n, header, body) => {
    await expectRefused(t, () => t.get('/api/protected/', { authorization: header(alice.access) }), { status: 401, body }, [alice.access]);
  });

  it('a tab after "Bearer" separates like a space (Python\'s split()): a forged token is refused, a genuine one accepted', async () => {
    const [h, p] = alice.access.split('.');
    const forged = `${h}.${p}.${'A'.repeat(43)}`;
    await expectRefused(t, () => t.get('/api/protected/', { authorization: `Bearer\t${forged}` }), { status: 401, body: anyType('Token is invalid') }, [forged]);
    expect((await t.get('/api/protected/', { authorization: `Bearer\t${alice.access}` })).status).toBe(200);
  });

  it.each([
    ['a forged one first and the genuine one second', (a: string, f: string) => [`Bearer ${f}`, `Bearer ${a}`]],
    ['the genuine one first and a forged one second (Node alone would keep the first)', (a: string, f: string) => [`Bearer ${a}`, `Bearer ${f}`]],
    ['the genuine one twice', (a: string) => [`Bearer ${a}`, `Bearer ${a}`]],
    ['Basic credentials first and the genuine Bearer token second', (a: string) => ['Basic YWxpY2U6cHc=', `Bearer ${a}`]],
  ])('two Authorization headers, %s: 400 duplicate_authorization_header on /api/protected/, /api/me/, logout-all and the admin API', async (_n, values) => {
    const [h, p] = alice.access.split('.');
    const forged = `${h}.${p}.${'A'.repeat(43)}`;
    const lines = values(alice.access, forged).map((v) => `Authorization: ${v}\r\n`).join('');
    const before = await state(t.store);
    for (const [method, path, body] of [['GET', '/api/protected/', ''], ['GET', '/api/me/', ''], ['POST', '/api/token/logout-all/', '{}'], ['GET', '/api/admin/users/', '']] as const) {
      const framing = body === '' ? '' : `Content-Type: application/json\r\nContent-Length: ${body.length}\r\n`;
      const r = rawAnswer(await rawHttp(t.url, `${method} ${path} HTTP/1.1\r\nHost: x\r\n${lines}${framing}Connection: close\r\n\r\n${body}`));
      expect(r.status, `${path}: ${r.text}`).toBe(400);
      expect(r.json).toEqual(DUPLICATE_HEADER);
      expect(r.headers.get('www-authenticate')).toBeNull();
      assertNothingIssued(r, [forged, alice.access]);
    }
    // Nothing blacklisted: logout-all ended no session.
    expect(await state(t.store)).toBe(before);
  });

  it('one Authorization header holding two comma-joined Bearer values (what fetch and proxies make of two) is 400 duplicate_authorization_header', async () => {
    await expectRefused(t, () => t.get('/api/protected/', { authorization: `Bearer ${alice.access}, Bearer ${alice.access}` }), { status: 400, body: DUPLICATE_HEADER }, [alice.access]);
    await expectRefused(t, () => t.get('/api/protected/', { authorization: `Basic YWxpY2U6cHc=, Bearer ${alice.access}` }), { status: 400, body: DUPLICATE_HEADER }, [alice.access]);
  });

  it('a token in the query string or a cookie is not a credential (RFC 6750 §2.3 is not supported)', async () => {
    await expectRefused(t, () => t.get(`/api/protected/?access_token=${alice.access}`), { status: 401, body: NOT_PROVIDED }, [alice.access]);
    await expectRefused(t, () => t.get('/api/protected/', { cookie: `access=${alice.access}; access_token=${alice.access}` }), { status: 401, body: NOT_PROVIDED }, [alice.access]);
  });

  it('a 15 KB Bearer value (under Node\'s header limit, over maxTokenLength) is refused as an invalid token', async () => {
    const big = `${alice.access}${'A'.repeat(15 * 1024)}`;
    await expectRefused(t, () => t.get('/api/protected/', { authorization: `Bearer ${big}` }), { status: 401, body: anyType('Token is invalid') }, [big]);
  });

  it('a 17 KB Authorization header gets a clean 431, and the server keeps serving', async () => {
    const before = await state(t.store);
    const r = await t.get('/api/protected/', { authorization: `Bearer ${'A'.repeat(17 * 1024)}` });
    expect(r.status).toBe(431);
    // The core's error body, not the HTTP server's own: a client reads `code` as on every other refusal.
    expect(r.json).toEqual({
      detail: 'Request headers are larger than 16384 bytes. Send a shorter Authorization header or fewer cookies.',
      code: 'headers_too_large',
    });
    assertNothingIssued(r);
    expect(await state(t.store)).toBe(before);
    expect((await t.get('/healthz')).status).toBe(200);
    expect((await t.get('/api/protected/', { authorization: `Bearer ${alice.access}` })).status).toBe(200);
  });
  it('a request the HTTP parser cannot read gets 400 malformed_request in the usual body, and the server keeps serving', async () => {
    const { port, hostname } = new URL(t.url);
    const raw = await new Promise<string>((resolve, reject) => {
      const socket = connect(Number(port), hostname, () => socket.write('GET /api/protected/ HTTP/1.1\r\nHost: x\r\nBad Header: y\r\n\r\n'));
      let text = '';
      socket.setEncoding('utf8');
      socket.on('data', (chunk: string) => (text += chunk));
      socket.on('end', () => resolve(text));
      socket.on('error', reject);
    });
    const [head = '', body = ''] = raw.split('\r\n\r\n');
    expect(head).toMatch(/^HTTP\/1\.1 400 Bad Request\r\n/);
    expect(head.toLowerCase()).toContain('content-type: application/json');
    expect(JSON.parse(body)).toEqual({ detail: 'Malformed HTTP request. Check the request line and headers your client sends.', code: 'malformed_request' });
    expect((await t.get('/api/protected/', { authorization: `Bearer ${alice.access}` })).status).toBe(200);
  });
});

describe('pathological header values (linear-time parsing)', () => {
  const timed = async <T>(f: () => Promise<T>): Promise<T> => {
    const started = performance.now();
    const out = await f();
    expect(performance.now() - started, 'answered promptly').toBeLessThan(3000);
    return out;
  };

  it('15 KB of whitespace between "Bearer" and a forged token: a prompt 401', async () => {
    await timed(() =>
      expectRefused(t, () => t.get('/api/protected/', { authorization: `Bearer${' \t'.repeat(7000)}forged.token.value` }), { status: 401, body: anyType('Token is invalid') }),
    );
  });

  it('a 13 KB Accept-Language of weighted ranges on a failed login: a prompt 401 in English', async () => {
    const lang = Array.from({ length: 1200 }, (_, i) => `x${i % 10}-y;q=0.${i % 10}`).join(',');
    await timed(() => expectRefused(t, () => t.post('/api/token/', { username: 'alice', password: 'wrong' }, { 'accept-language': lang }), { status: 401, body: NO_ACCOUNT }));
  });

  it('a 15 KB Content-Type of parameters: a prompt 415, nothing issued', async () => {
    const ct = `text/plain${'; a=b'.repeat(3000)}`;
    await timed(() =>
      expectRefused(t, () => t.send('POST', '/api/token/', { body: JSON.stringify({ username: 'alice', password: PASSWORD }), headers: { 'content-type': ct } }), { status: 415, body: UNSUPPORTED('text/plain') }, [PASSWORD]),
    );
  });
});

describe('body sizes', () => {
  /** A JSON body of exactly `bytes` bytes holding `fields` and padding. */
  const exactly = (bytes: number, fields: Record<string, string>) => {
    const base = JSON.stringify({ ...fields, pad: '' });
    const body = JSON.stringify({ ...fields, pad: 'x'.repeat(bytes - Buffer.byteLength(base)) });
    expect(Buffer.byteLength(body)).toBe(bytes);
    return body;
  };

  it('a login body one byte over maxBodyBytes is 413 and issues nothing; at the limit it logs in', async () => {
    await expectRefused(t, () => t.post('/api/token/', exactly(LIMIT + 1, { username: 'alice', password: PASSWORD })), { status: 413, body: TOO_LARGE }, [PASSWORD]);
    expect((await t.post('/api/token/', exactly(LIMIT, { username: 'alice', password: PASSWORD }))).status).toBe(200);
  });

  it('a refresh body one byte over maxBodyBytes is 413 and rotates nothing', async () => {
    const refresh = await freshRefresh();
    await expectRefused(t, () => t.post('/api/token/refresh/', exactly(LIMIT + 1, { refresh })), { status: 413, body: TOO_LARGE }, [refresh]);
    await expectRefused(t, () => t.post('/api/token/blacklist/', exactly(LIMIT + 1, { refresh })), { status: 413, body: TOO_LARGE }, [refresh]);
    // still unused: the 413s did not consume it
    expect((await t.post('/api/token/refresh/', { refresh })).status).toBe(200);
  });

  it('a chunked body over maxBodyBytes (no Content-Length) is 413 and issues nothing', async () => {
    const before = await state(t.store);
    const json = JSON.stringify({ username: 'alice', password: PASSWORD, pad: 'x'.repeat(LIMIT) });
    const raw = await rawHttp(
      t.url,
      `POST /api/token/ HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n${Buffer.byteLength(json).toString(16)}\r\n${json}\r\n0\r\n\r\n`,
    );
    const r = rawAnswer(raw);
    expect(r.status).toBe(413);
    expect(r.json).toEqual(TOO_LARGE);
    assertNothingIssued(r, [PASSWORD]);
    expect(await state(t.store)).toBe(before);
  });

  it('a 60 KB refresh value (inside the body limit, over maxTokenLength) is refused as an invalid token', async () => {
    const refresh = `${await freshRefresh()}${'A'.repeat(60_000)}`;
    await expectRefused(t, () => t.post('/api/token/refresh/', { refresh }), { status: 401, body: INVALID }, [refresh]);
  });
});

describe('content types', () => {
  it('text/plain holding valid JSON credentials is 415 (a CORS-simple request cannot log in)', async () => {
    const body = JSON.stringify({ username: 'alice', password: PASSWORD });
    await expectRefused(t, () => t.send('POST', '/api/token/', { body, headers: { 'content-type': 'text/plain' } }), { status: 415, body: UNSUPPORTED('text/plain') }, [PASSWORD]);
  });

  it('text/plain holding a valid refresh token is 415 and rotates nothing', async () => {
    const refresh = await freshRefresh();
    await expectRefused(
      t,
      () => t.send('POST', '/api/token/refresh/', { body: JSON.stringify({ refresh }), headers: { 'content-type': 'text/plain;charset=UTF-8' } }),
      { status: 415, body: UNSUPPORTED('text/plain') },
      [refresh],
    );
  });

  it('a real multipart/form-data login is 415', async () => {
    const body = ['--X', 'Content-Disposition: form-data; name="username"', '', 'alice', '--X', 'Content-Disposition: form-data; name="password"', '', PASSWORD, '--X--', ''].join('\r\n');
    await expectRefused(t, () => t.send('POST', '/api/token/', { body, headers: { 'content-type': 'multipart/form-data; boundary=X' } }), { status: 415, body: UNSUPPORTED('multipart/form-data') }, [PASSWORD]);
  });

  it('a JSON login body without any Content-Type is 415', async () => {
    const before = await state(t.store);
    const json = JSON.stringify({ username: 'alice', password: PASSWORD });
    const r = rawAnswer(await rawHttp(t.url, `POST /api/token/ HTTP/1.1\r\nHost: x\r\nContent-Length: ${Buffer.byteLength(json)}\r\nConnection: close\r\n\r\n${json}`));
    expect(r.status).toBe(415);
    expect(r.json).toEqual(UNSUPPORTED(''));
    assertNothingIssued(r, [PASSWORD]);
    expect(await state(t.store)).toBe(before);
  });

  it('application/json with invalid UTF-8 inside the password is refused, not logged in', async () => {
    const body = Buffer.concat([Buffer.from(`{"username":"alice","password":"${PASSWORD}`), Buffer.from([0xff, 0xfe]), Buffer.from('"}')]);
    await expectRefused(t, async () => {
      const res = await fetch(`${t.url}/api/token/`, { method: 'POST', body, headers: { 'content-type': 'application/json' } });
      const text = await res.text();
      return { status: res.status, headers: res.headers, text, json: JSON.parse(text) };
    }, { status: 401, body: NO_ACCOUNT });
  });

  it('application/json with invalid UTF-8 between members is a 400 parse error', async () => {
    const body = Buffer.concat([Buffer.from(`{"username":"alice",`), Buffer.from([0xc3, 0x28]), Buffer.from(`"password":"${PASSWORD}"}`)]);
    await expectRefused(t, async () => {
      const res = await fetch(`${t.url}/api/token/`, { method: 'POST', body, headers: { 'content-type': 'application/json' } });
      const text = await res.text();
      return { status: res.status, headers: res.headers, text, json: JSON.parse(text) };
    }, { status: 400, body: PARSE_ERROR }, [PASSWORD]);
  });
});

describe('hostile bodies', () => {
  const protoNames = Object.getOwnPropertyNames(Object.prototype).sort();
  afterEach(() => {
    // The server runs in this process: a pollution would show here.
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(({} as Record<string, unknown>).username).toBeUndefined();
    expect(({} as Record<string, unknown>).refresh).toBeUndefined();
    expect(Object.getOwnPropertyNames(Object.prototype).sort()).toEqual(protoNames);
    expect(Object.getPrototypeOf(Object.create(null))).toBeNull();
  });

  const timed = async <T>(f: () => Promise<T>): Promise<T> => {
    const started = performance.now();
    const out = await f();
    expect(performance.now() - started, 'answered promptly').toBeLessThan(3000);
    return out;
  };

  it('JSON nested 30,000 lists deep is a prompt 400', async () => {
    const body = `${'['.repeat(30_000)}${']'.repeat(30_000)}`;
    await timed(() =>
      expectRefused(t, () => t.post('/api/token/', body), { status: 400, body: { non_field_errors: ['Invalid data. Expected a dictionary, but got list.'] } }),
    );
  });

  it('a username nested 10,000 objects deep is a prompt 400', async () => {
    const body = `{"password":"x","username":${'{"a":'.repeat(10_000)}1${'}'.repeat(10_000)}}`;
    await timed(() => expectRefused(t, () => t.post('/api/token/', body), { status: 400, body: { username: ['Not a valid string.'] } }));
  });

  describe('100,000 keys (on a server whose body limit lets them in)', () => {
    let wide: TestApp;
    beforeAll(async () => {
      wide = await startApp({ ...ROTATION, maxBodyBytes: 4_000_000 });
      await wide.user('alice');
    });
    afterAll(() => wide?.close());

    it('100,000 distinct keys around wrong credentials: a prompt 401', async () => {
      const junk = Array.from({ length: 100_000 }, (_, i) => `"k${i}":0`).join(',');
      const body = `{${junk},"username":"alice","password":"wrong"}`;
      await timed(() => expectRefused(wide, () => wide.post('/api/token/', body), { status: 401, body: NO_ACCOUNT }));
    });

    it('the same key 100,000 times: a prompt 401', async () => {
      const body = `{${'"username":"alice",'.repeat(100_000)}"password":"wrong"}`;
      await timed(() => expectRefused(wide, () => wide.post('/api/token/', body), { status: 401, body: NO_ACCOUNT }));
    });
  });

  it.each([
    ['a JSON __proto__ member', '{"__proto__":{"polluted":"yes"},"username":"alice","password":"wrong"}', 401, NO_ACCOUNT],
    ['a JSON constructor.prototype member', '{"constructor":{"prototype":{"polluted":"yes"}},"username":"alice","password":"wrong"}', 401, NO_ACCOUNT],
    ['a __proto__ inside the username', '{"username":{"__proto__":{"polluted":"yes"}},"password":"wrong"}', 400, { username: ['Not a valid string.'] }],
    ['credentials hidden in __proto__ (inherited, not own)', `{"__proto__":{"username":"alice","password":"${PASSWORD}"}}`, 400, { username: ['This field is required.'], password: ['This field is required.'] }],
    ['credentials hidden in constructor.prototype', `{"constructor":{"prototype":{"username":"alice","password":"${PASSWORD}"}}}`, 400, { username: ['This field is required.'], password: ['This field is required.'] }],
  ])('login with %s changes nothing and pollutes nothing', async (_n, body, status, expected) => {
    await expectRefused(t, () => t.post('/api/token/', body), { status, body: expected }, [PASSWORD]);
  });

  it.each([
    ['__proto__[polluted]=yes&username=alice&password=wrong', 401, NO_ACCOUNT],
    ['constructor[prototype][polluted]=yes&username=alice&password=wrong', 401, NO_ACCOUNT],
    ['__proto__=polluted&username=alice&password=wrong', 401, NO_ACCOUNT],
    [`__proto__.username=alice&__proto__.password=${encodeURIComponent(PASSWORD)}`, 400, { username: ['This field is required.'], password: ['This field is required.'] }],
  ])('a urlencoded login %s changes nothing and pollutes nothing', async (body, status, expected) => {
    await expectRefused(
      t,
      () => t.send('POST', '/api/token/', { body, headers: { 'content-type': 'application/x-www-form-urlencoded' } }),
      { status, body: expected },
      [PASSWORD],
    );
  });

  it('a refresh token hidden in __proto__ rotates nothing', async () => {
    const refresh = await freshRefresh();
    await expectRefused(t, () => t.post('/api/token/refresh/', `{"__proto__":{"refresh":"${refresh}"}}`), { status: 400, body: { refresh: ['This field is required.'] } }, [refresh]);
    await expectRefused(t, () => t.post('/api/token/blacklist/', `{"__proto__":{"refresh":"${refresh}"}}`), { status: 400, body: { refresh: ['This field is required.'] } }, [refresh]);
  });
});
