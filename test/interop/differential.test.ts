/**
 * Differential tests against the real djangorestframework-simplejwt: the same sequence of requests goes to a Django
 * peer (Debian's simplejwt 5.2.2 under gunicorn) and to restjwt (`messageVersion: '5.2'`, the same settings and
 * signing key, the same users), and each step must give the same status, the same `WWW-Authenticate`, `Location`,
 * and the same body — after applying the documented differences in {@link ALLOWED_DIFFERENCES}, each of which is
 * also listed in docs/migrating-from-django.md. A rule matches one precise pair of answers; anything else that
 * differs fails the test.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PASSWORD, startApp, type TestApp } from '../helpers/server.js';
import { bearer, client, hmacJwt, jti, noneJwt, nowSeconds, type Answer, type Client } from './helpers/client.js';
import { djangoSkipReason, migrateDjango, seedDjangoUsers, SHARED_KEY, startDjango, type DjangoPeer } from './helpers/django.js';

/** What is compared of one answer. */
interface Observed {
  status: number;
  /** JSON body with token strings masked; `'<html>'` for an HTML page; `''` for no body. */
  body: unknown;
  wwwAuthenticate: string | null;
  location: string | null;
  allow: string | null;
}

/**
 * The deliberate differences between restjwt and simplejwt 5.2.2. Each rule recognises one precise pair of
 * answers and maps both to a common form; `reason` says why restjwt answers as it does.
 */
export interface AllowedDifference {
  id: string;
  reason: string;
  apply(django: Observed, restjwt: Observed): [Observed, Observed] | null;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const detailOf = (o: Observed): unknown => (isObject(o.body) ? o.body.detail : undefined);
const same = (o: Observed): Observed => ({ ...o });

export const ALLOWED_DIFFERENCES: readonly AllowedDifference[] = [
  {
    id: 'duplicate-authorization-header',
    reason:
      'An Authorization header holding two comma-joined Bearer values (what two header lines become in web Headers and ' +
      'proxies): simplejwt splits it into four parts (401 bad_authorization_header); restjwt answers 400 ' +
      'duplicate_authorization_header, since which copy counts would depend on who reads the request.',
    apply(dj, rj) {
      if (dj.status !== 401 || !isObject(dj.body) || dj.body.code !== 'bad_authorization_header') return null;
      if (rj.status !== 400 || !isObject(rj.body) || rj.body.code !== 'duplicate_authorization_header') return null;
      return [same(rj), same(rj)];
    },
  },
  {
    id: 'allow-header',
    reason:
      'DRF sends `Allow` on every answer of a view; restjwt sends it where HTTP asks for it (405, OPTIONS) and on token ' +
      'successes, not on errors or on the protected view\'s 200. No client behaviour depends on it.',
    apply(dj, rj) {
      if (dj.allow === null || rj.allow !== null) return null;
      return [{ ...dj, allow: null }, same(rj)];
    },
  },
  {
    id: 'error-code',
    reason:
      'restjwt puts a machine-readable `code` in every error body (no_active_account, not_authenticated, method_not_allowed, ' +
      'unsupported_media_type, parse_error…); simplejwt/DRF leave it out of some. Clients matching on `detail` see the same text.',
    apply(dj, rj) {
      if (dj.status < 400 || dj.status !== rj.status || !isObject(dj.body) || !isObject(rj.body)) return null;
      if ('code' in dj.body || !('code' in rj.body) || typeof rj.body.code !== 'string') return null;
      const { code: _code, ...rest } = rj.body;
      return [same(dj), { ...rj, body: rest }];
    },
  },
  {
    id: 'refresh-without-jti',
    reason:
      'A validly signed refresh token without `jti`: simplejwt 5.2.2 crashes (500 HTML page; its blacklist check reads ' +
      "payload['jti'] before verifying) — restjwt answers 401 token_not_valid \"Token has no id\".",
    apply(dj, rj) {
      if (dj.status !== 500 || dj.body !== '<html>' || rj.status !== 401 || detailOf(rj) !== 'Token has no id') return null;
      return [same(rj), same(rj)];
    },
  },
  {
    id: 'trailing-slash-308',
    reason: 'A missing trailing slash answers 308 (the method and body are kept) instead of Django\'s 301 (clients turn the POST into a GET).',
    apply(dj, rj) {
      if (dj.status !== 301 || rj.status !== 308 || dj.location === null || dj.location !== rj.location) return null;
      const common: Observed = { status: 308, body: '', wwwAuthenticate: null, location: dj.location, allow: null };
      return [common, { ...common }];
    },
  },
  {
    id: 'json-404',
    reason: 'An unknown path answers a JSON 404 {"detail":"Not found.","code":"not_found"} instead of Django\'s HTML page: an API speaks JSON.',
    apply(dj, rj) {
      if (dj.status !== 404 || dj.body !== '<html>' || rj.status !== 404 || detailOf(rj) !== 'Not found.') return null;
      return [same(rj), same(rj)];
    },
  },
  {
    id: 'json-parse-error-text',
    reason:
      'The JSON parse error keeps DRF\'s "JSON parse error - " prefix, but the rest is JavaScript\'s parser message instead of ' +
      "Python's json module's (and never echoes the body, which may hold a password).",
    apply(dj, rj) {
      const d = detailOf(dj);
      const r = detailOf(rj);
      if (dj.status !== 400 || rj.status !== 400 || typeof d !== 'string' || typeof r !== 'string') return null;
      if (!d.startsWith('JSON parse error - ') || !r.startsWith('JSON parse error - ') || d === r) return null;
      const mask = (o: Observed): Observed => ({ ...o, body: { ...(o.body as object), detail: 'JSON parse error - …' } });
      return [mask(dj), mask(rj)];
    },
  },
  {
    id: 'refresh-checks-user',
    reason:
      'Refreshing a token whose user is gone or inactive: simplejwt 5.2.2 still mints tokens (200); restjwt refuses with 401 ' +
      '"No active account found for the given token." (code no_active_account), as simplejwt does since 5.3.',
    apply(dj, rj) {
      if (dj.status !== 200 || !isObject(dj.body) || !('access' in dj.body)) return null;
      if (rj.status !== 401 || detailOf(rj) !== 'No active account found for the given token.') return null;
      return [same(rj), same(rj)];
    },
  },
  {
    id: 'refresh-reuse-revokes-family',
    reason:
      'Presenting a rotated-out refresh token is reuse: restjwt revokes its family, so the successor is refused too (401 ' +
      '"Token is blacklisted"); simplejwt 5.2.2 keeps the successor valid (200).',
    apply(dj, rj) {
      if (dj.status !== 200 || !isObject(dj.body) || !('refresh' in dj.body)) return null;
      if (rj.status !== 401 || detailOf(rj) !== 'Token is blacklisted') return null;
      return [same(rj), same(rj)];
    },
  },
];

const JWT_SHAPE = /^eyJ[\w-]*\.[\w-]*\.[\w-]*$/;

function mask(value: unknown): unknown {
  if (typeof value === 'string') return JWT_SHAPE.test(value) ? '<jwt>' : value;
  if (Array.isArray(value)) return value.map(mask);
  if (isObject(value)) return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, mask(v)]));
  return value;
}

function observe(a: Answer): Observed {
  const type = a.headers.get('content-type') ?? '';
  let body: unknown;
  if (a.text === '') body = '';
  else if (type.includes('json') && a.json !== undefined) body = mask(a.json);
  else if (type.includes('html')) body = '<html>';
  else body = a.text;
  return { status: a.status, body, wwwAuthenticate: a.headers.get('www-authenticate'),
    location: a.headers.get('location'),
    allow: a.headers.get('allow'),
  };
}

const used = new Map<string, string[]>();

/** Applies the allowed differences to one step; returns the two forms to compare. */
function reconcile(where: string, dj: Observed, rj: Observed): [Observed, Observed] {
  let pair: [Observed, Observed] = [dj, rj];
  for (const rule of ALLOWED_DIFFERENCES) {
    const next = rule.apply(pair[0], pair[1]);
    if (next === null) continue;
    pair = next;
    used.set(rule.id, [...(used.get(rule.id) ?? []), where]);
  }
  return pair;
}

// --- the two servers -----------------------------------------------------------------------------------------------

/** One side of the comparison: a client plus what a sequence needs to know about that server. */
interface Side {
  name: 'django' | 'restjwt';
  c: Client;
}

const ALICE = { id: 1, username: 'alice' };
const SLEEPY = { id: 2, username: 'sleepy' }; // inactive

type Claims = Record<string, unknown>;
/** Claims in simplejwt's order: token_type, exp, iat, jti, user_id. */
function claims(type: string | null, overrides: Claims = {}, drop: readonly string[] = []): Claims {
  const now = nowSeconds();
  const lifetime = type === 'refresh' || type === 'sliding' ? 86400 : 300;
  const p: Claims = { token_type: type, exp: now + lifetime, iat: now, jti: jti(), user_id: ALICE.id };
  if (type === 'sliding') p.refresh_exp = now + 86400;
  Object.assign(p, overrides);
  if (type === null) delete p.token_type;
  for (const d of drop) delete p[d];
  return p;
}
const signed = (p: Claims): string => hmacJwt(p, SHARED_KEY);
const OTHER_KEY = 'another-key-entirely-0123456789-abcdefghijklmnopqrstuvwxyz-0123456789';

const json = { 'content-type': 'application/json' };
const creds = { username: ALICE.username, password: PASSWORD };

/** A request sequence: runs against one side and returns every answer, in order. */
interface Sequence {
  name: string;
  run(s: Side): Promise<Answer[]>;
}

const seq = (name: string, run: (s: Side) => Promise<Answer[]>): Sequence => ({ name, run });

const SEQUENCES: Sequence[] = [
  // --- obtain --------------------------------------------------------------------------------------------------------
  seq('obtain: good credentials (JSON)', async ({ c }) => [await c.post('/api/token/', creds)]),
  seq('obtain: good credentials (form-encoded)', async ({ c }) => [
    await c.send('POST', '/api/token/', {
      body: new URLSearchParams(creds).toString(),
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    }),
  ]),
  seq('obtain: wrong password', async ({ c }) => [await c.post('/api/token/', { ...creds, password: 'wrong' })]),
  seq('obtain: unknown user', async ({ c }) => [await c.post('/api/token/', { username: 'mallory', password: 'x' })]),
  seq('obtain: username in another case', async ({ c }) => [await c.post('/api/token/', { ...creds, username: 'Alice' })]),
  seq('obtain: inactive user with the right password', async ({ c }) => [
    await c.post('/api/token/', { username: SLEEPY.username, password: PASSWORD }),
  ]),
  seq('obtain: missing both fields', async ({ c }) => [await c.post('/api/token/', {})]),
  seq('obtain: missing password', async ({ c }) => [await c.post('/api/token/', { username: 'alice' })]),
  seq('obtain: blank strings', async ({ c }) => [await c.post('/api/token/', { username: '', password: '' })]),
  seq('obtain: null values', async ({ c }) => [await c.post('/api/token/', { username: null, password: null })]),
  seq('obtain: malformed JSON', async ({ c }) => [
    await c.post('/api/token/', 'username=alice&password=x'),
    await c.post('/api/token/', '{"username": '),
  ]),
  seq('obtain: JSON array body', async ({ c }) => [await c.post('/api/token/', '[1,2]')]),
  seq('obtain: JSON string body', async ({ c }) => [await c.post('/api/token/', '"alice"')]),
  seq('obtain: empty body labelled JSON', async ({ c }) => [await c.send('POST', '/api/token/', { headers: json })]),
  seq('obtain: text/plain body', async ({ c }) => [
    await c.send('POST', '/api/token/', { body: 'hello', headers: { 'content-type': 'text/plain' } }),
  ]),
  seq('obtain: GET is not allowed', async ({ c }) => [await c.get('/api/token/')]),
  seq('obtain: POST without the trailing slash', async ({ c }) => [await c.post('/api/token', {})]),
  // --- refresh -------------------------------------------------------------------------------------------------------
  seq('refresh: rotation, then reuse of the rotated token, then the new one', async ({ c }) => {
    const pair = await c.login(ALICE.username, PASSWORD);
    const first = await c.post('/api/token/refresh/', { refresh: pair.refresh });
    const reuse = await c.post('/api/token/refresh/', { refresh: pair.refresh });
    const next = await c.post('/api/token/refresh/', { refresh: (first.json as { refresh: string }).refresh });
    return [first, reuse, next];
  }),
  seq('refresh: the access token minted by refresh works on the protected view', async ({ c }) => {
    const pair = await c.login(ALICE.username, PASSWORD);
    const r = await c.post('/api/token/refresh/', { refresh: pair.refresh });
    return [r, await c.get('/api/protected/', bearer((r.json as { access: string }).access))];
  }),
  seq('refresh: with an access token', async ({ c }) => [
    await c.post('/api/token/refresh/', { refresh: (await c.login(ALICE.username, PASSWORD)).access }),
  ]),
  seq('refresh: garbage', async ({ c }) => [await c.post('/api/token/refresh/', { refresh: 'garbage' })]),
  seq('refresh: expired refresh token', async ({ c }) => [
    await c.post('/api/token/refresh/', { refresh: signed(claims('refresh', { exp: nowSeconds() - 60 })) }),
  ]),
  seq('refresh: signed with another key', async ({ c }) => [
    await c.post('/api/token/refresh/', { refresh: hmacJwt(claims('refresh'), OTHER_KEY) }),
  ]),
  seq('refresh: missing field', async ({ c }) => [await c.post('/api/token/refresh/', {})]),
  seq('refresh: blank and null', async ({ c }) => [
    await c.post('/api/token/refresh/', { refresh: '' }),
    await c.post('/api/token/refresh/', { refresh: null }),
  ]),
  seq('refresh: validly signed, without jti', async ({ c }) => [
    await c.post('/api/token/refresh/', { refresh: signed(claims('refresh', {}, ['jti'])) }),
  ]),
  seq('refresh: validly signed, without exp', async ({ c }) => [
    await c.post('/api/token/refresh/', { refresh: signed(claims('refresh', {}, ['exp'])) }),
  ]),
  seq('refresh: validly signed, without token_type', async ({ c }) => [
    await c.post('/api/token/refresh/', { refresh: signed(claims(null)) }),
  ]),
  seq('refresh: a token for a user that does not exist', async ({ c }) => [
    await c.post('/api/token/refresh/', { refresh: signed(claims('refresh', { user_id: 999 })) }),
  ]),
  seq('refresh: a token of an inactive user', async ({ c }) => [
    await c.post('/api/token/refresh/', { refresh: signed(claims('refresh', { user_id: SLEEPY.id })) }),
  ]),
  seq('refresh: GET is not allowed', async ({ c }) => [await c.get('/api/token/refresh/')]),
  // --- verify --------------------------------------------------------------------------------------------------------
  seq('verify: access and refresh tokens of a fresh login', async ({ c }) => {
    const pair = await c.login(ALICE.username, PASSWORD);
    return [await c.post('/api/token/verify/', { token: pair.access }), await c.post('/api/token/verify/', { token: pair.refresh })];
  }),
  seq('verify: garbage', async ({ c }) => [await c.post('/api/token/verify/', { token: 'garbage' })]),
  seq('verify: expired access token', async ({ c }) => [
    await c.post('/api/token/verify/', { token: signed(claims('access', { exp: nowSeconds() - 60 })) }),
  ]),
  seq('verify: signed with another key', async ({ c }) => [
    await c.post('/api/token/verify/', { token: hmacJwt(claims('access'), OTHER_KEY) }),
  ]),
  seq('verify: alg none', async ({ c }) => [await c.post('/api/token/verify/', { token: noneJwt(claims('access')) })]),
  seq('verify: HS512 with the right key', async ({ c }) => [
    await c.post('/api/token/verify/', { token: hmacJwt(claims('access'), SHARED_KEY, 'HS512') }),
  ]),
  seq('verify: tampered payload (user_id changed after signing)', async ({ c }) => {
    const token = (await c.login(ALICE.username, PASSWORD)).access;
    const [h, , sig] = token.split('.');
    const payload = Buffer.from(JSON.stringify(claims('access', { user_id: SLEEPY.id }))).toString('base64url');
    return [await c.post('/api/token/verify/', { token: `${h}.${payload}.${sig}` })];
  }),
  seq('verify: tampered signature', async ({ c }) => {
    const token = (await c.login(ALICE.username, PASSWORD)).access;
    const flipped = token.slice(0, -2) + (token.endsWith('AA') ? 'BB' : 'AA');
    return [await c.post('/api/token/verify/', { token: flipped })];
  }),
  seq('verify: no jti', async ({ c }) => [await c.post('/api/token/verify/', { token: signed(claims('access', {}, ['jti'])) })]),
  seq('verify: no token_type (any type verifies)', async ({ c }) => [await c.post('/api/token/verify/', { token: signed(claims(null)) })]),
  seq('verify: iat in the future (PyJWT: not yet valid), and iat now', async ({ c }) => [
    await c.post('/api/token/verify/', { token: signed(claims('access', { iat: nowSeconds() + 600 })) }),
    await c.post('/api/token/verify/', { token: signed(claims('access', { iat: nowSeconds() })) }),
  ]),
  seq('verify: no exp', async ({ c }) => [await c.post('/api/token/verify/', { token: signed(claims('access', {}, ['exp'])) })]),
  seq('verify: missing field', async ({ c }) => [await c.post('/api/token/verify/', {})]),
  // --- blacklist -----------------------------------------------------------------------------------------------------
  seq('blacklist: logout, twice, then refresh and verify the blacklisted token', async ({ c }) => {
    const pair = await c.login(ALICE.username, PASSWORD);
    return [
      await c.post('/api/token/blacklist/', { refresh: pair.refresh }),
      await c.post('/api/token/blacklist/', { refresh: pair.refresh }),
      await c.post('/api/token/refresh/', { refresh: pair.refresh }),
      await c.post('/api/token/verify/', { token: pair.refresh }),
      // access tokens are stateless: still good until they expire
      await c.get('/api/protected/', bearer(pair.access)),
    ];
  }),
  seq('blacklist: verify of a token blacklisted by rotation', async ({ c }) => {
    const pair = await c.login(ALICE.username, PASSWORD);
    return [await c.post('/api/token/refresh/', { refresh: pair.refresh }), await c.post('/api/token/verify/', { token: pair.refresh })];
  }),
  seq('blacklist: with an access token', async ({ c }) => [
    await c.post('/api/token/blacklist/', { refresh: (await c.login(ALICE.username, PASSWORD)).access }),
  ]),
  seq('blacklist: a crafted refresh token never issued', async ({ c }) => {
    const token = signed(claims('refresh'));
    return [await c.post('/api/token/blacklist/', { refresh: token }), await c.post('/api/token/refresh/', { refresh: token })];
  }),
  seq('blacklist: missing field', async ({ c }) => [await c.post('/api/token/blacklist/', {})]),
  seq('blacklist: garbage', async ({ c }) => [await c.post('/api/token/blacklist/', { refresh: 'garbage' })]),
  // --- the protected view (JWTAuthentication) --------------------------------------------------------------------
  seq('protected: a good Bearer access token, GET and HEAD', async ({ c }) => {
    const { access } = await c.login(ALICE.username, PASSWORD);
    return [await c.get('/api/protected/', bearer(access)), await c.send('HEAD', '/api/protected/', { headers: bearer(access) })];
  }),
  seq('protected: no Authorization header', async ({ c }) => [await c.get('/api/protected/')]),
  seq('protected: lowercase bearer', async ({ c }) => [
    await c.get('/api/protected/', { authorization: `bearer ${(await c.login(ALICE.username, PASSWORD)).access}` }),
  ]),
  seq('protected: the Token and Basic schemes', async ({ c }) => [
    await c.get('/api/protected/', { authorization: `Token ${(await c.login(ALICE.username, PASSWORD)).access}` }),
    await c.get('/api/protected/', { authorization: 'Basic YWxpY2U6cHc=' }),
  ]),
  seq('protected: Bearer without a token', async ({ c }) => [await c.get('/api/protected/', { authorization: 'Bearer' })]),
  seq('protected: three space-separated parts', async ({ c }) => [
    await c.get('/api/protected/', { authorization: `Bearer ${(await c.login(ALICE.username, PASSWORD)).access} extra` }),
  ]),
  seq('protected: extra spaces and a tab between scheme and token', async ({ c }) => {
    const { access } = await c.login(ALICE.username, PASSWORD);
    return [
      await c.get('/api/protected/', { authorization: `Bearer    ${access}` }),
      await c.get('/api/protected/', { authorization: `Bearer \t ${access}   ` }),
    ];
  }),
  seq('protected: two Bearer values joined by a comma in one header', async ({ c }) => {
    const { access } = await c.login(ALICE.username, PASSWORD);
    return [await c.get('/api/protected/', { authorization: `Bearer ${access}, Bearer ${access}` })];
  }),
  seq('protected and refresh: iat in the future', async ({ c }) => [
    await c.get('/api/protected/', bearer(signed(claims('access', { iat: nowSeconds() + 600 })))),
    await c.post('/api/token/refresh/', { refresh: signed(claims('refresh', { iat: nowSeconds() + 600 })) }),
  ]),
  seq('protected: a refresh token as Bearer', async ({ c }) => [
    await c.get('/api/protected/', bearer((await c.login(ALICE.username, PASSWORD)).refresh)),
  ]),
  seq('protected: expired access token', async ({ c }) => [
    await c.get('/api/protected/', bearer(signed(claims('access', { exp: nowSeconds() - 60 })))),
  ]),
  seq('protected: signed with another key', async ({ c }) => [await c.get('/api/protected/', bearer(hmacJwt(claims('access'), OTHER_KEY)))]),
  seq('protected: alg none', async ({ c }) => [await c.get('/api/protected/', bearer(noneJwt(claims('access'))))]),
  seq('protected: HS512 with the right key', async ({ c }) => [
    await c.get('/api/protected/', bearer(hmacJwt(claims('access'), SHARED_KEY, 'HS512'))),
  ]),
  seq('protected: garbage', async ({ c }) => [await c.get('/api/protected/', bearer('garbage'))]),
  seq('protected: a user that does not exist', async ({ c }) => [
    await c.get('/api/protected/', bearer(signed(claims('access', { user_id: 999 })))),
  ]),
  seq('protected: no user_id claim', async ({ c }) => [await c.get('/api/protected/', bearer(signed(claims('access', {}, ['user_id']))))]),
  seq('protected: no token_type, no jti, no exp', async ({ c }) => [
    await c.get('/api/protected/', bearer(signed(claims(null)))),
    await c.get('/api/protected/', bearer(signed(claims('access', {}, ['jti'])))),
    await c.get('/api/protected/', bearer(signed(claims('access', {}, ['exp'])))),
  ]),
  seq('protected: an inactive user', async ({ c }) => [
    await c.get('/api/protected/', bearer(signed(claims('access', { user_id: SLEEPY.id })))),
  ]),
  seq('protected: user_id as a string (simplejwt 5.5 tokens)', async ({ c }) => [
    await c.get('/api/protected/', bearer(signed(claims('access', { user_id: String(ALICE.id) })))),
  ]),
  seq('protected: POST is not allowed', async ({ c }) => [
    await c.send('POST', '/api/protected/', { headers: bearer((await c.login(ALICE.username, PASSWORD)).access) }),
  ]),
  seq('protected: a sliding token is not an access token', async ({ c }) => [
    await c.get('/api/protected/', bearer(signed(claims('sliding')))),
  ]),
  // --- sliding tokens --------------------------------------------------------------------------------------------
  seq('sliding: obtain, refresh, refresh again', async ({ c }) => {
    const obtained = await c.post('/api/token/sliding/', creds);
    const token = (obtained.json as { token: string }).token;
    const refreshed = await c.post('/api/token/sliding/refresh/', { token });
    return [obtained, refreshed, await c.post('/api/token/sliding/refresh/', { token: (refreshed.json as { token: string }).token })];
  }),
  seq('sliding: wrong password, missing field, access token', async ({ c }) => [
    await c.post('/api/token/sliding/', { ...creds, password: 'wrong' }),
    await c.post('/api/token/sliding/refresh/', {}),
    await c.post('/api/token/sliding/refresh/', { token: (await c.login(ALICE.username, PASSWORD)).access }),
  ]),
  // --- misc ----------------------------------------------------------------------------------------------------------
  seq('an unknown path', async ({ c }) => [await c.get('/api/nope/')]),
];

// --- the test ------------------------------------------------------------------------------------------------------

const skip = djangoSkipReason();
if (skip !== null) console.warn(`[interop] skipping the differential tests: ${skip}`);

describe.skipIf(skip !== null)(`restjwt vs simplejwt 5.2.2, request by request${skip === null ? '' : ` (skipped: ${skip})`}`, () => {
  let dir: string;
  let peer: DjangoPeer | undefined;
  let app: TestApp | undefined;
  let django: Side;
  let restjwt: Side;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'restjwt-interop-diff-'));
    const config = { databaseUrl: `sqlite:///${join(dir, 'django.sqlite3')}` };
    const [, started] = await Promise.all([
      (async () => {
        await migrateDjango(config);
        const seeded = await seedDjangoUsers(config, [
          { username: ALICE.username, password: PASSWORD, email: 'alice@example.com' },
          { username: SLEEPY.username, password: PASSWORD, is_active: false },
        ]);
        expect(seeded.map((u) => u.id)).toEqual([ALICE.id, SLEEPY.id]);
        peer = await startDjango(config);
      })(),
      (async () => {
        const t = await startApp({ signingKey: SHARED_KEY, messageVersion: '5.2', rotateRefreshTokens: true, blacklistAfterRotation: true });
        const a = await t.user(ALICE.username, { email: 'alice@example.com' });
        const s = await t.user(SLEEPY.username, { isActive: false });
        expect([a.id, s.id]).toEqual([String(ALICE.id), String(SLEEPY.id)]);
        return t;
      })(),
    ]);
    app = started;
    django = { name: 'django', c: client(peer!.url) };
    restjwt = { name: 'restjwt', c: client(app.url) };
  }, 60_000);

  afterAll(async () => {
    await peer?.stop();
    await app?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it(`has at least 40 request sequences (${SEQUENCES.length})`, () => {
    expect(SEQUENCES.length).toBeGreaterThanOrEqual(40);
    expect(new Set(SEQUENCES.map((s) => s.name)).size).toBe(SEQUENCES.length);
  });

  for (const sequence of SEQUENCES) {
    it(sequence.name, async () => {
      const [dj, rj] = await Promise.all([sequence.run(django), sequence.run(restjwt)]);
      expect(rj.length).toBe(dj.length);
      dj.forEach((answer, i) => {
        const where = `${sequence.name} #${i + 1}`;
        const [d, r] = reconcile(where, observe(answer), observe(rj[i] as Answer));
        expect(r, `${where}\n django: ${answer.status} ${answer.text.slice(0, 300)}\nrestjwt: ${rj[i]?.status} ${rj[i]?.text.slice(0, 300)}`).toEqual(d);
      });
    });
  }

  it('used every documented difference, and the guide lists each one', () => {
    if (process.env.INTEROP_DEBUG) console.log(JSON.stringify(Object.fromEntries(used), null, 1));
    const unused = ALLOWED_DIFFERENCES.filter((r) => !used.has(r.id)).map((r) => r.id);
    expect(unused, 'a rule no sequence needs is stale: remove it here and in the guide').toEqual([]);
    const guide = readFileSync(new URL('../../docs/migrating-from-django.md', import.meta.url), 'utf8');
    for (const rule of ALLOWED_DIFFERENCES) expect(guide, `docs/migrating-from-django.md must list \`${rule.id}\``).toContain(`\`${rule.id}\``);
  });
});
