import { createSecretKey } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { accessPolicy, authenticationPolicy, createRestJwt, isAuthenticated, isStaff, isTokenUser, ParseError, PayloadTooLarge, tokenUser, type Authorization, type Permission, type UserRecord } from '@restjwt/core';
import { endpointSchema, ENDPOINTS, headerRecord, matchTokenRoute, readRawBody, slashRedirect, splitTarget, tokenRoutes } from '@restjwt/core/adapter-kit';
import { createMemoryStore } from '@restjwt/core/memory';
import { fastHasher, mint, SECRET } from '../helpers/server.js';

async function* chunks(...parts: (Uint8Array | string)[]) {
  for (const p of parts) yield p;
}

describe('readRawBody (what adapters hand the core)', () => {
  it('reads nothing when there is no body, and text otherwise', async () => {
    expect(await readRawBody(undefined, {}, 10)).toBeUndefined();
    expect(await readRawBody(null, {}, 10)).toBeUndefined();
    expect(await readRawBody(chunks('ab', 'c'), {}, 10)).toBe('abc');
    expect(await readRawBody(chunks(), {}, 10)).toBe('');
  });

  it('decodes a UTF-8 character split across chunks', async () => {
    const e = new TextEncoder().encode('é€');
    expect(await readRawBody(chunks(e.slice(0, 1), e.slice(1, 3), e.slice(3)), {}, 10)).toBe('é€');
  });

  it('refuses a declared Content-Length over the limit without reading', async () => {
    let pulled = 0;
    const source = { async *[Symbol.asyncIterator]() { pulled++; yield 'x'; } };
    await expect(readRawBody(source, { 'content-length': '11' }, 10)).rejects.toBeInstanceOf(PayloadTooLarge);
    expect(pulled).toBe(0);
  });

  it('stops reading as soon as the count passes the limit', async () => {
    let pulled = 0;
    const source = { async *[Symbol.asyncIterator]() { for (;;) { pulled++; yield new Uint8Array(4); } } };
    await expect(readRawBody(source, {}, 10)).rejects.toBeInstanceOf(PayloadTooLarge);
    expect(pulled).toBe(3);
    expect(await readRawBody(chunks(new Uint8Array(10)), {}, 10)).toHaveLength(10); // exactly the limit is fine
  });

  it('reads a web ReadableStream', async () => {
    const body = new Response('{"a":"ü"}').body;
    expect(await readRawBody(body, {}, 100)).toBe('{"a":"ü"}');
  });

  it('turns a failing stream into a 400 parse error', async () => {
    const source = { async *[Symbol.asyncIterator]() { yield 'x'; throw new Error('aborted'); } };
    await expect(readRawBody(source, {}, 10)).rejects.toBeInstanceOf(ParseError);
  });
});

describe('headers, routes and the 308 rule', () => {
  it('normalises Node header objects and web Headers alike', () => {
    expect(headerRecord({ Authorization: 'Bearer x', 'x-a': ['1', '2'], 'content-length': 3, none: undefined })).toEqual({
      authorization: 'Bearer x',
      'x-a': '1, 2',
      'content-length': '3',
    });
    expect(headerRecord(new Headers({ 'Accept-Language': 'fr' }))).toEqual({ 'accept-language': 'fr' });
    expect(headerRecord([['X-A', '1'], ['x-a', '2']])).toEqual({ 'x-a': '1, 2' });
  });

  it('mounts every endpoint under a prefix, slashed and bare', () => {
    const routes = tokenRoutes(ENDPOINTS, '/auth/');
    expect(routes.map((r) => [r.name, r.path, r.bare])).toEqual([
      ['obtainPair', '/auth/token/', '/auth/token'],
      ['refresh', '/auth/token/refresh/', '/auth/token/refresh'],
      ['verify', '/auth/token/verify/', '/auth/token/verify'],
      ['blacklist', '/auth/token/blacklist/', '/auth/token/blacklist'],
      ['obtainSliding', '/auth/token/sliding/', '/auth/token/sliding'],
      ['refreshSliding', '/auth/token/sliding/refresh/', '/auth/token/sliding/refresh'],
      ['logoutAll', '/auth/token/logout-all/', '/auth/token/logout-all'],
      ['mfa', '/auth/token/mfa/', '/auth/token/mfa'],
    ]);
    expect(() => tokenRoutes(ENDPOINTS, 'api')).toThrow(/prefix must start and end with "\/"/);
    expect(matchTokenRoute(routes, '/auth/token/verify/')).toMatchObject({ route: { name: 'verify' }, redirect: false });
    expect(matchTokenRoute(routes, '/auth/token/verify')).toMatchObject({ route: { name: 'verify' }, redirect: true });
    expect(matchTokenRoute(routes, '/auth/token/VERIFY/')).toBeUndefined();
  });

  it('redirects with 308 to the slashed path, query kept', () => {
    expect(slashRedirect('/api/token', '?a=1')).toEqual({ status: 308, headers: { Location: '/api/token/?a=1' }, body: undefined });
    expect(splitTarget('/a/b?x=1&y')).toEqual({ pathname: '/a/b', search: '?x=1&y' });
    expect(splitTarget('/a/b')).toEqual({ pathname: '/a/b', search: '' });
  });

  it('describes the bodies with the configured username field', () => {
    const restjwt = createRestJwt({ store: createMemoryStore(), settings: { signingKey: SECRET, usernameField: 'email' } });
    expect(endpointSchema(ENDPOINTS[0]!, restjwt.settings).body).toEqual({
      type: 'object',
      properties: { email: { type: 'string' }, password: { type: 'string' } },
      required: ['email', 'password'],
    });
  });
});

describe('guard arguments and policies', () => {
  const custom: Permission = (auth) => auth?.user.username === 'alice';

  it('defaults to isAuthenticated; options and permissions are both accepted', () => {
    expect(accessPolicy([])).toEqual({ stateless: false, permissions: [isAuthenticated] });
    expect(accessPolicy([isStaff, custom])).toEqual({ stateless: false, permissions: [isStaff, custom] });
    expect(accessPolicy([{ stateless: true }])).toEqual({ stateless: true, permissions: [isAuthenticated] });
    expect(accessPolicy([{ permissions: [] }])).toEqual({ stateless: false, permissions: [] });
    expect(authenticationPolicy({ stateless: true })).toEqual({ stateless: true, permissions: [] });
  });
});

describe('TokenUser and stateless authentication', () => {
  it('carries the id, isActive true, isStaff only from an is_staff claim, and the claims', () => {
    const u = tokenUser('7', { user_id: '7', username: 'bob', is_staff: true, custom: 1 });
    expect(u).toEqual({ id: '7', username: 'bob', isActive: true, isStaff: true, claims: { user_id: '7', username: 'bob', is_staff: true, custom: 1 } });
    expect(tokenUser('7', { is_staff: 'yes' }).isStaff).toBe(false);
    expect(Object.isFrozen(u)).toBe(true);
    expect(isTokenUser(u)).toBe(true);
  });

  it('RestJwt.authenticate(headers, { stateless: true }) reads the user id claim and no user', async () => {
    const store = createMemoryStore();
    let reads = 0;
    const counting = new Proxy(store, {
      // Either lookup: the memory store answers at once (findUserNow), which authentication prefers.
      get: (target, prop, receiver) =>
        prop === 'findUser' || prop === 'findUserNow'
          ? (...args: Parameters<typeof store.findUser>) => (reads++, prop === 'findUser' ? target.findUser(...args) : target.findUserNow(...args))
          : Reflect.get(target, prop, receiver),
    });
    const restjwt = createRestJwt({ store: counting, hasher: fastHasher, settings: { signingKey: SECRET, userIdClaim: 'sub' } });
    const now = Math.floor(Date.now() / 1000);
    const token = mint({ token_type: 'access', exp: now + 60, jti: 'j'.repeat(32), sub: 42 }, createSecretKey(Buffer.from(SECRET)));
    const auth = await restjwt.authenticate({ authorization: `Bearer ${token}` }, { stateless: true });
    expect(auth?.user).toMatchObject({ id: '42', isActive: true, isStaff: false });
    expect(auth?.user.claims.sub).toBe(42);
    expect(reads).toBe(0);
    await expect(restjwt.authenticate({ authorization: `Bearer ${token}` })).rejects.toMatchObject({ code: 'user_not_found' });
    expect(reads).toBe(1);
  });
});

describe('RestJwt.authorizeNow (the guards\' hot path)', () => {
  const now = Math.floor(Date.now() / 1000);
  const access = (claims: Record<string, unknown>) => mint({ token_type: 'access', exp: now + 60, jti: 'k'.repeat(32), ...claims }, createSecretKey(Buffer.from(SECRET)));

  it('decides without a promise on a store that answers at once, and agrees with authorize on every outcome', async () => {
    const store = createMemoryStore();
    const restjwt = createRestJwt({ store, hasher: fastHasher, settings: { signingKey: SECRET } });
    const user = await store.createUser({ username: 'olga', passwordHash: 'x' });
    const inactive = await store.createUser({ username: 'pia', passwordHash: 'x', isActive: false });
    const cases = [
      { authorization: `Bearer ${access({ user_id: user.id })}` }, // allowed
      {}, // anonymous: 401 not_authenticated
      { authorization: `Bearer ${access({ user_id: inactive.id })}` }, // 401 user_inactive
      { authorization: `Bearer ${access({ user_id: '999' })}` }, // 401 user_not_found
      { authorization: `Bearer ${access({ user_id: user.id })}x` }, // 401 token_not_valid
    ];
    const policy = accessPolicy([]);
    for (const headers of cases) {
      const decided = restjwt.authorizeNow(headers, policy, 'GET');
      expect(decided).not.toBeInstanceOf(Promise);
      expect(decided).toEqual(await restjwt.authorize(headers, policy, 'GET'));
    }
    const now = (headers: Readonly<Record<string, string | undefined>>) => restjwt.authorizeNow(headers, policy) as Authorization<UserRecord>;
    expect(now(cases[0]!).auth?.user).toMatchObject({ id: user.id, username: 'olga' });
    expect(now(cases[2]!).response?.body).toMatchObject({ code: 'user_inactive' });
  });

  it('hands back a promise when the store answers through promises only, with the same decisions', async () => {
    const store = createMemoryStore();
    // The same store seen without its declared capabilities: lookups are awaited.
    const awaited = new Proxy(store, { get: (target, prop, receiver) => (prop === 'capabilities' ? [] : Reflect.get(target, prop, receiver)) });
    const restjwt = createRestJwt({ store: awaited, hasher: fastHasher, settings: { signingKey: SECRET } });
    const user = await store.createUser({ username: 'quinn', passwordHash: 'x' });
    const headers = { authorization: `Bearer ${access({ user_id: user.id })}` };
    const decided = restjwt.authorizeNow(headers, accessPolicy([]));
    expect(decided).toBeInstanceOf(Promise);
    expect((await decided).auth?.user).toMatchObject({ id: user.id });
    // A stateless policy reads no user, so it is decided at once on any store.
    expect(restjwt.authorizeNow(headers, accessPolicy([{ stateless: true }]))).toMatchObject({ auth: { user: { id: user.id } } });
  });
});
