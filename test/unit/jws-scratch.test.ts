/**
 * Verification and signing decode and encode through reused byte areas (src/core/jws/scratch.ts). These tests change
 * sizes and algorithms from one token to the next, so a stale view or a stale length would show: every answer must
 * be what a fresh Buffer would have given.
 */
import { createSecretKey, generateKeyPairSync, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { signCompact, signRaw } from '../../packages/core/src/jws/sign.js';
import { JwsError, verifyCompact, verifyCompactPayload, verifySignature } from '../../packages/core/src/jws/verify.js';
import type { VerifyKey } from '../../packages/core/src/keys/keyset.js';

const secret = createSecretKey(randomBytes(64));
const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
const ec = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
const keys: VerifyKey[] = [
  { alg: 'HS256', key: secret, kid: undefined },
  { alg: 'HS512', key: secret, kid: undefined },
  { alg: 'RS256', key: rsa.publicKey, kid: undefined },
  { alg: 'ES256', key: ec.publicKey, kid: undefined },
];
const signer = { HS256: secret, HS512: secret, RS256: rsa.privateKey, ES256: ec.privateKey } as const;

/** The encoding signCompact had before the reused areas: one Buffer per payload. */
function reference(alg: 'HS256' | 'HS512' | 'RS256' | 'ES256', payload: Record<string, unknown>): string {
  const header = Buffer.from(JSON.stringify({ alg, typ: 'JWT' })).toString('base64url');
  const input = `${header}.${Buffer.from(JSON.stringify(payload)).toString('base64url')}`;
  return `${input}.${signRaw(alg, signer[alg], input).toString('base64url')}`;
}

function reason(fn: () => unknown): string {
  try {
    fn();
    return 'ok';
  } catch (err) {
    return err instanceof JwsError ? err.reason : `crash: ${String(err)}`;
  }
}

describe('reused byte areas', () => {
  it('tokens of changing sizes and algorithms verify, one after the other, to their own payloads', () => {
    const sizes = [0, 1, 700, 5, 3000, 2, 12_000, 40, 900];
    for (let round = 0; round < 3; round++) {
      for (const alg of ['HS256', 'RS256', 'HS512', 'ES256'] as const) {
        for (const size of sizes) {
          const payload = { sub: `${alg}-${size}`, pad: 'é✓'.repeat(size), n: size };
          const token = signCompact(alg, signer[alg], payload);
          if (alg !== 'ES256') expect(token).toBe(reference(alg, payload)); // ECDSA signatures are randomized
          expect(verifyCompactPayload(token, keys, 1 << 20)).toEqual(payload);
          expect(verifyCompact(token, keys, 1 << 20)).toEqual({ header: { alg, typ: 'JWT' }, payload });
        }
      }
    }
  });

  it('a payload with lone surrogates is signed as Buffer.from encodes it and reads back the same', () => {
    const payload = { sub: 'a\ud800b\udc00c', emoji: '😀' };
    const token = signCompact('HS256', secret, payload);
    expect(token).toBe(reference('HS256', payload));
    expect(verifyCompactPayload(token, keys)).toEqual(JSON.parse(Buffer.from(JSON.stringify(payload)).toString('utf8')));
  });

  it('failures keep their reasons whatever the previous token left in the areas', () => {
    const good = signCompact('HS256', secret, { sub: 'x'.repeat(500) });
    const [h, p, s] = good.split('.') as [string, string, string];
    const shortSig = `${h}.${p}.${s.slice(0, 41)}`; // 41 = 4n+1 characters: never base64url of anything
    const otherSig = `${h}.${p}.${Buffer.alloc(32, 1).toString('base64url')}`;
    const longSig = `${h}.${p}.${Buffer.alloc(48, 1).toString('base64url')}`;
    const emptySig = `${h}.${p}.`;
    const badBody = `${h}.${p.slice(0, -1)}+.${s}`;
    for (let round = 0; round < 2; round++) {
      expect(reason(() => verifyCompactPayload(good, keys))).toBe('ok');
      expect(reason(() => verifyCompactPayload(shortSig, keys))).toBe('malformed');
      expect(reason(() => verifyCompactPayload(otherSig, keys))).toBe('bad_signature');
      expect(reason(() => verifyCompactPayload(longSig, keys))).toBe('bad_signature');
      expect(reason(() => verifyCompactPayload(emptySig, keys))).toBe('malformed');
      expect(reason(() => verifyCompactPayload(badBody, keys))).toBe('bad_signature'); // the signature covers the body
      expect(reason(() => verifyCompactPayload(good, keys))).toBe('ok');
    }
  });

  it('verifySignature compares with a Buffer signature as before, for the HMAC lengths and others', () => {
    const input = 'a.b';
    for (const alg of ['HS256', 'HS512'] as const) {
      const mac = signRaw(alg, secret, input);
      const key = keys.find((k) => k.alg === alg) as VerifyKey;
      expect(verifySignature(key, input, mac)).toBe(true);
      expect(verifySignature(key, Buffer.from(input), mac)).toBe(true);
      const flipped = Buffer.from(mac);
      flipped[flipped.length - 1] = (flipped[flipped.length - 1] as number) ^ 1;
      expect(verifySignature(key, input, flipped)).toBe(false);
      expect(verifySignature(key, input, mac.subarray(1))).toBe(false);
      expect(verifySignature(key, input, Buffer.concat([mac, Buffer.alloc(1)]))).toBe(false);
    }
  });
});
