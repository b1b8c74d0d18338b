import type { Buffer } from 'node:buffer';
import type { KeyObject } from 'node:crypto';
import type * as NodeCrypto from 'node:crypto';
import { WebKey } from '../keys/web-key.js';
import type { Algorithm } from '../settings/types.js';
import { ALGORITHM_SPECS } from './algorithms.js';
import { encodeBase64url, encodeBase64urlPortable } from './base64url.js';
import { nodeBuiltins, subtle, type CryptoKey } from './primitives.js';
import { Scratch } from './scratch.js';
import { signatureParams } from './web-crypto.js';

// The node path's primitives, bound once like imports. On a web-only runtime they are absent, and nothing calls them:
// keysets there hold WebKeys, which take the web functions below.
const { createHmac, sign: cryptoSign, constants } = nodeBuiltins?.crypto ?? ({} as typeof NodeCrypto);
const NodeBuffer = nodeBuiltins?.Buffer as typeof Buffer;

/** Signs `signingInput` (the ASCII `header.payload`) with a prepared KeyObject (node path). */
export function signRaw(alg: Algorithm, key: KeyObject, signingInput: string): Buffer {
  const spec = ALGORITHM_SPECS[alg];
  switch (spec.family) {
    case 'hmac':
      return createHmac(spec.hash as string, key).update(signingInput).digest();
    case 'rsa':
      return cryptoSign(spec.hash, NodeBuffer.from(signingInput), key);
    case 'pss':
      return cryptoSign(spec.hash, NodeBuffer.from(signingInput), {
        key,
        padding: constants.RSA_PKCS1_PSS_PADDING,
        saltLength: constants.RSA_PSS_SALTLEN_DIGEST,
      });
    case 'ec':
      return cryptoSign(spec.hash, NodeBuffer.from(signingInput), { key, dsaEncoding: 'ieee-p1363' });
    case 'eddsa':
      return cryptoSign(null, NodeBuffer.from(signingInput), key);
  }
}

/** signRaw with WebCrypto (web path): the same signature bytes for HMAC and Ed25519, an equally valid one otherwise. */
export async function signRawWeb(alg: Algorithm, key: CryptoKey | WebKey, signingInput: string): Promise<Uint8Array> {
  const cryptoKey = key instanceof WebKey ? await key.cryptoKey() : key;
  const signature = await subtle().sign(signatureParams(alg, cryptoKey.algorithm.name), cryptoKey, new TextEncoder().encode(signingInput));
  return new Uint8Array(signature);
}

/** Encoded headers by algorithm and kid: a service signs with one or two keys, so this stays tiny. */
const headerSegments = new Map<string, string>();

function headerSegment(alg: Algorithm, kid: string | undefined): string {
  const cacheKey = kid === undefined ? alg : `${alg} ${kid}`;
  let segment = headerSegments.get(cacheKey);
  if (segment === undefined) {
    const header = kid === undefined ? { alg, typ: 'JWT' } : { alg, typ: 'JWT', kid };
    segment = encodeBase64url(JSON.stringify(header));
    if (headerSegments.size > 64) headerSegments.clear();
    headerSegments.set(cacheKey, segment);
  }
  return segment;
}

/** The payload's UTF-8 bytes on their way to base64url (node path, synchronous use only: see scratch.ts). */
const payloadArea = new Scratch(1024);

/** base64url of the UTF-8 bytes of `json`, as Buffer.from(json).toString('base64url'), without the Buffer. */
function payloadSegment(json: string): string {
  const buffer = payloadArea.bufferFor(json.length * 3);
  return buffer.toString('base64url', 0, buffer.write(json, 0, buffer.length, 'utf8'));
}

/**
 * Encodes a compact JWS with a KeyObject (node path): header `{"alg", "typ": "JWT"[, "kid"]}` in that order, compact
 * JSON, base64url without padding — byte for byte what PyJWT (simplejwt) produces, so both sides' tokens look alike.
 */
export function signCompact(
  alg: Algorithm,
  key: KeyObject,
  payload: Readonly<Record<string, unknown>>,
  kid?: string,
): string {
  const header = headerSegment(alg, kid);
  const body = payloadSegment(JSON.stringify(payload));
  const spec = ALGORITHM_SPECS[alg];
  if (spec.family === 'hmac') {
    // The HMAC takes the three parts in turn: hashing `${header}.${body}` would first flatten that string into a
    // copy, garbage as soon as the digest is out. Straight to base64url: one buffer and one conversion fewer.
    const signature = createHmac(spec.hash as string, key).update(header).update('.').update(body).digest('base64url');
    return `${header}.${body}.${signature}`;
  }
  const signingInput = `${header}.${body}`;
  return `${signingInput}.${signRaw(alg, key, signingInput).toString('base64url')}`;
}

/** {@link signCompact} with WebCrypto (web path): the same header and payload segments. */
export async function signCompactWeb(
  alg: Algorithm,
  key: CryptoKey | WebKey,
  payload: Readonly<Record<string, unknown>>,
  kid?: string,
): Promise<string> {
  const signingInput = `${headerSegment(alg, kid)}.${encodeBase64urlPortable(new TextEncoder().encode(JSON.stringify(payload)))}`;
  return `${signingInput}.${encodeBase64urlPortable(await signRawWeb(alg, key, signingInput))}`;
}
