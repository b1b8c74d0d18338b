import { createPrivateKey, createPublicKey, createSecretKey, type KeyObject } from 'node:crypto';
import { ConfigurationError } from '../errors.js';
import { ALGORITHM_SPECS } from '../jws/algorithms.js';
import type { Algorithm } from '../settings/types.js';

/** Reads PEM or JWK JSON text into a node:crypto KeyObject: once, at start-up, never per request. */
function parseAsymmetric(text: string, kind: 'private' | 'public', what: string): KeyObject {
  const trimmed = text.trim();
  try {
    if (trimmed.startsWith('{')) {
      const jwk = JSON.parse(trimmed) as Record<string, unknown>;
      if (kind === 'private' && jwk.d === undefined) throw new Error('the JWK has no private part ("d")');
      // RFC 7517 §4.2-4.3: a key marked for encryption, or for operations other than signing, is not ours to use.
      if (jwk.use !== undefined && jwk.use !== 'sig') throw new Error(`the JWK is marked "use": ${JSON.stringify(jwk.use)}, not "sig"`);
      if (jwk.key_ops !== undefined && !(Array.isArray(jwk.key_ops) && jwk.key_ops.includes(kind === 'private' ? 'sign' : 'verify'))) {
        throw new Error('the JWK\'s "key_ops" do not allow signing/verifying');
      }
      return kind === 'private' ? createPrivateKey({ key: jwk, format: 'jwk' }) : createPublicKey({ key: jwk, format: 'jwk' });
    }
    return kind === 'private' ? createPrivateKey(trimmed) : createPublicKey(trimmed);
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    throw new ConfigurationError(
      `${what} could not be read as a ${kind} key (${reason}). Give a PEM or a JWK; "restjwt keygen --alg ES256" makes one.`,
    );
  }
}

/** Refuses a key that cannot safely serve `alg`: one key, one algorithm (RFC 8725 §3.1). */
export function assertKeyFitsAlgorithm(key: KeyObject, alg: Algorithm, what: string): void {
  const spec = ALGORITHM_SPECS[alg];
  const type = key.asymmetricKeyType;
  const details = key.asymmetricKeyDetails;
  const bad = (why: string): never => {
    throw new ConfigurationError(`${what} cannot be used with ${alg}: ${why}. Use "restjwt keygen --alg ${alg}" for a fitting key.`);
  };
  switch (spec.family) {
    case 'hmac': {
      if (key.type !== 'secret') bad('it is not a shared secret');
      const min = spec.signatureLength ?? 32;
      if ((key.symmetricKeySize ?? 0) < min) {
        bad(`it is ${key.symmetricKeySize ?? 0} bytes, shorter than the ${min}-byte hash (RFC 7518 §3.2); use at least ${min} random bytes`);
      }
      return;
    }
    case 'rsa':
    case 'pss':
      if (type !== 'rsa' && !(spec.family === 'pss' && type === 'rsa-pss')) bad(`it is ${type ?? 'a secret'}, not RSA`);
      if ((details?.modulusLength ?? 0) < 2048) bad(`its modulus is ${details?.modulusLength ?? 0} bits; RFC 7518 asks for 2048 or more`);
      return;
    case 'ec':
      if (type !== 'ec' || !spec.curves?.includes(details?.namedCurve ?? '')) {
        bad(`it is ${type ?? 'a secret'}${details?.namedCurve ? ` on ${details.namedCurve}` : ''}, not EC on ${spec.curves?.[0] ?? '?'}`);
      }
      return;
    case 'eddsa':
      if (type !== 'ed25519' && type !== 'ed448') bad(`it is ${type ?? 'a secret'}, not Ed25519 or Ed448`);
      return;
  }
}

/** Imports the signing key for `alg`. HMAC secrets are the UTF-8 bytes of the string, as in simplejwt. */
/** A JWK that names its algorithm must name this one (one key, one algorithm). */
function assertJwkAlg(text: string, alg: Algorithm, what: string): void {
  const trimmed = text.trim();
  if (!trimmed.startsWith('{')) return;
  const named = (JSON.parse(trimmed) as { alg?: unknown }).alg;
  if (named !== undefined && named !== alg) {
    throw new ConfigurationError(`${what} is a JWK for ${String(named)}, but the algorithm is ${alg}. Use a key made for ${alg}.`);
  }
}

export function importSigningKey(text: string, alg: Algorithm): KeyObject {
  const key = ALGORITHM_SPECS[alg].family === 'hmac' ? createSecretKey(Buffer.from(text, 'utf8')) : parseAsymmetric(text, 'private', 'signingKey');
  if (ALGORITHM_SPECS[alg].family !== 'hmac') assertJwkAlg(text, alg, 'signingKey');
  assertKeyFitsAlgorithm(key, alg, 'signingKey');
  return key;
}

/** Imports a verifying key for `alg` (a public key; for HMAC, the shared secret). */
export function importVerifyingKey(text: string, alg: Algorithm, what = 'verifyingKey'): KeyObject {
  const key = ALGORITHM_SPECS[alg].family === 'hmac' ? createSecretKey(Buffer.from(text, 'utf8')) : parseAsymmetric(text, 'public', what);
  if (ALGORITHM_SPECS[alg].family !== 'hmac') assertJwkAlg(text, alg, what);
  assertKeyFitsAlgorithm(key, alg, what);
  return key;
}
