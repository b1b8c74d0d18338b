/**
 * Shared set-up for the benchmarks: keys, tokens, and the competing verifiers configured as their users would.
 * Every case returns the verified payload (or signature) so a smoke pass can check it really verified.
 */
import { createHmac, createSecretKey, generateKeyPairSync, timingSafeEqual, verify, type KeyObject } from 'node:crypto';
import { createSigner, createVerifier } from 'fast-jwt';
import { importSPKI, jwtVerify, SignJWT } from 'jose';
import jsonwebtoken from 'jsonwebtoken';
import { resolveSettings } from '@restjwt/core';
import type { Algorithm } from '@restjwt/core';
import { buildKeyset, TokenService } from '@restjwt/core/adapter-kit';

export interface Case {
  group: string;
  name: string;
  fn: () => unknown;
  /** true: the baseline the group's ratios are taken against. */
  baseline?: boolean;
}

const user = { id: '42', username: 'alice', email: '', passwordHash: '', isActive: true, isStaff: false, lastLogin: null, dateJoined: new Date(), tokenVersion: 'v' };

function service(alg: Algorithm, signingKey: string, cache: number): TokenService {
  const s = resolveSettings({ algorithm: alg, signingKey, verifiedTokenCacheSize: cache, accessTokenLifetime: '1d' }).settings;
  return new TokenService(s, buildKeyset(s));
}

/** The minimal hand-written HS256 path the issue measures against: split, HMAC, timingSafeEqual, JSON.parse, exp. */
function minimalHs256(token: string, key: KeyObject): Record<string, unknown> {
  const d1 = token.indexOf('.');
  const d2 = token.indexOf('.', d1 + 1);
  const mac = createHmac('sha256', key).update(token.slice(0, d2)).digest();
  const sig = Buffer.from(token.slice(d2 + 1), 'base64url');
  if (sig.length !== mac.length || !timingSafeEqual(sig, mac)) throw new Error('bad signature');
  const payload = JSON.parse(Buffer.from(token.slice(d1 + 1, d2), 'base64url').toString()) as Record<string, unknown>;
  if ((payload.exp as number) <= Date.now() / 1000) throw new Error('expired');
  return payload;
}

export async function buildCases(): Promise<Case[]> {
  const cases: Case[] = [];
  const secret = 'b'.repeat(64);
  const secretKey = createSecretKey(Buffer.from(secret));
  const uncached = service('HS256', secret, 0);
  const cached = service('HS256', secret, 1000);
  const token = uncached.encodeLocal(uncached.forUser('access', user));
  const input = token.slice(0, token.lastIndexOf('.'));
  const fastOff = createVerifier({ key: secret, algorithms: ['HS256'], cache: false });
  const fastOn = createVerifier({ key: secret, algorithms: ['HS256'], cache: true });
  const joseSecret = new TextEncoder().encode(secret);
  const g = 'verify HS256';
  cases.push(
    { group: g, name: 'minimal node:crypto path', fn: () => minimalHs256(token, secretKey), baseline: true },
    { group: g, name: 'raw createHmac over the signing input', fn: () => createHmac('sha256', secretKey).update(input).digest() },
    { group: g, name: 'restjwt (cache off)', fn: () => uncached.decodeLocal(token, 'access').payload },
    { group: g, name: 'restjwt (cache hit)', fn: () => cached.decodeLocal(token, 'access').payload },
    { group: g, name: 'fast-jwt (cache off)', fn: () => fastOff(token) },
    { group: g, name: 'fast-jwt (cache hit)', fn: () => fastOn(token) },
    { group: g, name: 'jsonwebtoken (KeyObject)', fn: () => jsonwebtoken.verify(token, secretKey, { algorithms: ['HS256'] }) },
    { group: g, name: 'jose jwtVerify (Uint8Array)', fn: async () => (await jwtVerify(token, joseSecret, { algorithms: ['HS256'] })).payload },
  );

  const sg = 'sign HS256';
  const payload = uncached.forUser('access', user).payload;
  const header = Buffer.from(JSON.stringify({ alg: 'HS256', typ: 'JWT' })).toString('base64url');
  const fastSign = createSigner({ key: secret, algorithm: 'HS256' });
  cases.push(
    {
      group: sg,
      name: 'minimal node:crypto path',
      baseline: true,
      fn: () => {
        const i = `${header}.${Buffer.from(JSON.stringify(payload)).toString('base64url')}`;
        return `${i}.${createHmac('sha256', secretKey).update(i).digest('base64url')}`;
      },
    },
    { group: sg, name: 'restjwt', fn: () => uncached.encodeLocal({ kind: 'access', payload }) },
    { group: sg, name: 'fast-jwt', fn: () => fastSign(payload) },
    { group: sg, name: 'jose SignJWT', fn: () => new SignJWT(payload).setProtectedHeader({ alg: 'HS256', typ: 'JWT' }).sign(joseSecret) },
  );

  const pairs: Array<[Algorithm, () => { privateKey: KeyObject; publicKey: KeyObject }]> = [
    ['RS256', () => generateKeyPairSync('rsa', { modulusLength: 2048 })],
    ['ES256', () => generateKeyPairSync('ec', { namedCurve: 'prime256v1' })],
    ['EdDSA', () => generateKeyPairSync('ed25519')],
  ];
  for (const [alg, make] of pairs) {
    const { privateKey, publicKey } = make();
    const pem = privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
    const pub = publicKey.export({ format: 'pem', type: 'spki' }).toString();
    const svc = service(alg, pem, 0);
    const tok = svc.encodeLocal(svc.forUser('access', user));
    const signingInput = Buffer.from(tok.slice(0, tok.lastIndexOf('.')));
    const sig = Buffer.from(tok.slice(tok.lastIndexOf('.') + 1), 'base64url');
    const opts = alg === 'ES256' ? { key: publicKey, dsaEncoding: 'ieee-p1363' as const } : publicKey;
    const hash = alg === 'EdDSA' ? null : 'sha256';
    const joseKey = alg === 'EdDSA' ? publicKey : await importSPKI(pub, alg);
    const fast = createVerifier({ key: pub, algorithms: [alg], cache: false });
    const ag = `verify ${alg}`;
    cases.push(
      {
        group: ag,
        name: 'raw crypto.verify + parsing',
        baseline: true,
        fn: () => {
          if (!verify(hash, signingInput, opts, sig)) throw new Error('bad signature');
          return JSON.parse(Buffer.from(tok.split('.')[1] ?? '', 'base64url').toString()) as unknown;
        },
      },
      { group: ag, name: 'restjwt (cache off)', fn: () => svc.decodeLocal(tok, 'access').payload },
      { group: ag, name: 'fast-jwt (cache off)', fn: () => fast(tok) },
      { group: ag, name: 'jose jwtVerify', fn: async () => (await jwtVerify(tok, joseKey, { algorithms: [alg] })).payload },
    );
  }
  return cases;
}
