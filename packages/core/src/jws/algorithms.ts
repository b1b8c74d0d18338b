import type { Algorithm } from '../settings/types.js';

/** How each JWS algorithm maps onto node:crypto. */
export interface AlgorithmSpec {
  family: 'hmac' | 'rsa' | 'pss' | 'ec' | 'eddsa';
  /** node:crypto digest name; null for EdDSA (the curve fixes it). */
  hash: 'sha256' | 'sha384' | 'sha512' | null;
  /** HMAC output / ECDSA P1363 signature length in bytes (fixed-length signatures only). */
  signatureLength?: number;
  /** EC curve (node's name) or OKP curves accepted. */
  curves?: readonly string[];
}

export const ALGORITHM_SPECS: Readonly<Record<Algorithm, AlgorithmSpec>> = {
  HS256: { family: 'hmac', hash: 'sha256', signatureLength: 32 },
  HS384: { family: 'hmac', hash: 'sha384', signatureLength: 48 },
  HS512: { family: 'hmac', hash: 'sha512', signatureLength: 64 },
  RS256: { family: 'rsa', hash: 'sha256' },
  RS384: { family: 'rsa', hash: 'sha384' },
  RS512: { family: 'rsa', hash: 'sha512' },
  PS256: { family: 'pss', hash: 'sha256' },
  PS384: { family: 'pss', hash: 'sha384' },
  PS512: { family: 'pss', hash: 'sha512' },
  ES256: { family: 'ec', hash: 'sha256', signatureLength: 64, curves: ['prime256v1'] },
  ES384: { family: 'ec', hash: 'sha384', signatureLength: 96, curves: ['secp384r1'] },
  ES512: { family: 'ec', hash: 'sha512', signatureLength: 132, curves: ['secp521r1'] },
  EdDSA: { family: 'eddsa', hash: null, curves: ['ed25519', 'ed448'] },
};

export function isAlgorithm(value: unknown): value is Algorithm {
  return typeof value === 'string' && Object.hasOwn(ALGORITHM_SPECS, value);
}
