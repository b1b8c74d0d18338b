/**
 * Claim attacks over HTTP: tokens whose signature is genuine (or forged with a wrong key) but whose claims are
 * expired, not yet valid, of the wrong type, of the wrong shape, or meant for another audience or issuer. Each is
 * refused where the token class would be used, with nothing issued or stored.
 *
 * Extends test/http/protected.test.ts and refresh-verify-blacklist.test.ts (plain expired/nbf/no-jti/no-type cases)
 * with the odd JSON shapes (Infinity via 1e400, null, lists, objects, huge values) and every endpoint.
 */
import { createSecretKey } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mint, SECRET, startApp, type TestApp } from '../helpers/server.js';
import {
  anyType,
  claims,
  EXPIRED,
  expectRefused,
  hmac,
  INVALID,
  NO_USER_ID,
  now,
  parts,
  b64u,
  refusedEverywhere,
  tokenError,
  WRONG_TYPE,
  type Kind,
} from './attack-kit.js';

const secret = createSecretKey(Buffer.from(SECRET));
const ROTATION = { rotateRefreshTokens: true, blacklistAfterRotation: true };

/** Signs raw payload JSON text with the server's secret: for values JSON.stringify cannot write (1e400). */
function signedRaw(payloadJson: string): string {
  const input = `${b64u({ alg: 'HS256', typ: 'JWT' })}.${b64u(payloadJson)}`;
  return `${input}.${hmac('HS256', SECRET, input)}`;
}

/** The genuine claims of `kind` as JSON text with one claim's value replaced by raw JSON text. */
function withRawClaim(kind: Kind, name: string, rawValue: string): string {
  const c = claims(kind);
  delete c[name];
  return signedRaw(`${JSON.stringify(c).slice(0, -1)},"${name}":${rawValue}}`);
}

let t: TestApp;
beforeAll(async () => {
  t = await startApp(ROTATION);
  await t.user('alice');
  await t.user('bob');
});
afterAll(() => t?.close());

describe('time claims (signed with the server key)', () => {
  it.each([
    ['exp one second in the past', (k: Kind) => mint(claims(k, { exp: now() - 1 }), secret), EXPIRED],
    ['exp equal to now (exp <= now is expired)', (k: Kind) => mint(claims(k, { exp: now() }), secret), EXPIRED],
    ['exp as a numeric string (PyJWT would accept it)', (k: Kind) => mint(claims(k, { exp: String(now() + 600) }), secret), INVALID],
    ['exp 1e400 (parses to Infinity)', (k: Kind) => withRawClaim(k, 'exp', '1e400'), INVALID],
    ['exp -1e400 (parses to -Infinity)', (k: Kind) => withRawClaim(k, 'exp', '-1e400'), INVALID],
    ['exp null', (k: Kind) => mint(claims(k, { exp: null }), secret), INVALID],
    ['exp true', (k: Kind) => mint(claims(k, { exp: true }), secret), INVALID],
    ['exp as a list', (k: Kind) => mint(claims(k, { exp: [now() + 600] }), secret), INVALID],
    ['exp as an object', (k: Kind) => mint(claims(k, { exp: { $gt: 0 } }), secret), INVALID],
    ['no exp', (k: Kind) => mint(claims(k, {}, ['exp']), secret), tokenError("Token has no 'exp' claim")],
    ['nbf ten minutes in the future', (k: Kind) => mint(claims(k, { nbf: now() + 600 }), secret), INVALID],
    ['nbf as a string', (k: Kind) => mint(claims(k, { nbf: String(now() - 10) }), secret), INVALID],
    ['nbf 1e400', (k: Kind) => withRawClaim(k, 'nbf', '1e400'), INVALID],
    ['iat as a string', (k: Kind) => mint(claims(k, { iat: String(now()) }), secret), INVALID],
    ['iat 1e400', (k: Kind) => withRawClaim(k, 'iat', '1e400'), INVALID],
    ['iat null', (k: Kind) => mint(claims(k, { iat: null }), secret), INVALID],
    ['iat ten minutes in the future (PyJWT: "The token is not yet valid (iat)")', (k: Kind) => mint(claims(k, { iat: now() + 600 }), secret), INVALID],
    ['iat two seconds in the future, with no leeway', (k: Kind) => mint(claims(k, { iat: now() + 2 }), secret), INVALID],
  ])('a token with %s is refused everywhere', async (_n, make, body) => {
    await refusedEverywhere(t, make, { body });
  });

  describe('iat in the future with leeway 30 (simplejwt LEEWAY): refused beyond it, accepted within', () => {
    let lee: TestApp;
    beforeAll(async () => {
      lee = await startApp({ ...ROTATION, leeway: 30 });
      await lee.user('alice');
    });
    afterAll(() => lee?.close());

    it('iat 60 s ahead is refused on a protected route, verify, refresh and logout', async () => {
      await refusedEverywhere(lee, (k) => mint(claims(k, { iat: now() + 60 }), secret));
    });

    it('iat 20 s ahead is accepted on a protected route, verify and refresh', async () => {
      const a = mint(claims('access', { iat: now() + 20 }), secret);
      expect((await lee.get('/api/protected/', { authorization: `Bearer ${a}` })).status).toBe(200);
      expect((await lee.post('/api/token/verify/', { token: a })).json).toEqual({});
      const r = await lee.post('/api/token/refresh/', { refresh: mint(claims('refresh', { iat: now() + 20 }), secret) });
      expect(r.status, r.text).toBe(200);
      expect(Object.keys(r.json)).toEqual(['access', 'refresh']);
    });
  });
});

describe('token_type', () => {
  /** A genuine token of one type with its payload's token_type edited, signature kept. */
  const relabelled = (from: Kind, to: string) => {
    const [h, p, s] = parts(mint(claims(from), secret));
    const c = JSON.parse(Buffer.from(p, 'base64url').toString()) as Record<string, unknown>;
    return `${h}.${b64u({ ...c, token_type: to })}.${s}`;
  };

  it('an access token relabelled "refresh" (signature kept) is refused by refresh and logout', async () => {
    const r = relabelled('access', 'refresh');
    await expectRefused(t, () => t.post('/api/token/refresh/', { refresh: r }), { status: 401, body: INVALID }, [r]);
    await expectRefused(t, () => t.post('/api/token/blacklist/', { refresh: r }), { status: 401, body: INVALID }, [r]);
  });

  it('a refresh token relabelled "access" (signature kept) is refused on a protected route and verify', async () => {
    const a = relabelled('refresh', 'access');
    await expectRefused(t, () => t.get('/api/protected/', { authorization: `Bearer ${a}` }), { status: 401, body: anyType('Token is invalid') }, [a]);
    await expectRefused(t, () => t.post('/api/token/verify/', { token: a }), { status: 401, body: INVALID }, [a]);
  });

  it.each([
    ['"sliding" (not an authTokenClass here)', 'sliding'],
    ['"ACCESS" / "REFRESH" (case matters)', 'UPPER'],
    ['a list', 'list'],
    ['null', 'null'],
  ])('a genuinely signed token whose type is %s is refused as access and as refresh', async (_n, variant) => {
    const type = (k: Kind): unknown =>
      variant === 'sliding' ? 'sliding' : variant === 'UPPER' ? k.toUpperCase() : variant === 'list' ? [k] : null;
    const a = mint(claims('access', { token_type: type('access') }), secret);
    await expectRefused(t, () => t.get('/api/protected/', { authorization: `Bearer ${a}` }), { status: 401, body: anyType('Token has wrong type') }, [a]);
    const r = mint(claims('refresh', { token_type: type('refresh') }), secret);
    await expectRefused(t, () => t.post('/api/token/refresh/', { refresh: r }), { status: 401, body: WRONG_TYPE }, [r]);
    await expectRefused(t, () => t.post('/api/token/blacklist/', { refresh: r }), { status: 401, body: WRONG_TYPE }, [r]);
  });
});

describe('jti (the blacklist key)', () => {
  it.each([
    ['missing', (k: Kind) => mint(claims(k, {}, ['jti']), secret), tokenError('Token has no id')],
    ['a number', (k: Kind) => mint(claims(k, { jti: 123 }), secret), INVALID],
    ['an object', (k: Kind) => mint(claims(k, { jti: { $ne: '' } }), secret), INVALID],
    ['a list', (k: Kind) => mint(claims(k, { jti: ['a'] }), secret), INVALID],
    ['null', (k: Kind) => mint(claims(k, { jti: null }), secret), INVALID],
    ['true', (k: Kind) => mint(claims(k, { jti: true }), secret), INVALID],
    ['empty', (k: Kind) => mint(claims(k, { jti: '' }), secret), INVALID],
    ['256 characters (over the 255 the store keys on)', (k: Kind) => mint(claims(k, { jti: 'j'.repeat(256) }), secret), INVALID],
    ['4,000 characters', (k: Kind) => mint(claims(k, { jti: 'j'.repeat(4000) }), secret), INVALID],
  ])('a jti that is %s is refused everywhere, and nothing is recorded', async (_n, make, body) => {
    await refusedEverywhere(t, make, { body });
  });
});

describe('user_id', () => {
  it('bob\'s id re-signed with a wrong key is refused everywhere', async () => {
    const wrong = createSecretKey(Buffer.from(`${SECRET}-but-not-quite`));
    await refusedEverywhere(t, (k) => mint(claims(k, { user_id: '2' }), wrong));
  });

  it.each([
    ['an object', { $ne: null }],
    ['a list', ['1']],
    ['true', true],
    ['false', false],
    ['null', null],
    ['empty', ''],
    ['a float (1.5)', 1.5],
    ['an unsafe integer (1e30)', 1e30],
    ['256 characters', '1'.repeat(256)],
  ])('a genuinely signed user_id that is %s authenticates no one and refreshes nothing', async (_n, id) => {
    const a = mint(claims('access', { user_id: id }), secret);
    await expectRefused(t, () => t.get('/api/protected/', { authorization: `Bearer ${a}` }), { status: 401, body: NO_USER_ID }, [a]);
    const r = mint(claims('refresh', { user_id: id }), secret);
    await expectRefused(t, () => t.post('/api/token/refresh/', { refresh: r }), { status: 401, body: NO_USER_ID }, [r]);
  });
});

describe('aud and iss', () => {
  it.each([
    ['a string', 'https://other.example.com'],
    ['a list', ['https://other.example.com']],
    ['an object', { $ne: null }],
    ['a number', 1],
  ])('an audience (%s) on a server without one is refused everywhere', async (_n, aud) => {
    await refusedEverywhere(t, (k) => mint(claims(k, { aud }), secret));
  });

  describe('on a server with issuer and audience set', () => {
    let iss: TestApp;
    const ISSUER = 'https://auth.example.com';
    const AUD = 'api://orders';
    beforeAll(async () => {
      iss = await startApp({ ...ROTATION, issuer: ISSUER, audience: AUD });
      await iss.user('alice');
    });
    afterAll(() => iss?.close());

    it.each([
      ['another issuer', { iss: 'https://evil.example.com' }],
      ['no issuer', { iss: undefined }],
      ['the issuer with a trailing slash', { iss: `${ISSUER}/` }],
      ['the issuer in upper case', { iss: ISSUER.toUpperCase() }],
      ['the issuer in a list', { iss: [ISSUER] }],
      ['another audience', { aud: 'api://billing' }],
      ['no audience', { aud: undefined }],
      ['the audience as a prefix', { aud: 'api://order' }],
    ])('a genuinely signed token with %s is refused everywhere', async (_n, extra) => {
      await refusedEverywhere(iss, (k) => {
        const c = claims(k, { iss: ISSUER, aud: AUD, ...extra });
        for (const [name, value] of Object.entries(c)) if (value === undefined) delete c[name];
        return mint(c, secret);
      });
    });
  });
});
