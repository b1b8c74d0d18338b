import type { Algorithm } from '../settings/types.js';
import { ALGORITHM_SPECS } from './algorithms.js';

/** WebCrypto's hash names for the JWS ones. */
const HASH = { sha256: 'SHA-256', sha384: 'SHA-384', sha512: 'SHA-512' } as const;
/** WebCrypto's curve names for node's (what the key checks speak). */
const NAMED_CURVE: Readonly<Record<string, string>> = { prime256v1: 'P-256', secp384r1: 'P-384', secp521r1: 'P-521' };

type Params = { name: string; hash?: string; namedCurve?: string; saltLength?: number };

/**
 * How `crypto.subtle.importKey` must read a key for `alg`: the algorithm (and hash) the key is bound to. For EdDSA the
 * curve comes from the key (`curve`: node's name, "ed25519" or "ed448").
 */
export function importParams(alg: Algorithm, curve?: string): Params {
  const spec = ALGORITHM_SPECS[alg];
  const hash = spec.hash === null ? undefined : HASH[spec.hash];
  switch (spec.family) {
    case 'hmac':
      return { name: 'HMAC', hash: hash as string };
    case 'rsa':
      return { name: 'RSASSA-PKCS1-v1_5', hash: hash as string };
    case 'pss':
      return { name: 'RSA-PSS', hash: hash as string };
    case 'ec':
      return { name: 'ECDSA', namedCurve: NAMED_CURVE[spec.curves?.[0] ?? ''] as string };
    case 'eddsa':
      return { name: curve === 'ed448' ? 'Ed448' : 'Ed25519' };
  }
}

/**
 * The `crypto.subtle.sign`/`verify` parameters of `alg`, as node:crypto's path uses them: PSS with a salt as long as
 * the hash (RFC 7518 §3.5), ECDSA over the alg's hash with raw (IEEE P1363) signatures, which is WebCrypto's only form.
 * `keyAlgorithm` is the key's own algorithm name (EdDSA: Ed25519 or Ed448).
 */
export function signatureParams(alg: Algorithm, keyAlgorithm: string): Params {
  const spec = ALGORITHM_SPECS[alg];
  switch (spec.family) {
    case 'hmac':
      return { name: 'HMAC' };
    case 'rsa':
      return { name: 'RSASSA-PKCS1-v1_5' };
    case 'pss':
      return { name: 'RSA-PSS', saltLength: spec.hash === 'sha256' ? 32 : spec.hash === 'sha384' ? 48 : 64 };
    case 'ec':
      return { name: 'ECDSA', hash: HASH[spec.hash as 'sha256'] };
    case 'eddsa':
      return { name: keyAlgorithm };
  }
}

/** Whether a CryptoKey (a remote JWKS's, say) is bound to what `alg` needs: WebCrypto would otherwise throw, or verify under another hash. */
export function cryptoKeyFits(key: { algorithm: { name: string; hash?: unknown; namedCurve?: unknown } }, alg: Algorithm): boolean {
  const want = importParams(alg);
  const have = key.algorithm;
  if (ALGORITHM_SPECS[alg].family === 'eddsa') return have.name === 'Ed25519' || have.name === 'Ed448';
  if (have.name !== want.name) return false;
  if (want.hash !== undefined && (have.hash as { name?: unknown } | undefined)?.name !== want.hash) return false;
  return want.namedCurve === undefined || have.namedCurve === want.namedCurve;
}
