import type { KeyObject } from 'node:crypto';
import { ConfigurationError } from '../errors.js';
import { ALGORITHM_SPECS } from '../jws/algorithms.js';
import { requireNode, subtle, type CryptoKey } from '../jws/primitives.js';
import { importParams } from '../jws/web-crypto.js';
import type { Algorithm } from '../settings/types.js';
import { readKeyDer } from './der.js';
import { publicMembers } from './thumbprint.js';
import { WebKey } from './web-key.js';

/**
 * What the key checks need to know of a key. A KeyObject has exactly these members; the web path reads them from the
 * key's text (PEM's DER, or the JWK), so both paths refuse the same keys with the same words, synchronously.
 */
export interface KeyFacts {
  readonly type: 'secret' | 'public' | 'private';
  readonly asymmetricKeyType?: string | undefined;
  readonly asymmetricKeyDetails?: { readonly modulusLength?: number | undefined; readonly namedCurve?: string | undefined } | undefined;
  readonly symmetricKeySize?: number | undefined;
}

const fail = (what: string, kind: string, reason: string): never => {
  throw new ConfigurationError(
    `${what} could not be read as a ${kind} key (${reason}). Give a PEM or a JWK; "restjwt keygen --alg ES256" makes one.`,
  );
};

/** The JWK in `trimmed`, with the checks both paths make (RFC 7517 §4.2-4.3); throws a plain Error for `fail`. */
function parseJwk(trimmed: string, kind: 'private' | 'public'): Record<string, unknown> {
  const jwk = JSON.parse(trimmed) as Record<string, unknown>;
  if (jwk === null || typeof jwk !== 'object' || Array.isArray(jwk)) throw new Error('the JSON is not a JWK object');
  if (kind === 'private' && jwk.d === undefined) throw new Error('the JWK has no private part ("d")');
  // A key marked for encryption, or for operations other than signing, is not ours to use.
  if (jwk.use !== undefined && jwk.use !== 'sig') throw new Error(`the JWK is marked "use": ${JSON.stringify(jwk.use)}, not "sig"`);
  if (jwk.key_ops !== undefined && !(Array.isArray(jwk.key_ops) && jwk.key_ops.includes(kind === 'private' ? 'sign' : 'verify'))) {
    throw new Error('the JWK\'s "key_ops" do not allow signing/verifying');
  }
  return jwk;
}

/** Reads PEM or JWK JSON text into a node:crypto KeyObject: once, at start-up, never per request. */
function parseAsymmetric(text: string, kind: 'private' | 'public', what: string): KeyObject {
  const { createPrivateKey, createPublicKey } = requireNode().crypto;
  const trimmed = text.trim();
  try {
    if (trimmed.startsWith('{')) {
      const jwk = parseJwk(trimmed, kind) as import('node:crypto').JsonWebKey;
      return kind === 'private' ? createPrivateKey({ key: jwk, format: 'jwk' }) : createPublicKey({ key: jwk, format: 'jwk' });
    }
    return kind === 'private' ? createPrivateKey(trimmed) : createPublicKey(trimmed);
  } catch (err) {
    return fail(what, kind, err instanceof Error ? err.message : String(err));
  }
}

/** Refuses a key that cannot safely serve `alg`: one key, one algorithm (RFC 8725 §3.1). */
export function assertKeyFitsAlgorithm(key: KeyFacts, alg: Algorithm, what: string): void {
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

/** A JWK that names its algorithm must name this one (one key, one algorithm). */
function assertJwkAlg(text: string, alg: Algorithm, what: string): void {
  const trimmed = text.trim();
  if (!trimmed.startsWith('{')) return;
  const named = (JSON.parse(trimmed) as { alg?: unknown }).alg;
  if (named !== undefined && named !== alg) {
    throw new ConfigurationError(`${what} is a JWK for ${String(named)}, but the algorithm is ${alg}. Use a key made for ${alg}.`);
  }
}

/** Imports the signing key for `alg`. HMAC secrets are the UTF-8 bytes of the string, as in simplejwt. */
export function importSigningKey(text: string, alg: Algorithm): KeyObject {
  const { crypto, Buffer } = requireNode();
  const key = ALGORITHM_SPECS[alg].family === 'hmac' ? crypto.createSecretKey(Buffer.from(text, 'utf8')) : parseAsymmetric(text, 'private', 'signingKey');
  if (ALGORITHM_SPECS[alg].family !== 'hmac') assertJwkAlg(text, alg, 'signingKey');
  assertKeyFitsAlgorithm(key, alg, 'signingKey');
  return key;
}

/** Imports a verifying key for `alg` (a public key; for HMAC, the shared secret). */
export function importVerifyingKey(text: string, alg: Algorithm, what = 'verifyingKey'): KeyObject {
  const { crypto, Buffer } = requireNode();
  const key = ALGORITHM_SPECS[alg].family === 'hmac' ? crypto.createSecretKey(Buffer.from(text, 'utf8')) : parseAsymmetric(text, 'public', what);
  if (ALGORITHM_SPECS[alg].family !== 'hmac') assertJwkAlg(text, alg, what);
  assertKeyFitsAlgorithm(key, alg, what);
  return key;
}

// ---------------------------------------------------------------------------------------------------------------
// The web path: the same checks from the text, the import itself (crypto.subtle) deferred to the key's first use.
// ---------------------------------------------------------------------------------------------------------------

type Source = { format: 'pkcs8' | 'spki'; der: Uint8Array } | { format: 'jwk'; jwk: Record<string, unknown> };

const JWK_CURVES: Readonly<Record<string, string>> = {
  'P-256': 'prime256v1', 'P-384': 'secp384r1', 'P-521': 'secp521r1', secp256k1: 'secp256k1',
  Ed25519: 'ed25519', Ed448: 'ed448', X25519: 'x25519', X448: 'x448',
};
/** What a key's text is and holds, read without crypto; throws the same ConfigurationErrors as the node path. */
function readWebKey(text: string, kind: 'private' | 'public', what: string): { facts: KeyFacts; source: Source } {
  const trimmed = text.trim();
  try {
    if (trimmed.startsWith('{')) {
      const jwk = parseJwk(trimmed, kind);
      const kty = jwk.kty;
      const curve = typeof jwk.crv === 'string' ? (JWK_CURVES[jwk.crv] ?? jwk.crv) : undefined;
      const type = kty === 'RSA' ? 'rsa' : kty === 'EC' ? 'ec' : kty === 'OKP' ? curve : undefined;
      if (type === undefined) throw new Error(`a JWK of "kty" ${JSON.stringify(kty)} is not an asymmetric key`);
      const details = kty === 'RSA' ? { modulusLength: jwkModulusBits(jwk.n) } : kty === 'EC' ? { namedCurve: curve } : {};
      return { facts: { type: kind, asymmetricKeyType: type, asymmetricKeyDetails: details }, source: { format: 'jwk', jwk } };
    }
    const pem = /^-----BEGIN ([A-Z0-9 ]+)-----\r?\n([A-Za-z0-9+/=\r\n]+)-----END \1-----$/.exec(trimmed);
    if (pem === null) throw new Error('it is neither a PEM block nor a JWK');
    const label = pem[1] as string;
    const format = label === 'PRIVATE KEY' ? 'pkcs8' : label === 'PUBLIC KEY' && kind === 'public' ? 'spki' : null;
    if (format === null) {
      // node:crypto reads PKCS #1, SEC 1 and certificates too; WebCrypto reads PKCS #8 and SPKI only.
      throw new Error(
        `a "${label}" PEM cannot be read by WebCrypto; give ${kind === 'private' ? 'PKCS #8 ("PRIVATE KEY": openssl pkcs8 -topk8 -nocrypt)' : 'SPKI ("PUBLIC KEY": openssl pkey -pubout)'} or a JWK`,
      );
    }
    const binary = atob((pem[2] as string).replace(/[\r\n]/g, ''));
    const der = new Uint8Array(binary.length);
    for (let i = 0; i < binary.length; i++) der[i] = binary.charCodeAt(i);
    const read = readKeyDer(der, format === 'pkcs8' ? 'private' : 'public');
    if (read === null) throw new Error(`the PEM is not a ${format === 'pkcs8' ? 'PKCS #8' : 'SPKI'} key`);
    const details = read.modulusLength !== undefined ? { modulusLength: read.modulusLength } : read.namedCurve !== undefined ? { namedCurve: read.namedCurve } : {};
    return { facts: { type: kind, asymmetricKeyType: read.asymmetricKeyType, asymmetricKeyDetails: details }, source: { format, der } };
  } catch (err) {
    return fail(what, kind, err instanceof Error ? err.message : String(err));
  }
}

/** The bit length of a JWK's `n` (unsigned big-endian, base64url). */
function jwkModulusBits(n: unknown): number {
  if (typeof n !== 'string' || n.length === 0) return 0;
  let binary: string;
  try {
    binary = atob(n.replace(/-/g, '+').replace(/_/g, '/') + '==='.slice((n.length + 3) % 4));
  } catch {
    return 0;
  }
  let i = 0;
  while (i < binary.length && binary.charCodeAt(i) === 0) i++;
  if (i === binary.length) return 0;
  return (binary.length - i - 1) * 8 + (32 - Math.clz32(binary.charCodeAt(i)));
}

/** Imports `source` with crypto.subtle; a refusal becomes the ConfigurationError the node path would have thrown at start-up. */
async function subtleImport(source: Source, alg: Algorithm, curve: string | undefined, usage: 'sign' | 'verify', what: string, kind: string): Promise<CryptoKey> {
  const params = importParams(alg, curve);
  try {
    if (source.format === 'jwk') {
      const jwk: Record<string, unknown> = { ...source.jwk };
      // Checked already (parseJwk); WebCrypto would also refuse a private JWK's "sign" for the derived public key.
      delete jwk.key_ops;
      delete jwk.ext;
      delete jwk.use;
      return await subtle().importKey('jwk', jwk as import('node:crypto').webcrypto.JsonWebKey, params, true, [usage]);
    }
    return await subtle().importKey(source.format, source.der, params, true, [usage]);
  } catch (err) {
    return fail(what, kind, `WebCrypto refused it: ${err instanceof Error ? err.message : String(err)}`);
  }
}

/** The public JWK of an imported (extractable) key, public members only. */
async function exportPublic(key: CryptoKey): Promise<Record<string, string>> {
  return publicMembers((await subtle().exportKey('jwk', key)) as Record<string, unknown>);
}

/** The signing key for `alg` on the web path: checked now, imported on first use. */
export function webSigningKey(text: string, alg: Algorithm): WebKey {
  if (ALGORITHM_SPECS[alg].family === 'hmac') return webSecret(text, alg, 'signingKey');
  const { facts, source } = readWebKey(text, 'private', 'signingKey');
  assertJwkAlg(text, alg, 'signingKey');
  assertKeyFitsAlgorithm(facts, alg, 'signingKey');
  return new WebKey(alg, false, async () => {
    const key = await subtleImport(source, alg, facts.asymmetricKeyType, 'sign', 'signingKey', 'private');
    return { key, publicJwk: await exportPublic(key) };
  });
}

/** A verifying key for `alg` on the web path (a public key, or the public half of a private one; for HMAC, the secret). */
export function webVerifyingKey(text: string, alg: Algorithm, what = 'verifyingKey'): WebKey {
  if (ALGORITHM_SPECS[alg].family === 'hmac') return webSecret(text, alg, what);
  const trimmed = text.trim();
  // node:crypto's createPublicKey derives the public key of a private one; so does this, through its JWK.
  const holdsPrivate = trimmed.startsWith('{') ? (JSON.parse(trimmed) as { d?: unknown }).d !== undefined : /^-----BEGIN PRIVATE KEY-----/.test(trimmed);
  const { facts, source } = readWebKey(text, holdsPrivate ? 'private' : 'public', what);
  assertJwkAlg(text, alg, what);
  assertKeyFitsAlgorithm({ ...facts, type: 'public' }, alg, what);
  return holdsPrivate ? publicHalf(source, alg, facts.asymmetricKeyType, what) : new WebKey(alg, false, async () => {
    const key = await subtleImport(source, alg, facts.asymmetricKeyType, 'verify', what, 'public');
    return { key, publicJwk: await exportPublic(key) };
  });
}

/** The verifying key of a signing key's text (the keyset's default verifier): its public members, imported for `verify`. */
export function webPublicHalf(signing: WebKey, alg: Algorithm): WebKey {
  return new WebKey(alg, false, async () => {
    const curve = (await signing.cryptoKey()).algorithm.name === 'Ed448' ? 'ed448' : undefined;
    const jwk = signing.publicJwk as Record<string, string>;
    const key = await subtleImport({ format: 'jwk', jwk }, alg, curve, 'verify', 'signingKey', 'public');
    return { key, publicJwk: jwk };
  });
}

function publicHalf(source: Source, alg: Algorithm, curve: string | undefined, what: string): WebKey {
  return new WebKey(alg, false, async () => {
    const priv = await subtleImport(source, alg, curve, 'sign', what, 'public');
    const jwk = await exportPublic(priv);
    return { key: await subtleImport({ format: 'jwk', jwk }, alg, curve, 'verify', what, 'public'), publicJwk: jwk };
  });
}

/** An HMAC secret on the web path: the UTF-8 bytes of the string, checked for length now. */
function webSecret(text: string, alg: Algorithm, what: string): WebKey {
  const bytes = new TextEncoder().encode(text);
  assertKeyFitsAlgorithm({ type: 'secret', symmetricKeySize: bytes.length }, alg, what);
  return new WebKey(alg, true, async () => ({
    key: await subtle().importKey('raw', bytes, importParams(alg), false, ['sign', 'verify']),
  }));
}
