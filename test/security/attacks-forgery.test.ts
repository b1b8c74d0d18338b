/**
 * Forgery attacks over HTTP against the reference server: a network attacker without keys tries to get a token
 * accepted (RFC 8725 §2.1–2.3, §3.1). Every case is tried as a Bearer access token, on refresh, on logout and on
 * verify, and must be refused with nothing issued, echoed or stored.
 *
 * Extends test/security/keys.test.ts (embedded jwk/jku/x5u and kid on ES256 with an attacker key) and the primitive
 * and differential tests (wycheproof, jws-differential) with whole tokens through the running server.
 */
import { createHmac, createPublicKey, createSecretKey, generateKeyPairSync, sign, type JsonWebKey, type KeyObject } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mint, SECRET, startApp, type TestApp } from '../helpers/server.js';
import {
  b64u,
  BAD_HEADER,
  anyType,
  claims,
  DUPLICATE_HEADER,
  expectRefused,
  hmac,
  parts,
  refusedEverywhere,
  signingInput,
  signWith,
  type Kind,
} from './attack-kit.js';

const secret = createSecretKey(Buffer.from(SECRET));
const HS_KID = 'hs-1';
const ROTATION = { rotateRefreshTokens: true, blacklistAfterRotation: true };
const pem = (k: KeyObject) => k.export({ format: 'pem', type: 'pkcs8' }).toString();

/** A token signed with the server's own secret and kid: the base the structural attacks break. */
const genuine = (kind: Kind, extra: Record<string, unknown> = {}) => mint(claims(kind, extra), secret, 'HS256', HS_KID);

let hs: TestApp;
let rs: TestApp;
let es: TestApp;
let rsKid: string;
let esKid: string;
let rsPublic: JsonWebKey;
let esPublic: JsonWebKey;
const rsKey = generateKeyPairSync('rsa', { modulusLength: 2048 });
const esKey = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });

beforeAll(async () => {
  hs = await startApp({ ...ROTATION, signingKeyId: HS_KID });
  rs = await startApp({ ...ROTATION, algorithm: 'RS256', signingKey: pem(rsKey.privateKey) });
  es = await startApp({ ...ROTATION, algorithm: 'ES256', signingKey: pem(esKey.privateKey) });
  for (const t of [hs, rs, es]) {
    await t.user('alice');
    await t.user('bob');
  }
  // What an attacker sees: the published JWKS.
  [rsPublic] = (await rs.get('/.well-known/jwks.json')).json.keys;
  [esPublic] = (await es.get('/.well-known/jwks.json')).json.keys;
  rsKid = rsPublic.kid as string;
  esKid = esPublic.kid as string;
});
afterAll(async () => {
  await Promise.all([hs?.close(), rs?.close(), es?.close()]);
});

describe('alg "none" in every spelling (RFC 8725 §3.1)', () => {
  const spellings = ['none', 'None', 'NONE', 'nOnE'];
  const tails: Array<[string, (input: string) => string]> = [
    ['an empty signature segment', (input) => `${input}.`],
    ['no signature segment at all', (input) => input],
    ['a trailing signature (the real HMAC of the input)', (input) => `${input}.${hmac('HS256', SECRET, input)}`],
  ];
  const rows = spellings.flatMap((alg) => tails.map(([tail, f]) => [alg, tail, f] as const));
  it.each(rows)('alg %j with %s is refused', async (alg, _tail, finish) => {
    await refusedEverywhere(hs, (kind) => finish(signingInput({ alg, typ: 'JWT', kid: HS_KID }, claims(kind))));
  });

  it.each([
    ['no alg', { typ: 'JWT' }],
    ['an empty alg', { alg: '' }],
    ['alg null', { alg: null }],
    ['alg as a list', { alg: ['HS256'] }],
    ['alg with a trailing space', { alg: 'HS256 ' }],
    ['alg in lower case', { alg: 'hs256' }],
  ])('a header with %s is refused even over a real signature', async (_n, header) => {
    await refusedEverywhere(hs, (kind) => {
      const input = signingInput(header, claims(kind));
      return `${input}.${hmac('HS256', SECRET, input)}`;
    });
  });

  it('duplicate alg members are read as JSON.parse and PyJWT read them (the last wins) and still refused', async () => {
    const attackerKey = 'attacker-secret-attacker-secret-attacker-secret!';
    // "none" last, over the real HMAC: refused as none.
    await refusedEverywhere(hs, (kind) => {
      const input = signingInput('{"alg":"HS256","alg":"none","typ":"JWT"}', claims(kind));
      return `${input}.${hmac('HS256', SECRET, input)}`;
    });
    // "HS256" last, signed with an attacker's secret: refused by the signature.
    await refusedEverywhere(hs, (kind) => {
      const input = signingInput('{"alg":"none","alg":"HS256","typ":"JWT"}', claims(kind));
      return `${input}.${hmac('HS256', attackerKey, input)}`;
    });
  });
});

describe('missing, empty and null signatures', () => {
  const header = { alg: 'HS256', typ: 'JWT', kid: HS_KID };
  it.each([
    ['header.payload. (stripped signature)', (input: string) => `${input}.`],
    ['header.payload (no third segment)', (input: string) => input],
    ['32 zero bytes (the HS256 length)', (input: string) => `${input}.${b64u(Buffer.alloc(32))}`],
    ['one zero byte', (input: string) => `${input}.${b64u(Buffer.alloc(1))}`],
    ['64 zero bytes', (input: string) => `${input}.${b64u(Buffer.alloc(64))}`],
  ])('%s is refused', async (_n, finish) => {
    await refusedEverywhere(hs, (kind) => finish(signingInput(header, claims(kind))));
  });

  it.each([
    ['truncated to 16 bytes', (sig: Buffer) => sig.subarray(0, 16)],
    ['extended by one byte', (sig: Buffer) => Buffer.concat([sig, Buffer.from([0])])],
    ['with its last bit flipped', (sig: Buffer) => Buffer.concat([sig.subarray(0, 31), Buffer.from([(sig[31] as number) ^ 1])])],
  ])('the real HS256 signature %s is refused', async (_n, change) => {
    await refusedEverywhere(hs, (kind) => {
      const [h, p, s] = parts(genuine(kind));
      return `${h}.${p}.${b64u(change(Buffer.from(s, 'base64url')))}`;
    });
  });
});

describe('key confusion: the server\'s public key used as an HMAC secret (RFC 8725 §2.1)', () => {
  /** Every encoding of a public key an attacker could try as the HMAC secret, by key type. */
  const MATERIALS: Array<[label: string, kty: 'RSA' | 'EC' | 'both', material: (key: KeyObject, jwk: JsonWebKey) => Buffer]> = [
    ['SPKI PEM with its trailing newline', 'both', (k) => Buffer.from(k.export({ type: 'spki', format: 'pem' }).toString())],
    ['SPKI PEM without the trailing newline', 'both', (k) => Buffer.from(k.export({ type: 'spki', format: 'pem' }).toString().trimEnd())],
    ['SPKI PEM with CRLF line ends', 'both', (k) => Buffer.from(k.export({ type: 'spki', format: 'pem' }).toString().replace(/\n/g, '\r\n'))],
    ['SPKI DER bytes', 'both', (k) => k.export({ type: 'spki', format: 'der' })],
    ['base64 of the DER', 'both', (k) => Buffer.from(k.export({ type: 'spki', format: 'der' }).toString('base64'))],
    ['the published JWK as JSON', 'both', (_k, jwk) => Buffer.from(JSON.stringify(jwk))],
    ['the bare public JWK as JSON', 'both', (k) => Buffer.from(JSON.stringify(k.export({ format: 'jwk' })))],
    ['PKCS#1 PEM', 'RSA', (k) => Buffer.from(k.export({ type: 'pkcs1', format: 'pem' }).toString())],
    ['the modulus n as base64url text', 'RSA', (_k, jwk) => Buffer.from(jwk.n as string)],
    ['the modulus n as bytes', 'RSA', (_k, jwk) => Buffer.from(jwk.n as string, 'base64url')],
    ['the x coordinate as base64url text', 'EC', (_k, jwk) => Buffer.from(jwk.x as string)],
    ['the uncompressed point bytes', 'EC', (_k, jwk) =>
      Buffer.concat([Buffer.from([4]), Buffer.from(jwk.x as string, 'base64url'), Buffer.from(jwk.y as string, 'base64url')])],
  ];

  for (const [name, kty, server] of [
    ['RS256', 'RSA', () => ({ t: rs, jwk: rsPublic, kid: rsKid })],
    ['ES256', 'EC', () => ({ t: es, jwk: esPublic, kid: esKid })],
  ] as const) {
    describe(`on an ${name} server`, () => {
      it.each(MATERIALS.filter(([, k]) => k === 'both' || k === kty))(
        'HS256/384/512 keyed with %s are refused, with and without the server kid',
        async (_label, _kty, material) => {
          const { t, jwk, kid } = server();
          const secretBytes = material(createPublicKey({ key: jwk, format: 'jwk' }), jwk);
          for (const alg of ['HS256', 'HS384', 'HS512'] as const) {
            for (const header of [{ alg, typ: 'JWT' }, { alg, typ: 'JWT', kid }]) {
              await refusedEverywhere(t, (kind) => {
                const input = signingInput(header, claims(kind));
                return `${input}.${hmac(alg, secretBytes, input)}`;
              });
            }
          }
        },
      );
    });
  }
});

describe('the header never supplies the key', () => {
  let attackerJwks: Server;
  let fetches = 0;
  let attackerUrl = '';
  const attacker = generateKeyPairSync('rsa', { modulusLength: 2048 });
  beforeAll(async () => {
    attackerJwks = createServer((_req, res) => {
      fetches++;
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ keys: [{ ...attacker.publicKey.export({ format: 'jwk' }), kid: rsKid, alg: 'RS256', use: 'sig' }] }));
    });
    await new Promise<void>((r) => attackerJwks.listen(0, '127.0.0.1', () => r()));
    attackerUrl = `http://127.0.0.1:${(attackerJwks.address() as { port: number }).port}`;
  });
  afterAll(() => new Promise<void>((r) => attackerJwks.close(() => r())));

  it('an HS256 token carrying its own oct jwk (signed with that secret) is refused', async () => {
    const mine = Buffer.from('attacker-chosen-secret-attacker-chosen-secret');
    await refusedEverywhere(hs, (kind) => {
      const input = signingInput({ alg: 'HS256', typ: 'JWT', kid: HS_KID, jwk: { kty: 'oct', k: b64u(mine) } }, claims(kind));
      return `${input}.${hmac('HS256', mine, input)}`;
    });
  });

  it('an RS256 token carrying the attacker\'s public jwk, with the server kid, is refused', async () => {
    const jwk = { ...attacker.publicKey.export({ format: 'jwk' }), kid: rsKid };
    await refusedEverywhere(rs, (kind) => signWith('RS256', attacker.privateKey, { alg: 'RS256', typ: 'JWT', kid: rsKid, jwk }, claims(kind)));
  });

  it.each([
    ['jku', () => ({ jku: `${attackerUrl}/jwks.json` })],
    ['x5u', () => ({ x5u: `${attackerUrl}/cert.pem` })],
    ['x5c (a garbage chain)', () => ({ x5c: [b64u('not a certificate')] })],
  ])('an RS256 token pointing %s at a live attacker server is refused, and the server is never fetched', async (_n, extra) => {
    fetches = 0;
    await refusedEverywhere(rs, (kind) => signWith('RS256', attacker.privateKey, { alg: 'RS256', typ: 'JWT', kid: rsKid, ...extra() }, claims(kind)));
    expect(fetches).toBe(0);
  });
});

describe('kid injection (the server has kid "hs-1")', () => {
  const attackerSecret = 'attacker-secret-attacker-secret-attacker-secret!';
  it.each([
    ['path traversal to /dev/null, signed with an empty key', '../../../../../../dev/null', ''],
    ['path traversal to a public file, signed with its contents', '../../../../../../etc/hostname', 'localhost\n'],
    ['SQL returning a chosen key', "hs-1' UNION SELECT 'attacker-secret-attacker-secret-attacker-secret!' -- ", attackerSecret],
    ['SQL tautology', "' OR '1'='1", attackerSecret],
    ['a null byte after the real kid', 'hs-1\u0000../../dev/null', ''],
    ['the real kid with a trailing space', 'hs-1 ', attackerSecret],
    ['a very long kid (1,200 characters)', 'k'.repeat(1200), attackerSecret],
    ['a shell command', '$(curl http://127.0.0.1:1/)|id;', attackerSecret],
  ])('%s is refused', async (_n, kid, key) => {
    await refusedEverywhere(hs, (kind) => {
      const input = signingInput({ alg: 'HS256', typ: 'JWT', kid }, claims(kind));
      return `${input}.${createHmac('sha256', key).update(input).digest('base64url')}`;
    });
  });

  it.each([
    ['a header over 2 KB (a 3,000-character kid)', 'k'.repeat(3000)],
    ['a numeric kid', 1],
    ['an object kid', { $ne: null }],
    ['a list kid', [HS_KID]],
  ])('%s is refused even over the real signature', async (_n, kid) => {
    await refusedEverywhere(hs, (kind) => {
      const input = signingInput({ alg: 'HS256', typ: 'JWT', kid }, claims(kind));
      return `${input}.${hmac('HS256', SECRET, input)}`;
    });
  });
});

describe('ECDSA on an ES256 server: zero and out-of-range signatures', () => {
  const N = Buffer.from('FFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551', 'hex');
  const zero32 = Buffer.alloc(32);
  it.each([
    ['r = s = 0 (64 zero bytes)', Buffer.alloc(64)],
    ['32 zero bytes', Buffer.alloc(32)],
    ['63 zero bytes', Buffer.alloc(63)],
    ['65 zero bytes', Buffer.alloc(65)],
    ['128 zero bytes', Buffer.alloc(128)],
    ['DER-encoded r = s = 0', Buffer.from('3006020100020100', 'hex')],
    ['one zero byte', Buffer.alloc(1)],
    ['r = s = n ("psychic signature", CVE-2022-21449)', Buffer.concat([N, N])],
    ['r = 0, s = n', Buffer.concat([zero32, N])],
    ['r = n, s = 0', Buffer.concat([N, zero32])],
    ['r = s = 1', Buffer.concat([Buffer.alloc(31), Buffer.from([1]), Buffer.alloc(31), Buffer.from([1])])],
  ])('%s is refused', async (_n, sig) => {
    await refusedEverywhere(es, (kind) => `${signingInput({ alg: 'ES256', typ: 'JWT', kid: esKid }, claims(kind))}.${b64u(sig)}`);
  });

  it('the DER form of a real signature is refused (JOSE uses fixed-length P1363)', async () => {
    await refusedEverywhere(es, (kind) => {
      const input = signingInput({ alg: 'ES256', typ: 'JWT', kid: esKid }, claims(kind));
      return `${input}.${b64u(sign('sha256', Buffer.from(input), { key: esKey.privateKey, dsaEncoding: 'der' }))}`;
    });
  });
});

describe('a real signature from the wrong key', () => {
  it.each([
    ['the server secret with one more character', `${SECRET}x`],
    ['the first 32 bytes of the server secret', SECRET.slice(0, 32)],
    ['the server secret in upper case', SECRET.toUpperCase()],
  ])('HS256 with %s is refused', async (_n, key) => {
    await refusedEverywhere(hs, (kind) => mint(claims(kind), createSecretKey(Buffer.from(key)), 'HS256', HS_KID));
  });

  it('ES256 from another P-256 key carrying the server kid is refused', async () => {
    const other = generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey;
    await refusedEverywhere(es, (kind) => mint(claims(kind), other, 'ES256', esKid));
  });

  it('RS256 from another 2048-bit key carrying the server kid is refused', async () => {
    const other = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
    await refusedEverywhere(rs, (kind) => mint(claims(kind), other, 'RS256', rsKid));
  });
});

describe('a valid signature spliced onto another header or payload', () => {
  it('bob\'s claims under alice\'s signature are refused', async () => {
    await refusedEverywhere(hs, (kind) => {
      const [h, , s] = parts(genuine(kind));
      const [, p] = parts(genuine(kind, { user_id: '2' }));
      return `${h}.${p}.${s}`;
    });
  });

  it('a header changed after signing (an extra member) is refused', async () => {
    await refusedEverywhere(hs, (kind) => {
      const [, p, s] = parts(genuine(kind));
      return `${b64u({ alg: 'HS256', typ: 'JWT', kid: HS_KID, cty: 'JWT' })}.${p}.${s}`;
    });
  });

  it('the same claims re-encoded (whitespace in the JSON) under the original signature are refused', async () => {
    await refusedEverywhere(hs, (kind) => {
      const [h, p, s] = parts(genuine(kind));
      return `${h}.${b64u(JSON.stringify(JSON.parse(Buffer.from(p, 'base64url').toString()), null, 1))}.${s}`;
    });
  });

  it('a payload with user_id changed in place, signature kept, is refused', async () => {
    await refusedEverywhere(hs, (kind) => {
      const [h, p, s] = parts(genuine(kind));
      const c = JSON.parse(Buffer.from(p, 'base64url').toString()) as Record<string, unknown>;
      return `${h}.${b64u({ ...c, user_id: '2' })}.${s}`;
    });
  });

  it('the signature of an ES256 token moved onto another payload is refused', async () => {
    await refusedEverywhere(es, (kind) => {
      const [h, , s] = parts(mint(claims(kind), esKey.privateKey, 'ES256', esKid));
      return `${h}.${b64u(claims(kind, { user_id: '2' }))}.${s}`;
    });
  });
});

describe('algorithm pinning: one key, one algorithm', () => {
  it.each([
    ['HS512 with the server secret on an HS256 server', () => hs, (kind: Kind) => mint(claims(kind), secret, 'HS512', HS_KID)],
    ['HS384 with the server secret on an HS256 server', () => hs, (kind: Kind) => mint(claims(kind), secret, 'HS384', HS_KID)],
    ['RS512 with the server key on an RS256 server', () => rs, (kind: Kind) => mint(claims(kind), rsKey.privateKey, 'RS512', rsKid)],
    ['PS256 with the server key on an RS256 server', () => rs, (kind: Kind) => mint(claims(kind), rsKey.privateKey, 'PS256', rsKid)],
    ['an RS256 signature relabelled RS512', () => rs, (kind: Kind) => {
      const input = signingInput({ alg: 'RS512', typ: 'JWT', kid: rsKid }, claims(kind));
      const [, , s] = parts(signWith('RS256', rsKey.privateKey, { alg: 'RS512', typ: 'JWT', kid: rsKid }, claims(kind)));
      return `${input}.${s}`;
    }],
  ])('%s is refused', async (_n, app, make) => {
    await refusedEverywhere(app(), make);
  });
});

describe('JWS extensions the verifier does not understand (RFC 7515 §4.1.11, RFC 7797)', () => {
  it.each([
    ['crit: ["exp"]', { crit: ['exp'] }],
    ['crit: [] (empty)', { crit: [] }],
    ['crit as a string', { crit: 'b64' }],
    ['crit: ["b64"] with b64: false', { crit: ['b64'], b64: false }],
  ])('a header with %s is refused even over the real signature', async (_n, extra) => {
    await refusedEverywhere(hs, (kind) => signWith('HS256', secret, { alg: 'HS256', typ: 'JWT', kid: HS_KID, ...extra }, claims(kind)));
  });

  it('b64: false with an unencoded JSON payload, signed with the real key, is refused', async () => {
    // In a header, the JSON's commas make the value a list of credentials (copies joined): 400 before any parsing.
    await refusedEverywhere(
      hs,
      (kind) => {
        const h = b64u({ alg: 'HS256', typ: 'JWT', kid: HS_KID, b64: false });
        const input = `${h}.${JSON.stringify(claims(kind))}`;
        return `${input}.${createHmac('sha256', SECRET).update(input).digest('base64url')}`;
      },
      { protectedStatus: 400, protectedBody: DUPLICATE_HEADER },
    );
  });
});

describe('structure: segments, encodings and look-alikes around a genuine token', () => {
  /** Rewrites a genuine token; the header case is answered only where the header can carry it. */
  const rows: Array<[string, (token: string) => string, { protectedBody?: unknown; skipHeader?: boolean }?]> = [
    ['a trailing dot (four segments, the last empty)', (t) => `${t}.`],
    ['a fourth segment', (t) => `${t}.${parts(t)[2]}`],
    ['a doubled dot between header and payload', (t) => t.replace('.', '..')],
    ['a leading dot', (t) => `.${t}`],
    ['two genuine tokens joined by a dot', (t) => `${t}.${t}`],
    ['an empty header segment', (t) => `.${parts(t)[1]}.${parts(t)[2]}`],
    ['an empty payload segment', (t) => `${parts(t)[0]}..${parts(t)[2]}`],
    ['"=" padding on the signature', (t) => `${t}=`],
    ['"==" padding on the payload', (t) => { const [h, p, s] = parts(t); return `${h}.${p}==.${s}`; }],
    ['standard base64 "+" and "/" in place of "-" and "_"', (t) => t.replace(/-/g, '+').replace(/_/g, '/')],
    ['the signature in standard base64 with padding', (t) => { const [h, p, s] = parts(t); return `${h}.${p}.${Buffer.from(s, 'base64url').toString('base64')}`; }],
    ['a space inside the signature', (t) => `${t.slice(0, -4)} ${t.slice(-4)}`, { protectedBody: BAD_HEADER }],
    ['a tab inside the payload', (t) => { const [h, p, s] = parts(t); return `${h}.${p.slice(0, 5)}\t${p.slice(5)}.${s}`; }, { protectedBody: BAD_HEADER }],
    ['a newline inside the token', (t) => `${t.slice(0, 20)}\n${t.slice(20)}`, { skipHeader: true }],
    ['a NUL byte appended', (t) => `${t}\u0000`, { skipHeader: true }],
    ['the token in quotes', (t) => `"${t}"`],
    ['fullwidth full stops (U+FF0E) for dots', (t) => t.replace(/\./g, '\uFF0E'), { skipHeader: true }],
    ['one-dot leaders (U+2024) for dots', (t) => t.replace(/\./g, '\u2024'), { skipHeader: true }],
    ['a Cyrillic "е" in "eyJ"', (t) => t.replace('eyJ', '\u0435yJ'), { skipHeader: true }],
    ['fullwidth letters for the header', (t) => { const [h, p, s] = parts(t); return `${[...h].map((c) => (/[A-Za-z0-9]/.test(c) ? String.fromCodePoint((c.codePointAt(0) as number) + 0xfee0) : c)).join('')}.${p}.${s}`; }, { skipHeader: true }],
    ['a zero-width space inside the payload', (t) => { const [h, p, s] = parts(t); return `${h}.${p.slice(0, 8)}\u200B${p.slice(8)}.${s}`; }, { skipHeader: true }],
    ['a Latin-1 middle dot (U+00B7) for the second dot', (t) => { const [h, p, s] = parts(t); return `${h}.${p}\u00B7${s}`; }],
  ];
  it.each(rows)('a genuine token with %s is refused', async (_n, change, options) => {
    // A genuine token that has both "-"/"_" and base64 letters, so every rewrite changes it.
    const make = (kind: Kind) => {
      for (;;) {
        const t = genuine(kind);
        if (/[-_]/.test(t)) return change(t);
      }
    };
    await refusedEverywhere(hs, make, options);
  });

  it('a token over maxTokenLength (8192) is refused even when genuinely signed', async () => {
    await refusedEverywhere(hs, (kind) => genuine(kind, { pad: 'x'.repeat(8200) }));
  });

  it('the untouched genuine tokens are accepted (the rows above fail only for what they change)', async () => {
    const a = genuine('access');
    expect((await hs.get('/api/protected/', { authorization: `Bearer ${a}` })).status).toBe(200);
    expect((await hs.post('/api/token/verify/', { token: a })).status).toBe(200);
    const r = await hs.post('/api/token/refresh/', { refresh: genuine('refresh') });
    expect(r.status).toBe(200);
  });
});

describe('a verify-only server with jwkUrl (simplejwt JWK_URL): the remote JWKS cannot be turned against it', () => {
  const remote = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const remoteJwk = { ...remote.publicKey.export({ format: 'jwk' }), kid: 'remote-1', alg: 'ES256', use: 'sig' };
  let jwks: Server;
  let fetches = 0;
  let t: TestApp;
  beforeAll(async () => {
    jwks = createServer((_req, res) => {
      fetches++;
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ keys: [remoteJwk] }));
    });
    await new Promise<void>((r) => jwks.listen(0, '127.0.0.1', () => r()));
    const url = `http://127.0.0.1:${(jwks.address() as { port: number }).port}/jwks.json`;
    t = await startApp({ signingKey: null, algorithm: 'ES256', jwkUrl: url });
    await t.user('alice');
    // One genuine request loads the set.
    const ok = mint(claims('access'), remote.privateKey, 'ES256', 'remote-1');
    expect((await t.get('/api/protected/', { authorization: `Bearer ${ok}` })).status).toBe(200);
    expect(fetches).toBe(1);
  });
  afterAll(async () => {
    await t?.close();
    await new Promise<void>((r) => jwks.close(() => r()));
  });

  const bearer = async (token: string) =>
    expectRefused(t, () => t.get('/api/protected/', { authorization: `Bearer ${token}` }), { status: 401, body: anyType('Token is invalid') }, [token]);

  it('alg none and HS256 keyed with the remote public key (PEM, JWK) are refused without fetching', async () => {
    const input = signingInput({ alg: 'none', typ: 'JWT', kid: 'remote-1' }, claims('access'));
    await bearer(`${input}.`);
    const pubPem = remote.publicKey.export({ type: 'spki', format: 'pem' }).toString();
    for (const material of [Buffer.from(pubPem), Buffer.from(JSON.stringify(remoteJwk))]) {
      for (const alg of ['HS256', 'HS384', 'HS512'] as const) {
        const i = signingInput({ alg, typ: 'JWT', kid: 'remote-1' }, claims('access'));
        await bearer(`${i}.${hmac(alg, material, i)}`);
      }
    }
    expect(fetches).toBe(1);
  });

  it('an attacker key under the remote kid is refused', async () => {
    const other = generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey;
    await bearer(mint(claims('access'), other, 'ES256', 'remote-1'));
    await bearer(mint(claims('access'), other, 'ES256'));
  });

  it('20 tokens with unknown kids are refused and make at most one more JWKS fetch (no amplification)', async () => {
    const other = generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey;
    const before = fetches;
    await Promise.all(Array.from({ length: 20 }, (_, i) => bearer(mint(claims('access'), other, 'ES256', `unknown-${i}`))));
    expect(fetches - before).toBeLessThanOrEqual(1);
  });
});
