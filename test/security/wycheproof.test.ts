/**
 * Project Wycheproof vectors (C2SP/wycheproof, Apache-2.0; copies in test/fixtures/wycheproof, see NOTICE there).
 *
 *  - json_web_signature_test.json: whole compact tokens through `verifyCompact`.
 *  - The raw signature files (ECDSA P1363, Ed25519, RSA PKCS#1 v1.5, RSA-PSS, HMAC): arbitrary message bytes cannot
 *    be the signing input of a compact token, so these go through `verifySignature`, the primitive `verifyCompact`
 *    calls for every signature (same key handling, same length checks).
 *
 * Every `valid` vector must verify and every `invalid` one must be refused; `acceptable` may go either way.
 */
import { createPublicKey, createSecretKey, type JsonWebKey, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { isAlgorithm } from '../../packages/core/src/jws/algorithms.js';
import { JwsError, verifyCompact, verifySignature } from '../../packages/core/src/jws/verify.js';
import { assertKeyFitsAlgorithm } from '../../packages/core/src/keys/import-key.js';
import type { VerifyKey } from '../../packages/core/src/keys/keyset.js';
import type { Algorithm } from '../../packages/core/src/settings/types.js';

const FIXTURES = new URL('../fixtures/wycheproof/', import.meta.url);

type Result = 'valid' | 'invalid' | 'acceptable';

interface WycheproofFile<G> {
  algorithm?: string;
  numberOfTests: number;
  testGroups: G[];
}

function load<G>(name: string): WycheproofFile<G> {
  return JSON.parse(readFileSync(new URL(name, FIXTURES), 'utf8')) as WycheproofFile<G>;
}

function countTests(file: WycheproofFile<{ tests: unknown[] }>): number {
  return file.testGroups.reduce((n, g) => n + g.tests.length, 0);
}

// ---------------------------------------------------------------------------------------------------------------
// JSON Web Signature vectors.
// ---------------------------------------------------------------------------------------------------------------

interface Jwk {
  kty: string;
  alg?: string;
  kid?: string;
  use?: string;
  key_ops?: string[];
  k?: string;
  [member: string]: unknown;
}

interface JwsTest {
  tcId: number;
  comment: string;
  jws: string | Record<string, unknown>;
  result: Result;
  flags: string[];
}

interface JwsGroup {
  comment: string;
  public?: Jwk;
  private?: Jwk;
  tests: JwsTest[];
}

/**
 * Vectors whose label is wrong for a strict JWS verifier, with what ours must do instead and why.
 * Each reason is checked below against the data (equal tokens, same MAC…), so a changed file fails loudly.
 */
const KNOWN_DATA_ERRORS: Record<number, { ours: 'accept' | 'refuse'; why: string }> = {
  367: {
    ours: 'accept',
    why: 'labelled invalid ("invalidBase64Padding") but the token is byte-for-byte tcId 357 (valid): there is no padding in it',
  },
  370: {
    ours: 'accept',
    why: 'labelled invalid ("invalidBase64PaddingInPayload") but the token is byte-for-byte tcId 357 (valid)',
  },
  372: {
    ours: 'refuse',
    why: 'labelled valid, but it is tcId 357 with a "?" inserted in the header: the MAC does not cover the "?", and "?" is not base64url',
  },
  373: {
    ours: 'refuse',
    why: 'labelled valid, but it is tcId 357 with a "?" inserted in the payload: the MAC does not cover the "?", and "?" is not base64url',
  },
  346: {
    ours: 'refuse',
    why: 'RFC 7520 Figure 20 is a PS384 token, but the group key is labelled PS256: one key, one algorithm (RFC 8725 §3.1)',
  },
  350: {
    ours: 'refuse',
    why: 'same token as 346 (PS384) with the key labelled PS256 (plus key_ops): one key, one algorithm',
  },
  347: {
    ours: 'refuse',
    why: 'RFC 7520 Figure 27 is an ES512 token, but the group key is labelled "ES521", which is no algorithm: the key serves none',
  },
  351: {
    ours: 'refuse',
    why: 'same token as 347 (ES512) with the key labelled "ES521" (plus key_ops): the key serves no algorithm',
  },
};

function jwkKeyObject(jwk: Jwk): KeyObject {
  if (jwk.kty === 'oct') return createSecretKey(Buffer.from(jwk.k ?? '', 'base64url'));
  // A private JWK (RSA or EC with "d") gives its public half.
  return createPublicKey({ key: jwk as JsonWebKey, format: 'jwk' });
}

function headerAlg(token: string): string | undefined {
  try {
    const h = JSON.parse(Buffer.from(token.split('.')[0] ?? '', 'base64url').toString('utf8')) as { alg?: unknown };
    return typeof h.alg === 'string' ? h.alg : undefined;
  } catch {
    return undefined;
  }
}

/** Whether a JWK may verify signatures at all (RFC 7517 §4.2 `use`, §4.3 `key_ops`). */
function mayVerify(jwk: Jwk): boolean {
  if (jwk.use !== undefined && jwk.use !== 'sig') return false;
  if (jwk.key_ops !== undefined && !jwk.key_ops.includes('verify')) return false;
  return true;
}

/**
 * The keyset a one-key-one-algorithm verifier builds from the group's JWK: the key serves the JWK's `alg`, or the
 * token's when the JWK names none (as a configured `algorithm` would). A key that names an unknown algorithm, or that
 * is not for verification, serves nothing.
 */
function keysetFor(jwk: Jwk, token: string): VerifyKey[] {
  const alg = jwk.alg ?? headerAlg(token);
  if (alg === undefined || !isAlgorithm(alg) || !mayVerify(jwk)) return [];
  return [{ alg, key: jwkKeyObject(jwk), kid: jwk.kid }];
}

/**
 * Ours "accepts" when the signature verifies: Wycheproof payloads are arbitrary bytes ("foo", empty…), which
 * verifyCompact then refuses as `bad_payload` because a JWT payload must be a JSON object. That refusal comes after
 * the signature check, so it still means the JWS itself was accepted.
 */
function oursAccepts(token: string, keys: readonly VerifyKey[]): { accepted: boolean; reason: string } {
  try {
    verifyCompact(token, keys);
    return { accepted: true, reason: 'ok' };
  } catch (err) {
    if (!(err instanceof JwsError)) throw err;
    return { accepted: err.reason === 'bad_payload', reason: err.reason };
  }
}

describe('Wycheproof json_web_signature_test.json', () => {
  const file = load<JwsGroup>('json_web_signature_test.json');
  const all = file.testGroups.flatMap((g) => g.tests.map((t) => ({ group: g, test: t })));
  const byId = new Map(all.map(({ test }) => [test.tcId, test]));

  it('holds the expected vectors', () => {
    expect(countTests(file)).toBe(file.numberOfTests);
    expect(file.numberOfTests).toBe(401);
  });

  it('has the documented labelling errors', () => {
    const t357 = byId.get(357)?.jws;
    expect(typeof t357).toBe('string');
    expect(byId.get(357)?.result).toBe('valid');
    for (const id of [367, 370]) {
      expect(byId.get(id)?.result).toBe('invalid');
      expect(byId.get(id)?.jws).toBe(t357);
    }
    for (const id of [372, 373]) {
      const jws = byId.get(id)?.jws as string;
      expect(byId.get(id)?.result).toBe('valid');
      expect(jws).toContain('?');
      expect(jws.replace('?', '')).toBe(t357);
    }
    for (const [id, keyAlg, tokenAlg] of [[346, 'PS256', 'PS384'], [350, 'PS256', 'PS384'], [347, 'ES521', 'ES512'], [351, 'ES521', 'ES512']] as const) {
      const entry = all.find(({ test }) => test.tcId === id);
      expect(entry?.test.result).toBe('valid');
      expect((entry?.group.public ?? entry?.group.private)?.alg).toBe(keyAlg);
      expect(headerAlg(entry?.test.jws as string)).toBe(tokenAlg);
    }
  });

  it('accepts exactly the valid compact tokens (modulo the documented labelling errors)', () => {
    const mismatches: string[] = [];
    let run = 0;
    let accepted = 0;
    for (const { group, test } of all) {
      const jwk = group.public ?? group.private;
      if (jwk === undefined) throw new Error(`group ${group.comment} has no key`);
      if (typeof test.jws !== 'string') {
        // JSON serialization (tcId 17): not a compact token, refused as malformed.
        const r = oursAccepts(JSON.stringify(test.jws), keysetFor(jwk, ''));
        if (r.accepted) mismatches.push(`${test.tcId} (JSON serialization) accepted`);
        run++;
        continue;
      }
      const expected = KNOWN_DATA_ERRORS[test.tcId]?.ours ?? (test.result === 'valid' ? 'accept' : 'refuse');
      const r = oursAccepts(test.jws, keysetFor(jwk, test.jws));
      run++;
      if (r.accepted) accepted++;
      if (r.accepted !== (expected === 'accept')) {
        mismatches.push(`${test.tcId} [${group.comment}] ${test.comment}: expected ${expected}, ours ${r.reason}`);
      }
    }
    expect(mismatches).toEqual([]);
    expect(run).toBe(401);
    expect(accepted).toBe(46 - 6 + 2); // 46 valid, 6 of them mislabelled (372, 373, 346, 347, 350, 351), plus 367 and 370
  });

  it('refuses the wrong-use / wrong-key_ops keys only because of the key, not the signature', () => {
    // tcIds 353-356 carry correct signatures under keys marked for encryption. Key usage is decided when the keyset
    // is built (keysetFor above); verifyCompact itself, handed such a key, would verify the signature.
    for (const id of [353, 354, 355, 356]) {
      const entry = all.find(({ test }) => test.tcId === id);
      const jwk = (entry?.group.public ?? entry?.group.private) as Jwk;
      const token = entry?.test.jws as string;
      expect(entry?.test.result).toBe('invalid');
      expect(mayVerify(jwk)).toBe(false);
      expect(keysetFor(jwk, token)).toEqual([]);
      const alg = headerAlg(token) as Algorithm;
      expect(oursAccepts(token, [{ alg, key: jwkKeyObject(jwk), kid: jwk.kid }]).accepted).toBe(true);
    }
  });
});

// ---------------------------------------------------------------------------------------------------------------
// Raw signature vectors through verifySignature.
// ---------------------------------------------------------------------------------------------------------------

interface SigTest {
  tcId: number;
  comment: string;
  flags: string[];
  msg: string;
  sig: string;
  result: Result;
}

interface KeyGroup {
  publicKeyDer: string;
  tests: SigTest[];
}

interface Outcome {
  run: number;
  valid: number;
  invalid: number;
  acceptable: { tcId: number; accepted: boolean }[];
  mismatches: string[];
}

function runSignatureFile(name: string, alg: Algorithm): Outcome {
  const file = load<KeyGroup>(name);
  expect(countTests(file)).toBe(file.numberOfTests);
  const out: Outcome = { run: 0, valid: 0, invalid: 0, acceptable: [], mismatches: [] };
  for (const group of file.testGroups) {
    const key: VerifyKey = { alg, key: createPublicKey({ key: Buffer.from(group.publicKeyDer, 'hex'), format: 'der', type: 'spki' }), kid: undefined };
    for (const t of group.tests) {
      const ok = verifySignature(key, Buffer.from(t.msg, 'hex'), Buffer.from(t.sig, 'hex'));
      out.run++;
      if (t.result === 'acceptable') {
        out.acceptable.push({ tcId: t.tcId, accepted: ok });
        continue;
      }
      if (t.result === 'valid') out.valid++;
      else out.invalid++;
      if (ok !== (t.result === 'valid')) out.mismatches.push(`${t.tcId} ${t.comment} [${t.flags.join(',')}]: ${t.result} but ${ok ? 'accepted' : 'refused'}`);
    }
  }
  return out;
}

/** DER (ASN.1 SEQUENCE of two INTEGERs) form of a P1363 r||s signature: what OpenSSL emits, never valid in JOSE. */
function p1363ToDer(sig: Buffer): Buffer {
  const int = (b: Buffer): Buffer => {
    let i = 0;
    while (i < b.length - 1 && b[i] === 0) i++;
    let v = b.subarray(i);
    if ((v[0] ?? 0) & 0x80) v = Buffer.concat([Buffer.from([0]), v]);
    return Buffer.concat([Buffer.from([0x02, v.length]), v]);
  };
  const half = sig.length / 2;
  const body = Buffer.concat([int(sig.subarray(0, half)), int(sig.subarray(half))]);
  const len = body.length < 0x80 ? Buffer.from([body.length]) : Buffer.from([0x81, body.length]);
  return Buffer.concat([Buffer.from([0x30]), len, body]);
}

describe('Wycheproof ECDSA (IEEE P1363 signatures)', () => {
  const files = [
    ['ecdsa_secp256r1_sha256_p1363_test.json', 'ES256', 64],
    ['ecdsa_secp384r1_sha384_p1363_test.json', 'ES384', 96],
    ['ecdsa_secp521r1_sha512_p1363_test.json', 'ES512', 132],
  ] as const;

  it.each(files)('%s: valid verify, invalid are refused', (name, alg) => {
    const out = runSignatureFile(name, alg);
    expect(out.mismatches).toEqual([]);
    expect(out.valid).toBeGreaterThan(100);
    expect(out.invalid).toBeGreaterThan(50);
    expect(out.acceptable).toEqual([]);
  });

  it.each(files)('%s: DER, empty, zero, short and long forms of valid signatures are refused', (name, alg, size) => {
    const file = load<KeyGroup>(name);
    let checked = 0;
    for (const group of file.testGroups) {
      const key: VerifyKey = { alg, key: createPublicKey({ key: Buffer.from(group.publicKeyDer, 'hex'), format: 'der', type: 'spki' }), kid: undefined };
      for (const t of group.tests.filter((v) => v.result === 'valid')) {
        const msg = Buffer.from(t.msg, 'hex');
        const sig = Buffer.from(t.sig, 'hex');
        expect(sig.length).toBe(size);
        expect(verifySignature(key, msg, sig)).toBe(true);
        const variants = [
          p1363ToDer(sig),
          Buffer.alloc(0),
          Buffer.alloc(size),
          sig.subarray(0, size - 1),
          Buffer.concat([Buffer.from([0]), sig]),
          Buffer.concat([sig, Buffer.from([0])]),
          Buffer.concat([sig.subarray(0, size / 2), Buffer.alloc(size / 2)]),
        ];
        for (const v of variants) expect(verifySignature(key, msg, v), `tcId ${t.tcId} variant of length ${v.length}`).toBe(false);
        checked++;
      }
    }
    expect(checked).toBeGreaterThan(100);
  });
});

describe('Wycheproof Ed25519', () => {
  it('ed25519_test.json: valid verify, invalid are refused', () => {
    const out = runSignatureFile('ed25519_test.json', 'EdDSA');
    expect(out.mismatches).toEqual([]);
    expect([out.valid, out.invalid, out.acceptable.length]).toEqual([88, 63, 0]);
  });
});

describe('Wycheproof RSA', () => {
  it('rsa_signature_2048_sha256_test.json (RS256): valid verify, invalid are refused', () => {
    const out = runSignatureFile('rsa_signature_2048_sha256_test.json', 'RS256');
    expect(out.mismatches).toEqual([]);
    expect([out.valid, out.invalid]).toEqual([9, 249]);
    // tcId 8, "Missing NULL in the ASN encoding": acceptable either way; node (OpenSSL) refuses it.
    expect(out.acceptable).toEqual([{ tcId: 8, accepted: false }]);
  });

  it('rsa_pss_2048_sha256_mgf1_32_test.json (PS256, 32-byte salt): valid verify, invalid are refused', () => {
    const out = runSignatureFile('rsa_pss_2048_sha256_mgf1_32_test.json', 'PS256');
    expect(out.mismatches).toEqual([]);
    expect([out.valid, out.invalid, out.acceptable.length]).toEqual([63, 45, 0]);
  });
});

interface MacTest {
  tcId: number;
  comment: string;
  key: string;
  msg: string;
  tag: string;
  result: Result;
}

interface MacGroup {
  keySize: number;
  tagSize: number;
  tests: MacTest[];
}

describe('Wycheproof HMAC-SHA256 (HS256)', () => {
  const file = load<MacGroup>('hmac_sha256_test.json');

  it('full-length tags: valid verify, invalid are refused', () => {
    expect(countTests(file)).toBe(file.numberOfTests);
    const mismatches: string[] = [];
    let run = 0;
    for (const group of file.testGroups.filter((g) => g.tagSize === 256)) {
      for (const t of group.tests) {
        const key: VerifyKey = { alg: 'HS256', key: createSecretKey(Buffer.from(t.key, 'hex')), kid: undefined };
        const ok = verifySignature(key, Buffer.from(t.msg, 'hex'), Buffer.from(t.tag, 'hex'));
        run++;
        if (ok !== (t.result === 'valid')) mismatches.push(`${t.tcId} ${t.comment}: ${t.result} but ${ok ? 'accepted' : 'refused'}`);
      }
    }
    expect(mismatches).toEqual([]);
    expect(run).toBe(87);
  });

  it('truncated (128-bit) tags are always refused: HS256 uses the whole 256-bit MAC (RFC 7518 §3.2)', () => {
    let run = 0;
    for (const group of file.testGroups.filter((g) => g.tagSize === 128)) {
      for (const t of group.tests) {
        const key: VerifyKey = { alg: 'HS256', key: createSecretKey(Buffer.from(t.key, 'hex')), kid: undefined };
        expect(Buffer.from(t.tag, 'hex').length).toBe(16);
        expect(verifySignature(key, Buffer.from(t.msg, 'hex'), Buffer.from(t.tag, 'hex')), `tcId ${t.tcId}`).toBe(false);
        run++;
      }
    }
    expect(run).toBe(87);
  });

  it('keys shorter than the hash are verified by the primitive but refused when the key is imported', () => {
    for (const group of file.testGroups.filter((g) => g.keySize < 256)) {
      for (const t of group.tests) {
        expect(() => assertKeyFitsAlgorithm(createSecretKey(Buffer.from(t.key, 'hex')), 'HS256', 'key')).toThrow(/shorter/);
      }
    }
  });
});
