/**
 * Differential property test of restjwt's JWS verifier against jose's `compactVerify`, for every algorithm, over
 * valid tokens (ours and jose's), tampered tokens and random strings — runtime-neutral: web-standard APIs, fast-check
 * and jose only (no node:*, no Buffer), so that it runs on Node, Bun, Deno and workerd, against either primitive:
 * `node` (node:crypto, synchronous) or `web` (WebCrypto). Keys come from jose's generateKeyPair and enter restjwt as
 * PEM text, as a user's would.
 *
 * Properties, for every generated token:
 *  - if ours accepts, jose accepts too (with `algorithms: [alg]`), with a byte-identical payload;
 *  - if jose accepts and ours refuses, the token falls in one of the DOCUMENTED stricter cases below, and ours refuses
 *    it for exactly the reason that case implies. Anything else (in particular a canonical token without `crit` whose
 *    payload is a JSON object) is a failure.
 * Plus fixed checks (both signing directions, wrong keys, alg relabelling, key confusion, header UTF-8), and the
 * summary checks: every algorithm saw tokens both accept and both refuse, and the stricter cases were reached.
 */
import fc from 'fast-check';
import { CompactSign, SignJWT, compactVerify, exportJWK, exportPKCS8, exportSPKI, generateKeyPair } from 'jose';
import { ALGORITHM_SPECS } from '../../packages/core/src/jws/algorithms.js';
import type { CryptoKey } from '../../packages/core/src/jws/primitives.js';
import { signCompact, signCompactWeb, signRaw, signRawWeb } from '../../packages/core/src/jws/sign.js';
import { JwsError, verifyCompact, verifyCompactWeb, type JwsFailure } from '../../packages/core/src/jws/verify.js';
import { importSigningKey, importVerifyingKey, webSigningKey, webVerifyingKey } from '../../packages/core/src/keys/import-key.js';
import { ALGORITHMS, type Algorithm } from '../../packages/core/src/settings/types.js';

export type PrimitiveName = 'node' | 'web';

export interface DifferentialOptions {
  primitive: PrimitiveName;
  /** Multiplies the standard number of runs per property (1: the RUNS table below; CI and other runtimes may use less). */
  scale?: number;
}

export interface DifferentialResult {
  /** Tokens run through both verifiers. */
  checked: number;
  /** Documented differences seen, by kind (plus `bothAccept` / `bothRefuse` totals). */
  differences: Record<string, number>;
  /** Everything that went wrong; empty when ours agrees with jose. */
  failures: string[];
}

// ---------------------------------------------------------------------------------------------------------------
// Bytes without Buffer.
// ---------------------------------------------------------------------------------------------------------------

const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s);
/** Lenient UTF-8 that keeps a BOM, as Buffer's toString does (a BOM before JSON makes it invalid JSON). */
const text = (b: Uint8Array): string => new TextDecoder('utf-8', { ignoreBOM: true }).decode(b);
const concat = (...parts: Uint8Array[]): Uint8Array => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
};
const sameBytes = (a: Uint8Array, b: Uint8Array): boolean => a.length === b.length && a.every((v, i) => v === b[i]);

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

/** base64url without padding (an independent implementation: the code under test has its own). */
function b64u(input: Uint8Array | string): string {
  const bytes = typeof input === 'string' ? utf8(input) : input;
  let bin = '';
  for (const b of bytes) bin += String.fromCharCode(b);
  return btoa(bin).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

/** Lenient base64url decoding (what generators need for tampered input): foreign characters skipped, +/ read as -_. */
function fromB64uLenient(s: string): Uint8Array {
  const clean = s.replace(/\+/g, '-').replace(/\//g, '_').replace(/[^A-Za-z0-9_-]/g, '');
  const usable = clean.length % 4 === 1 ? clean.slice(0, -1) : clean;
  const bin = atob(usable.replace(/-/g, '+').replace(/_/g, '/') + '='.repeat((4 - (usable.length % 4)) % 4));
  return Uint8Array.from(bin, (c) => c.charCodeAt(0));
}

function isCanonicalSegment(s: string): boolean {
  return /^[A-Za-z0-9_-]+$/.test(s) && s.length % 4 !== 1 && b64u(fromB64uLenient(s)) === s;
}

function isJsonObject(bytes: Uint8Array): boolean {
  try {
    const v: unknown = JSON.parse(text(bytes));
    return v !== null && typeof v === 'object' && !Array.isArray(v);
  } catch {
    return false;
  }
}

/** Deep equality of JSON values (SameValue for numbers, own keys in any order). */
function jsonEqual(a: unknown, b: unknown): boolean {
  if (typeof a !== 'object' || a === null || typeof b !== 'object' || b === null) return Object.is(a, b);
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  if (ka.length !== kb.length) return false;
  return ka.every((k) => Object.hasOwn(b, k) && jsonEqual((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]));
}

// ---------------------------------------------------------------------------------------------------------------
// The primitive under test, behind one interface: keys from PEM/secret text, signing, verification.
// ---------------------------------------------------------------------------------------------------------------

type Ours = { ok: true; payload: Record<string, unknown>; header: Record<string, unknown> } | { ok: false; reason: JwsFailure | `crash: ${string}` };

interface Impl {
  signingKey(text: string, alg: Algorithm): unknown;
  verifyingKey(text: string, alg: Algorithm): unknown;
  sign(alg: Algorithm, key: unknown, payload: Record<string, unknown>, kid?: string): Promise<string>;
  signRaw(alg: Algorithm, key: unknown, input: string): Promise<Uint8Array>;
  verify(token: string, keys: readonly { alg: Algorithm; key: unknown; kid: string | undefined }[]): Promise<Ours>;
}

const refusal = (err: unknown): Ours => ({ ok: false, reason: err instanceof JwsError ? err.reason : `crash: ${String(err)}` });

const IMPLS: Record<PrimitiveName, Impl> = {
  node: {
    signingKey: (t, alg) => importSigningKey(t, alg),
    verifyingKey: (t, alg) => importVerifyingKey(t, alg),
    sign: async (alg, key, payload, kid) => signCompact(alg, key as Parameters<typeof signCompact>[1], payload, kid),
    signRaw: async (alg, key, input) => signRaw(alg, key as Parameters<typeof signRaw>[1], input),
    verify: async (token, keys) => {
      try {
        const v = verifyCompact(token, keys as Parameters<typeof verifyCompact>[1]);
        return { ok: true, payload: v.payload, header: v.header };
      } catch (err) {
        return refusal(err);
      }
    },
  },
  web: {
    signingKey: (t, alg) => webSigningKey(t, alg),
    verifyingKey: (t, alg) => webVerifyingKey(t, alg),
    sign: (alg, key, payload, kid) => signCompactWeb(alg, key as Parameters<typeof signCompactWeb>[1], payload, kid),
    signRaw: (alg, key, input) => signRawWeb(alg, key as Parameters<typeof signRawWeb>[1], input),
    verify: async (token, keys) => {
      try {
        const v = await verifyCompactWeb(token, keys as Parameters<typeof verifyCompactWeb>[1]);
        return { ok: true, payload: v.payload, header: v.header };
      } catch (err) {
        return refusal(err);
      }
    },
  },
};

// ---------------------------------------------------------------------------------------------------------------
// Keys: material generated once per algorithm and runtime (plus a second key, for "wrong key" cases).
// ---------------------------------------------------------------------------------------------------------------

const ALL: readonly Algorithm[] = [
  'HS256', 'HS384', 'HS512',
  'RS256', 'RS384', 'RS512',
  'PS256', 'PS384', 'PS512',
  'ES256', 'ES384', 'ES512',
  'EdDSA',
];

/** One key's material: the text restjwt reads, and what jose verifies with. */
interface Material {
  signText: string;
  verifyText: string;
  /** jose's verifying key: the public CryptoKey, or the secret's bytes. */
  jose: CryptoKey | Uint8Array;
  /** jose's signing key. */
  joseSign: CryptoKey | Uint8Array;
  /** SPKI PEM / DER / JWK text of the public key (key-confusion material), asymmetric only. */
  confusion?: Uint8Array[];
}

const MATERIAL = new Map<string, Promise<Material>>();

function material(alg: Algorithm, which: 'main' | 'other'): Promise<Material> {
  const id = `${alg} ${which}`;
  let m = MATERIAL.get(id);
  if (m === undefined) {
    m = makeMaterial(alg);
    MATERIAL.set(id, m);
  }
  return m;
}

async function makeMaterial(alg: Algorithm): Promise<Material> {
  if (ALGORITHM_SPECS[alg].family === 'hmac') {
    // 64 random ASCII characters: restjwt reads a secret as its text's UTF-8 bytes, as simplejwt does.
    const secret = b64u(crypto.getRandomValues(new Uint8Array(48)));
    return { signText: secret, verifyText: secret, jose: utf8(secret), joseSign: utf8(secret) };
  }
  const genAlg = alg === 'EdDSA' ? 'Ed25519' : alg;
  const { privateKey, publicKey } = await generateKeyPair(genAlg, { extractable: true, ...(alg.startsWith('RS') || alg.startsWith('PS') ? { modulusLength: 2048 } : {}) });
  const spki = await exportSPKI(publicKey);
  const der = fromB64uLenient(spki.replace(/-----[A-Z ]+-----/g, ''));
  const jwk = JSON.stringify(await exportJWK(publicKey));
  return { signText: await exportPKCS8(privateKey), verifyText: spki, jose: publicKey, joseSign: privateKey, confusion: [utf8(spki), der, utf8(jwk)] };
}

interface Ctx {
  alg: Algorithm;
  main: Material;
  other: Material;
  sign: unknown;
  otherSign: unknown;
  verify: unknown;
  otherVerify: unknown;
  /** Our keyset: only this algorithm's key, no kid (jose ignores kid, so kid selection stays out of the comparison). */
  keys: readonly { alg: Algorithm; key: unknown; kid: string | undefined }[];
}

const RUNS: Record<Algorithm, number> = {
  HS256: 200, HS384: 200, HS512: 200,
  RS256: 50, RS384: 50, RS512: 50,
  PS256: 50, PS384: 50, PS512: 50,
  ES256: 150, ES384: 100, ES512: 100,
  EdDSA: 200,
};

// ---------------------------------------------------------------------------------------------------------------
// Classifying differences.
// ---------------------------------------------------------------------------------------------------------------

type Jose = { ok: true; payload: Uint8Array } | { ok: false; error: string };

async function runJose(token: string, key: CryptoKey | Uint8Array, alg: Algorithm): Promise<Jose> {
  try {
    const { payload } = await compactVerify(token, key, { algorithms: [alg] });
    return { ok: true, payload };
  } catch (err) {
    const e = err as { code?: string; name?: string; message?: string };
    return { ok: false, error: `${e.code ?? e.name ?? 'Error'}: ${e.message ?? ''}` };
  }
}

/**
 * The documented cases where ours is stricter than jose, in the order the verifier checks them, each with the
 * refusal reason it must give. `null`: not documented (a canonical token, no `crit`, a JSON-object payload…).
 */
export const DOCUMENTED = {
  tokenTooLong: { reason: 'too_large', why: 'token longer than maxLength (8192 by default): bounded work per request' },
  headerTooLong: { reason: 'too_large', why: 'header segment over 2048 characters' },
  headerNotCanonical: { reason: 'malformed', why: 'header not canonical base64url (padding, whitespace, +, /, set trailing bits)' },
  crit: { reason: 'crit_unsupported', why: '`crit` present: no extension is understood, jose knows b64 (RFC 7515 §4.1.11, RFC 8725)' },
  kidNotString: { reason: 'bad_header', why: '`kid` is not a string (RFC 7515 §4.1.4)' },
  signatureNotCanonical: { reason: 'malformed', why: 'signature not canonical base64url: one token string per signature' },
  payloadNotCanonical: { reason: 'malformed', why: 'payload not canonical base64url' },
  payloadNotObject: { reason: 'bad_payload', why: 'payload is not a JSON object (JWT claims set, RFC 7519 §7.2)' },
} as const satisfies Record<string, { reason: JwsFailure; why: string }>;
type Documented = keyof typeof DOCUMENTED;

function classify(token: string): Documented | null {
  const [h = '', p = '', s = ''] = token.split('.');
  if (token.length > 8192) return 'tokenTooLong';
  if (h.length > 2048) return 'headerTooLong';
  if (!isCanonicalSegment(h)) return 'headerNotCanonical';
  let header: Record<string, unknown>;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(fromB64uLenient(h))) as Record<string, unknown>;
  } catch {
    return null;
  }
  if (Object.hasOwn(header, 'crit')) return 'crit';
  if (Object.hasOwn(header, 'kid') && typeof header.kid !== 'string') return 'kidNotString';
  if (!isCanonicalSegment(s)) return 'signatureNotCanonical';
  // An empty payload segment is canonical (it decodes to no bytes), just not a JSON object.
  if (p !== '' && !isCanonicalSegment(p)) return 'payloadNotCanonical';
  if (!isJsonObject(fromB64uLenient(p))) return 'payloadNotObject';
  return null;
}

interface Stats {
  cases: number;
  bothAccept: number;
  bothRefuse: number;
  documented: number;
}

// ---------------------------------------------------------------------------------------------------------------
// Generators.
// ---------------------------------------------------------------------------------------------------------------

const jsonObject = fc.oneof(
  fc.dictionary(fc.string({ maxLength: 8 }), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 6 }),
  fc.dictionary(fc.string({ maxLength: 6, unit: 'binary' }), fc.jsonValue({ maxDepth: 1, stringUnit: 'binary' }), { maxKeys: 4 }),
  fc.record({
    sub: fc.string({ maxLength: 10 }),
    exp: fc.integer({ min: 0, max: 2 ** 31 }),
    token_type: fc.constantFrom('access', 'refresh'),
    jti: fc.uuid(),
  }),
) as fc.Arbitrary<Record<string, unknown>>;

/** Payload bytes: mostly JSON objects, also other JSON values, raw bytes and edge cases. */
const payloadBytes: fc.Arbitrary<Uint8Array> = fc.oneof(
  { weight: 5, arbitrary: jsonObject.map((o) => utf8(JSON.stringify(o))) },
  { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 2 }).map((v) => utf8(JSON.stringify(v) ?? 'null')) },
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 40 }) },
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      new Uint8Array(0),
      utf8('{}'),
      utf8('[]'),
      utf8('null'),
      utf8('"x"'),
      utf8('{"a":1'),
      utf8(' {"a":1}\n'),
      utf8('{"a":1}{"b":2}'),
      utf8('\uFEFF{"a":1}'),
      utf8('{"__proto__":{"admin":true}}'),
      concat(utf8('{"a":"'), Uint8Array.of(0xff, 0xc0, 0xaf), utf8('"}')),
      concat(utf8('{"a":"'), Uint8Array.of(0xed, 0xa0, 0x80), utf8('"}')),
    ),
  },
);

type Enc =
  | 'canonical'
  | 'pad'
  | 'pad-extra'
  | 'space-inside'
  | 'newline-end'
  | 'tab-start'
  | 'std-alphabet'
  | 'trailing-bits'
  | 'drop-last'
  | 'foreign-char';

const nonCanonicalEnc: fc.Arbitrary<Enc> = fc.constantFrom<Enc>(
  'pad', 'pad-extra', 'space-inside', 'newline-end', 'tab-start', 'std-alphabet', 'trailing-bits', 'drop-last', 'foreign-char',
);
const enc: fc.Arbitrary<Enc> = fc.oneof(
  { weight: 8, arbitrary: fc.constant<Enc>('canonical') },
  { weight: 2, arbitrary: nonCanonicalEnc },
);

/** Applies a (usually non-canonical) re-encoding to a base64url segment. */
function encode(seg: string, e: Enc, salt: number): string {
  switch (e) {
    case 'canonical':
      return seg;
    case 'pad':
      return seg + '='.repeat((4 - (seg.length % 4)) % 4);
    case 'pad-extra':
      return `${seg}=`;
    case 'space-inside': {
      const i = seg.length === 0 ? 0 : salt % seg.length;
      return `${seg.slice(0, i)} ${seg.slice(i)}`;
    }
    case 'newline-end':
      return `${seg}\n`;
    case 'tab-start':
      return `\t${seg}`;
    case 'std-alphabet':
      return seg.replace(/-/g, '+').replace(/_/g, '/');
    case 'trailing-bits': {
      // Lengths 4n+2 leave 4 unused bits, 4n+3 leave 2: setting any of them gives a non-canonical spelling.
      const unused = seg.length % 4 === 2 ? 4 : seg.length % 4 === 3 ? 2 : 0;
      if (unused === 0) return seg;
      const last = ALPHABET.indexOf(seg[seg.length - 1] ?? 'A');
      const bits = (salt % ((1 << unused) - 1)) + 1;
      return seg.slice(0, -1) + ALPHABET[(last & ~((1 << unused) - 1)) | bits];
    }
    case 'drop-last':
      return seg.slice(0, -1);
    case 'foreign-char': {
      const i = seg.length === 0 ? 0 : salt % seg.length;
      return `${seg.slice(0, i)}${['?', '.', '%', 'é', '\u0000', '~'][salt % 6]}${seg.slice(i)}`;
    }
  }
}

type HeaderSpec =
  | {
      kind: 'object';
      alg: unknown;
      crit: unknown;
      b64: boolean | undefined;
      kid: unknown;
      typ: string | undefined;
      extra: Record<string, unknown>;
    }
  | { kind: 'raw'; raw: string };

const RAW_HEADERS = [
  'array', 'string', 'null', 'number', 'invalid-utf8', 'overlong-utf8', 'surrogate-utf8', 'bom', 'whitespace-json',
  'dup-alg-none-first', 'dup-alg-none-last', 'truncated-json', 'trailing-nul', 'escaped-alg', 'proto-alg',
] as const;

function headerSpec(alg: Algorithm): fc.Arbitrary<HeaderSpec> {
  const algValue: fc.Arbitrary<unknown> = fc.oneof(
    { weight: 8, arbitrary: fc.constant(alg) },
    {
      weight: 3,
      arbitrary: fc.constantFrom<unknown>(
        ...ALL, 'none', 'None', 'NONE', 'nOnE', '', alg.toLowerCase(), `${alg} `, `${alg}\u0000`, 'Ed25519', 'ES256K', 'RSA-OAEP',
      ),
    },
    { weight: 1, arbitrary: fc.constantFrom<unknown>(undefined, null, 0, true, [alg], { alg }) },
  );
  return fc.oneof(
    {
      weight: 6,
      arbitrary: fc.record({
        kind: fc.constant('object' as const),
        alg: algValue,
        crit: fc.oneof(
          { weight: 6, arbitrary: fc.constant(undefined) },
          { weight: 1, arbitrary: fc.constantFrom<unknown>([], ['b64'], ['exp'], ['b64', 'b64'], 'b64', [''], [1], null) },
        ),
        b64: fc.option(fc.boolean(), { nil: undefined, freq: 4 }),
        kid: fc.oneof(
          { weight: 6, arbitrary: fc.constant(undefined) },
          { weight: 2, arbitrary: fc.string({ maxLength: 8 }) },
          { weight: 1, arbitrary: fc.constantFrom<unknown>(7, null, ['k'], { k: 1 }, true) },
        ),
        typ: fc.option(fc.constantFrom('JWT', 'at+jwt', 'JOSE', ''), { nil: undefined, freq: 2 }),
        extra: fc.dictionary(fc.string({ maxLength: 5 }), fc.jsonValue({ maxDepth: 1 }), { maxKeys: 2 }),
      }),
    },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('raw' as const), raw: fc.constantFrom(...RAW_HEADERS) }) },
  );
}

export function headerBytes(spec: HeaderSpec, alg: Algorithm): Uint8Array {
  if (spec.kind === 'object') {
    // Spread first so extra members never shadow the ones under test; JSON.stringify drops the undefined ones.
    return utf8(JSON.stringify({ ...spec.extra, alg: spec.alg, typ: spec.typ, kid: spec.kid, crit: spec.crit, b64: spec.b64 }));
  }
  const a = JSON.stringify(alg);
  switch (spec.raw as (typeof RAW_HEADERS)[number]) {
    case 'array':
      return utf8(`[${a}]`);
    case 'string':
      return utf8(a);
    case 'null':
      return utf8('null');
    case 'number':
      return utf8('1');
    case 'invalid-utf8':
      return concat(utf8(`{"alg":${a},"x":"`), Uint8Array.of(0xff), utf8('"}'));
    case 'overlong-utf8':
      return concat(utf8(`{"alg":${a},"x":"`), Uint8Array.of(0xc0, 0xaf), utf8('"}'));
    case 'surrogate-utf8':
      return concat(utf8(`{"alg":${a},"x":"`), Uint8Array.of(0xed, 0xa0, 0x80), utf8('"}'));
    case 'bom':
      return concat(Uint8Array.of(0xef, 0xbb, 0xbf), utf8(`{"alg":${a}}`));
    case 'whitespace-json':
      return utf8(` {\n "alg" :\t${a} }\r\n`);
    case 'dup-alg-none-first':
      return utf8(`{"alg":"none","alg":${a}}`);
    case 'dup-alg-none-last':
      return utf8(`{"alg":${a},"alg":"none"}`);
    case 'truncated-json':
      return utf8(`{"alg":${a}`);
    case 'trailing-nul':
      return utf8(`{"alg":${a}}\u0000`);
    case 'escaped-alg':
      return utf8(`{"alg":"\\u00${alg.charCodeAt(0).toString(16)}${alg.slice(1)}"}`);
    case 'proto-alg':
      return utf8(`{"__proto__":{"alg":"none"},"alg":${a}}`);
  }
}

type Base =
  | { kind: 'ours'; payload: Record<string, unknown>; kid: string | undefined }
  | { kind: 'jose-compact'; payload: Uint8Array; typ: string | undefined; kid: string | undefined }
  | { kind: 'jose-jwt'; payload: Record<string, unknown> }
  | { kind: 'custom'; header: HeaderSpec; payload: Uint8Array; headerEnc: Enc; payloadEnc: Enc; key: 'right' | 'other'; salt: number };

function baseSpec(alg: Algorithm): fc.Arbitrary<Base> {
  return fc.oneof(
    {
      weight: 2,
      arbitrary: fc.record({ kind: fc.constant('ours' as const), payload: jsonObject, kid: fc.option(fc.string({ maxLength: 8 }), { nil: undefined }) }),
    },
    {
      weight: 1,
      arbitrary: fc.record({
        kind: fc.constant('jose-compact' as const),
        payload: payloadBytes,
        typ: fc.option(fc.constantFrom('JWT', 'at+jwt'), { nil: undefined }),
        kid: fc.option(fc.string({ maxLength: 8 }), { nil: undefined }),
      }),
    },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('jose-jwt' as const), payload: jsonObject }) },
    {
      weight: 3,
      arbitrary: fc.record({
        kind: fc.constant('custom' as const),
        header: headerSpec(alg),
        payload: payloadBytes,
        headerEnc: enc,
        payloadEnc: enc,
        key: fc.constantFrom<'right' | 'other'>('right', 'right', 'right', 'other'),
        salt: fc.nat(),
      }),
    },
  );
}

type Seg = 0 | 1 | 2;
type Mutation =
  | { t: 'replace'; seg: Seg; pos: number; ch: string }
  | { t: 'insert'; seg: Seg; pos: number; ch: string }
  | { t: 'delete'; seg: Seg; pos: number }
  | { t: 'swap'; seg: Seg }
  | { t: 'set-alg'; alg: unknown }
  | { t: 'drop'; seg: Seg }
  | { t: 'duplicate'; seg: Seg }
  | { t: 'extra-part'; text: string }
  | { t: 'encode'; seg: Seg; enc: Enc; salt: number }
  | { t: 'truncate-sig'; bytes: number }
  | { t: 'empty-sig' }
  | { t: 'none'; spelling: string; keepSig: boolean }
  | { t: 'resign' };

const seg = fc.constantFrom<Seg>(0, 1, 2);
const someChar = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(...ALPHABET) },
  { weight: 1, arbitrary: fc.constantFrom('+', '/', '=', ' ', '\n', '\t', '.', '?', 'é', '\u0000', '%', '~', '\uD800') },
);

function mutation(): fc.Arbitrary<Mutation> {
  return fc.oneof(
    { weight: 3, arbitrary: fc.record({ t: fc.constant('replace' as const), seg, pos: fc.nat(), ch: someChar }) },
    { weight: 2, arbitrary: fc.record({ t: fc.constant('insert' as const), seg, pos: fc.nat(), ch: someChar }) },
    { weight: 2, arbitrary: fc.record({ t: fc.constant('delete' as const), seg, pos: fc.nat() }) },
    { weight: 2, arbitrary: fc.record({ t: fc.constant('swap' as const), seg }) },
    {
      weight: 2,
      arbitrary: fc.record({
        t: fc.constant('set-alg' as const),
        alg: fc.constantFrom<unknown>(...ALL, 'none', 'NONE', 'hs256', undefined, null, 1),
      }),
    },
    { weight: 1, arbitrary: fc.record({ t: fc.constant('drop' as const), seg }) },
    { weight: 1, arbitrary: fc.record({ t: fc.constant('duplicate' as const), seg }) },
    { weight: 1, arbitrary: fc.record({ t: fc.constant('extra-part' as const), text: fc.constantFrom('', 'AA', 'e30') }) },
    { weight: 4, arbitrary: fc.record({ t: fc.constant('encode' as const), seg, enc: nonCanonicalEnc, salt: fc.nat() }) },
    { weight: 2, arbitrary: fc.record({ t: fc.constant('truncate-sig' as const), bytes: fc.nat({ max: 600 }) }) },
    { weight: 1, arbitrary: fc.constant({ t: 'empty-sig' as const }) },
    {
      weight: 2,
      arbitrary: fc.record({ t: fc.constant('none' as const), spelling: fc.constantFrom('none', 'None', 'NONE', 'nOnE'), keepSig: fc.boolean() }),
    },
    { weight: 3, arbitrary: fc.constant({ t: 'resign' as const }) },
  );
}

function editAt(s: string, pos: number, del: number, ins: string): string {
  const i = s.length === 0 ? 0 : pos % (s.length + (del === 0 ? 1 : 0));
  return s.slice(0, i) + ins + s.slice(i + del);
}

interface Case {
  base: Base;
  donorAlg: Algorithm;
  donorPayload: Record<string, unknown>;
  mutations: Mutation[];
}

function caseArb(alg: Algorithm): fc.Arbitrary<Case> {
  return fc.record({
    base: baseSpec(alg),
    // The donor (for segment swaps) is a valid token of the same algorithm under the other key, or of another algorithm.
    donorAlg: fc.oneof({ weight: 3, arbitrary: fc.constant(alg) }, { weight: 1, arbitrary: fc.constantFrom(...ALL) }),
    donorPayload: jsonObject,
    mutations: fc.array(mutation(), { minLength: 1, maxLength: 3 }),
  });
}

/** Random strings: arbitrary text, dotted base64url-ish text, and three random canonical segments. */
const randomToken: fc.Arbitrary<string> = fc.oneof(
  fc.string({ maxLength: 60 }),
  fc.string({ maxLength: 30, unit: 'binary' }),
  fc.stringMatching(/^[A-Za-z0-9_=+/ -]{0,40}(\.[A-Za-z0-9_=+/ -]{0,40}){0,3}$/),
  fc
    .tuple(fc.uint8Array({ maxLength: 30 }), fc.uint8Array({ maxLength: 30 }), fc.uint8Array({ maxLength: 140 }))
    .map(([a, b, s]) => [a, b, s].map((u) => b64u(u)).join('.')),
  fc
    .tuple(fc.constantFrom(...ALL, 'none'), jsonObject, fc.uint8Array({ minLength: 0, maxLength: 140 }))
    .map(([a, p, s]) => `${b64u(JSON.stringify({ alg: a }))}.${b64u(JSON.stringify(p))}.${b64u(s)}`),
);

// ---------------------------------------------------------------------------------------------------------------
// The run.
// ---------------------------------------------------------------------------------------------------------------

/** Runs every property and check against one primitive; never throws for a disagreement (it is in `failures`). */
export async function runJwsDifferential(options: DifferentialOptions): Promise<DifferentialResult> {
  const impl = IMPLS[options.primitive];
  const scale = options.scale ?? 1;
  const runs = (alg: Algorithm, divisor = 1): number => Math.max(1, Math.ceil((RUNS[alg] * scale) / divisor));
  const failures: string[] = [];
  const byKind = new Map<string, number>();
  const stats = new Map<Algorithm, Stats>(ALL.map((a) => [a, { cases: 0, bothAccept: 0, bothRefuse: 0, documented: 0 }]));
  const check = (ok: boolean, what: string): void => {
    if (!ok) failures.push(what);
  };

  const contexts = new Map<Algorithm, Ctx>();
  async function ctx(alg: Algorithm): Promise<Ctx> {
    let c = contexts.get(alg);
    if (c === undefined) {
      const [main, other] = await Promise.all([material(alg, 'main'), material(alg, 'other')]);
      const verify = impl.verifyingKey(main.verifyText, alg);
      c = {
        alg,
        main,
        other,
        sign: impl.signingKey(main.signText, alg),
        otherSign: impl.signingKey(other.signText, alg),
        verify,
        otherVerify: impl.verifyingKey(other.verifyText, alg),
        keys: [{ alg, key: verify, kid: undefined }],
      };
      contexts.set(alg, c);
    }
    return c;
  }

  /** Runs both verifiers on one token; false (and a failure) when they disagree in an undocumented way. */
  async function agree(c: Ctx, token: string): Promise<boolean> {
    const st = stats.get(c.alg) as Stats;
    st.cases++;
    const ours = await impl.verify(token, c.keys);
    const jose = await runJose(token, c.main.jose, c.alg);
    const fail = (why: string): false => {
      failures.push(`${c.alg} UNDOCUMENTED: ${why}; ours ${ours.ok ? 'accepted' : ours.reason}; token ${JSON.stringify(token)}`);
      return false;
    };
    if (ours.ok) {
      if (!jose.ok) return fail(`ours accepts, jose refuses (${jose.error})`);
      if (!sameBytes(fromB64uLenient(token.split('.')[1] ?? ''), jose.payload)) return fail('payload bytes differ');
      if (!jsonEqual(ours.payload, JSON.parse(text(jose.payload)))) return fail('parsed payload differs');
      st.bothAccept++;
      return true;
    }
    if (ours.reason.startsWith('crash')) return fail(`ours threw a non-JwsError: ${ours.reason}`);
    if (!jose.ok) {
      st.bothRefuse++;
      return true;
    }
    const kind = classify(token);
    if (kind === null) return fail(`jose accepts, ours refuses (${ours.reason}) a canonical token`);
    if (DOCUMENTED[kind].reason !== ours.reason) return fail(`documented as ${kind} but ours said ${ours.reason}`);
    st.documented++;
    byKind.set(kind, (byKind.get(kind) ?? 0) + 1);
    return true;
  }

  async function buildBase(c: Ctx, b: Base): Promise<string> {
    switch (b.kind) {
      case 'ours':
        return impl.sign(c.alg, c.sign, b.payload, b.kid);
      case 'jose-compact': {
        const header: { alg: string; typ?: string; kid?: string } = { alg: c.alg };
        if (b.typ !== undefined) header.typ = b.typ;
        if (b.kid !== undefined) header.kid = b.kid;
        return new CompactSign(b.payload).setProtectedHeader(header).sign(c.main.joseSign);
      }
      case 'jose-jwt':
        return new SignJWT(b.payload).setProtectedHeader({ alg: c.alg }).sign(c.main.joseSign);
      case 'custom': {
        const signingInput = `${encode(b64u(headerBytes(b.header, c.alg)), b.headerEnc, b.salt)}.${encode(b64u(b.payload), b.payloadEnc, b.salt >>> 3)}`;
        return `${signingInput}.${b64u(await impl.signRaw(c.alg, b.key === 'right' ? c.sign : c.otherSign, signingInput))}`;
      }
    }
  }

  async function mutate(c: Ctx, token: string, m: Mutation, donor: string): Promise<string> {
    const parts = token.split('.');
    const at = (i: Seg): number => i % Math.max(parts.length, 1);
    const get = (i: number): string => parts[i] ?? '';
    const headerOf = (): Record<string, unknown> | null => {
      try {
        const h: unknown = JSON.parse(text(fromB64uLenient(get(0))));
        return h !== null && typeof h === 'object' ? (h as Record<string, unknown>) : null;
      } catch {
        return null;
      }
    };
    switch (m.t) {
      case 'replace':
        parts[at(m.seg)] = editAt(get(at(m.seg)), m.pos, get(at(m.seg)).length === 0 ? 0 : 1, m.ch);
        break;
      case 'insert':
        parts[at(m.seg)] = editAt(get(at(m.seg)), m.pos, 0, m.ch);
        break;
      case 'delete':
        parts[at(m.seg)] = editAt(get(at(m.seg)), m.pos, get(at(m.seg)).length === 0 ? 0 : 1, '');
        break;
      case 'swap':
        parts[at(m.seg)] = donor.split('.')[m.seg] ?? '';
        break;
      case 'set-alg':
        parts[0] = b64u(JSON.stringify({ ...(headerOf() ?? {}), alg: m.alg }));
        break;
      case 'drop':
        parts.splice(at(m.seg), 1);
        break;
      case 'duplicate':
        parts.splice(at(m.seg), 0, get(at(m.seg)));
        break;
      case 'extra-part':
        parts.push(m.text);
        break;
      case 'encode':
        parts[at(m.seg)] = encode(get(at(m.seg)), m.enc, m.salt);
        break;
      case 'truncate-sig': {
        const sig = fromB64uLenient(get(parts.length - 1));
        parts[parts.length - 1] = b64u(sig.subarray(0, Math.min(m.bytes, Math.max(sig.length - 1, 0))));
        break;
      }
      case 'empty-sig':
        parts[parts.length - 1] = '';
        break;
      case 'none':
        parts[0] = b64u(JSON.stringify({ ...(headerOf() ?? {}), alg: m.spelling }));
        if (!m.keepSig && parts.length >= 3) parts[parts.length - 1] = '';
        break;
      case 'resign': {
        if (parts.length < 2) break;
        const signingInput = parts.slice(0, -1).join('.');
        parts[parts.length - 1] = b64u(await impl.signRaw(c.alg, c.sign, signingInput));
        break;
      }
    }
    return parts.join('.');
  }

  async function donorToken(alg: Algorithm, donorAlg: Algorithm, payload: Record<string, unknown>): Promise<string> {
    const d = await ctx(donorAlg);
    return impl.sign(donorAlg, donorAlg === alg ? d.otherSign : d.sign, payload);
  }

  /** fc.assert, a failed property becoming a failure (with fast-check's counterexample report). */
  async function property<T extends unknown[]>(name: string, p: fc.IAsyncProperty<T>, numRuns: number): Promise<void> {
    try {
      await fc.assert(p, { numRuns });
    } catch (err) {
      failures.push(`${name}: ${err instanceof Error ? err.message.slice(0, 2000) : String(err)}`);
    }
  }

  check(JSON.stringify([...ALL].sort()) === JSON.stringify([...ALGORITHMS].sort()), 'ALL must list every supported algorithm');
  check(JSON.stringify([...ALL].sort()) === JSON.stringify(Object.keys(ALGORITHM_SPECS).sort()), 'ALL must list every ALGORITHM_SPECS entry');

  for (const alg of ALL) {
    const c = await ctx(alg);

    await property(
      `${alg} agrees on valid and tampered tokens`,
      fc.asyncProperty(caseArb(alg), async ({ base, donorAlg, donorPayload, mutations }) => {
        let token = await buildBase(c, base);
        if (!(await agree(c, token))) return false;
        const donor = await donorToken(alg, donorAlg, donorPayload);
        for (const m of mutations) {
          token = await mutate(c, token, m, donor);
          if (!(await agree(c, token))) return false;
        }
        return true;
      }),
      runs(alg),
    );

    await property(`${alg} agrees on random strings`, fc.asyncProperty(randomToken, (token) => agree(c, token)), runs(alg));

    // Both directions: jose verifies ours, ours verifies jose's.
    const claims = { sub: '42', exp: 2_000_000_000, token_type: 'access', jti: 'a' };
    const mine = await impl.sign(alg, c.sign, claims, 'k1');
    const theirsOfMine = await compactVerify(mine, c.main.jose, { algorithms: [alg] }).then((r) => r.protectedHeader, (e: unknown) => String(e));
    check(jsonEqual(theirsOfMine, { alg, typ: 'JWT', kid: 'k1' }), `${alg}: jose does not verify ours as {alg, typ, kid}: ${JSON.stringify(theirsOfMine)}`);
    const theirs = await new SignJWT(claims).setProtectedHeader({ alg, kid: 'k1' }).sign(c.main.joseSign);
    const oursOfTheirs = await impl.verify(theirs, [{ alg, key: c.verify, kid: 'k1' }]);
    check(oursOfTheirs.ok && jsonEqual(oursOfTheirs.payload, claims), `${alg}: ours does not verify jose's token: ${JSON.stringify(oursOfTheirs)}`);

    await property(
      `${alg} refuses a token signed by another key of the same algorithm`,
      fc.asyncProperty(jsonObject, async (payload) => {
        const token = await impl.sign(alg, c.otherSign, payload);
        const ours = await impl.verify(token, c.keys);
        const jose = await runJose(token, c.main.jose, alg);
        // With both keys held (rotation), the same token is accepted.
        const both = await impl.verify(token, [...c.keys, { alg, key: c.otherVerify, kid: undefined }]);
        return !ours.ok && ours.reason === 'bad_signature' && !jose.ok && both.ok;
      }),
      runs(alg, 4),
    );

    // A header alg that is not the key's: signed properly with a key of the other algorithm, or relabelled.
    const refusedAs = async (token: string, reason: JwsFailure, what: string): Promise<void> => {
      const ours = await impl.verify(token, c.keys);
      check(!ours.ok && ours.reason === reason, `${alg}: ${what}: expected ${reason}, got ${ours.ok ? 'accepted' : ours.reason}`);
    };
    for (const other of ALL) {
      if (other === alg) continue;
      const o = await ctx(other);
      const token = await impl.sign(other, o.sign, { sub: '1' });
      await refusedAs(token, 'alg_not_allowed', `a ${other} token`);
      check(!(await runJose(token, c.main.jose, alg)).ok, `${alg}: jose accepts a ${other} token`);
      const relabelled = `${b64u(JSON.stringify({ alg: other }))}.${b64u('{"sub":"1"}')}`;
      await refusedAs(`${relabelled}.${b64u(await impl.signRaw(alg, c.sign, relabelled))}`, 'alg_not_allowed', `a token relabelled ${other}`);
    }
    for (const none of ['none', 'None', 'NONE']) {
      const unsigned = `${b64u(JSON.stringify({ alg: none }))}.${b64u('{"sub":"1"}')}.`;
      await refusedAs(unsigned, 'alg_not_allowed', `alg ${none}`);
      await refusedAs(`${unsigned}AAAA`, 'alg_not_allowed', `alg ${none} with a signature`);
    }

    // Key confusion (RFC 8725 §2.1): an HMAC token keyed with the public key's PEM, DER or JWK bytes.
    for (const bytes of c.main.confusion ?? []) {
      for (const hs of ['HS256', 'HS384', 'HS512'] as const) {
        const hmacKey = await crypto.subtle.importKey('raw', bytes, { name: 'HMAC', hash: `SHA-${hs.slice(2)}` }, false, ['sign']);
        const forged = await signCompactWeb(hs, hmacKey, { sub: 'admin' });
        await refusedAs(forged, 'alg_not_allowed', `${hs} keyed with the public key`);
        check(!(await runJose(forged, c.main.jose, alg)).ok, `${alg}: jose accepts ${hs} keyed with the public key`);
        // Even beside a real HMAC key, the public key is never used as an HMAC secret.
        const mixed = await impl.verify(forged, [...c.keys, { alg: hs, key: (await ctx(hs)).verify, kid: undefined }]);
        check(!mixed.ok && mixed.reason === 'bad_signature', `${alg}: ${hs} forgery beside an HMAC key: ${JSON.stringify(mixed)}`);
      }
    }
  }

  // Regression: the header used to be decoded leniently (invalid UTF-8 became U+FFFD and was accepted, while a BOM
  // was refused); jose decodes it with a fatal TextDecoder. Found by the properties above.
  const hs = await ctx('HS256');
  for (const [raw, accepted] of [['invalid-utf8', false], ['overlong-utf8', false], ['surrogate-utf8', false], ['bom', true]] as const) {
    const signingInput = `${b64u(headerBytes({ kind: 'raw', raw }, 'HS256'))}.${b64u('{"sub":"1"}')}`;
    const token = `${signingInput}.${b64u(await impl.signRaw('HS256', hs.sign, signingInput))}`;
    check((await runJose(token, hs.main.jose, 'HS256')).ok === accepted, `header ${raw}: jose's verdict changed`);
    const ours = await impl.verify(token, hs.keys);
    check(accepted ? ours.ok && jsonEqual(ours.payload, { sub: '1' }) : !ours.ok && ours.reason === 'bad_header', `header ${raw}: ours ${JSON.stringify(ours)}`);
  }

  // The summary: every algorithm saw tokens both verifiers accept and tokens both refuse, and the generators reach
  // the stricter cases (non-canonical signatures are the commonest).
  let checked = 0;
  let bothAccept = 0;
  let bothRefuse = 0;
  for (const [alg, s] of stats) {
    checked += s.cases;
    bothAccept += s.bothAccept;
    bothRefuse += s.bothRefuse;
    check(s.bothAccept > 0, `${alg}: no token was accepted by both`);
    check(s.bothRefuse > 0, `${alg}: no token was refused by both`);
  }
  check((byKind.get('signatureNotCanonical') ?? 0) > 0, 'the generators never reached a non-canonical signature');
  return { checked, differences: { bothAccept, bothRefuse, ...Object.fromEntries(byKind) }, failures };
}
