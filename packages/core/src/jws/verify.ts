import type { Buffer } from 'node:buffer';
import type * as NodeCrypto from 'node:crypto';
import type { VerifyKey, WebVerifyKey } from '../keys/keyset.js';
import { WebKey } from '../keys/web-key.js';
import type { Algorithm } from '../settings/types.js';
import { ALGORITHM_SPECS, isAlgorithm, type AlgorithmSpec } from './algorithms.js';
import { decodeBase64url, decodeBase64urlInto, decodeBase64urlPortable } from './base64url.js';
import { nodeBuiltins, subtle, type CryptoKey } from './primitives.js';
import { Scratch } from './scratch.js';
import { cryptoKeyFits, signatureParams } from './web-crypto.js';

// The node path's primitives, bound once like imports. On a web-only runtime they are absent, and nothing calls them:
// keysets there hold WebKeys, which go through verifyCompactPayloadWeb.
const { createHmac, timingSafeEqual, verify: cryptoVerify, constants } = nodeBuiltins?.crypto ?? ({} as typeof NodeCrypto);
const NodeBuffer = nodeBuiltins?.Buffer as typeof Buffer;

/** Why a compact JWS was refused. Stable codes for tests and logs; never shown to clients (they see one message). */
export type JwsFailure =
  | 'malformed'
  | 'bad_header'
  | 'alg_not_allowed'
  | 'crit_unsupported'
  | 'no_key'
  | 'bad_signature'
  | 'bad_payload'
  | 'too_large';

export class JwsError extends Error {
  constructor(readonly reason: JwsFailure) {
    super(reason);
    this.name = 'JwsError';
  }
}

export interface JwsHeader {
  readonly alg: Algorithm;
  readonly kid?: string;
  readonly typ?: string;
  readonly [name: string]: unknown;
}

export interface VerifiedJws {
  header: JwsHeader;
  payload: Record<string, unknown>;
}

/** The header must be well-formed UTF-8, as in jose (which decodes it with a fatal TextDecoder; a BOM is skipped). */
const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

/** Validated headers, keyed on their exact base64url text: one issuer's tokens share a header. Bounded. */
const headerCache = new Map<string, JwsHeader>();
const HEADER_CACHE_MAX = 64;
/** The header segment seen last and its header: most tokens repeat it, and `startsWith` is cheaper than a lookup. */
let lastSegment = '';
let lastHeader: JwsHeader | undefined;

/** The validated header of `token`, whose header segment ends at `dot` (the first `.`). */
function parseHeader(token: string, dot: number): JwsHeader {
  if (lastHeader !== undefined && dot === lastSegment.length && token.startsWith(lastSegment)) return lastHeader;
  const segment = token.slice(0, dot);
  const header = headerCache.get(segment) ?? validateHeader(segment);
  lastSegment = segment;
  lastHeader = header;
  return header;
}

function validateHeader(segment: string): JwsHeader {
  if (segment.length > 2048) throw new JwsError('too_large');
  const bytes = decodeBase64url(segment);
  if (bytes === null) throw new JwsError('malformed');
  let header: unknown;
  try {
    header = JSON.parse(strictUtf8.decode(bytes));
  } catch {
    throw new JwsError('bad_header');
  }
  if (header === null || typeof header !== 'object' || Array.isArray(header)) throw new JwsError('bad_header');
  const h = header as Record<string, unknown>;
  // `none`, unknown names and non-strings all end here (RFC 8725 §3.1).
  if (!isAlgorithm(h.alg)) throw new JwsError('alg_not_allowed');
  // No extension is understood, so any `crit` must be refused (RFC 7515 §4.1.11).
  if (Object.hasOwn(h, 'crit')) throw new JwsError('crit_unsupported');
  if (Object.hasOwn(h, 'kid') && typeof h.kid !== 'string') throw new JwsError('bad_header');
  // jwk/jku/x5u/x5c are never used to pick a key: keys come from configuration only.
  const frozen = Object.freeze(h) as JwsHeader;
  if (headerCache.size >= HEADER_CACHE_MAX) headerCache.clear();
  headerCache.set(segment, frozen);
  return frozen;
}

/**
 * Reused areas for the per-token bytes (see scratch.ts): the signature, the payload, the signing input of the
 * asymmetric algorithms, the expected HMAC. Sharing them is safe: verification is synchronous (node:crypto's one-shot
 * calls return before the next token starts), and no view of them leaves this module.
 */
const signatureArea = new Scratch(512);
const payloadArea = new Scratch(1024);
const inputArea = new Scratch(1024);
/** HMAC outputs (≤ 64 bytes). */
const macArea = new Scratch(64);

/**
 * Checks one signature over `signingInput` (for a compact JWS, the ASCII bytes of `header.payload`; a string is taken
 * as its UTF-8 bytes) with a prepared key, exactly as `verifyCompact` does. Exported for the Wycheproof primitive
 * vectors (test/security/wycheproof.test.ts).
 */
export function verifySignature(key: VerifyKey, signingInput: Uint8Array | string, signature: Uint8Array): boolean {
  const spec = ALGORITHM_SPECS[key.alg];
  if (!signatureFits(spec, signature.length)) return false;
  if (spec.family === 'hmac') return verifyHmac(spec, key, signingInput, signature);
  return verifyAsymmetric(spec, key, typeof signingInput === 'string' ? NodeBuffer.from(signingInput) : signingInput, signature);
}

/** {@link verifySignature} with WebCrypto: the same length checks, then `crypto.subtle.verify`. */
export async function verifySignatureWeb(key: WebVerifyKey, signingInput: Uint8Array | string, signature: Uint8Array): Promise<boolean> {
  const spec = ALGORITHM_SPECS[key.alg];
  if (!signatureFits(spec, signature.length)) return false;
  const bytes = typeof signingInput === 'string' ? new TextEncoder().encode(signingInput) : signingInput;
  return subtleVerify(key, bytes, signature);
}

/**
 * The signature lengths both paths refuse before any crypto: HMAC outputs and ECDSA's P1363 signatures have one fixed
 * length per algorithm (anything else — DER, truncated, padded — is not JOSE), EdDSA's one per curve (Ed25519 64,
 * Ed448 114: node:crypto answers false for another length, workerd's WebCrypto throws), and no signature is empty.
 */
function signatureFits(spec: AlgorithmSpec, length: number): boolean {
  if (spec.signatureLength !== undefined) return length === spec.signatureLength;
  return spec.family === 'eddsa' ? length === 64 || length === 114 : length > 0;
}

function verifyHmac(spec: AlgorithmSpec, key: VerifyKey, signingInput: Uint8Array | string, signature: Uint8Array): boolean {
  const length = signature.length;
  // HMAC takes the string as it is (UTF-8, as Buffer.from would encode it): no Buffer to build first. The digest
  // comes back as a latin1 string ('binary' is its other name: one byte per character) and is copied into the reused
  // area: a Buffer digest would allocate an ArrayBuffer and two objects per token. The comparison stays
  // crypto.timingSafeEqual's.
  const mac = createHmac(spec.hash as string, key.key).update(signingInput).digest('binary');
  const expected = macArea.firstBytes(macArea.bufferFor(length), length);
  expected.write(mac, 0, length, 'latin1');
  return timingSafeEqual(expected, signature);
}

function verifyAsymmetric(spec: AlgorithmSpec, key: VerifyKey, signingInput: Uint8Array, signature: Uint8Array): boolean {
  switch (spec.family) {
    case 'hmac':
      return false; // verifySignature's own case
    case 'rsa':
      return cryptoVerify(spec.hash, signingInput, key.key, signature);
    case 'pss':
      return cryptoVerify(
        spec.hash,
        signingInput,
        { key: key.key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: constants.RSA_PSS_SALTLEN_DIGEST },
        signature,
      );
    case 'ec':
      return cryptoVerify(spec.hash, signingInput, { key: key.key, dsaEncoding: 'ieee-p1363' }, signature);
    case 'eddsa':
      return cryptoVerify(null, signingInput, key.key, signature);
  }
}

/** The web primitive: `crypto.subtle.verify` (constant-time for HMAC) with the key's CryptoKey, imported on first use. */
async function subtleVerify(key: WebVerifyKey, signingInput: Uint8Array, signature: Uint8Array): Promise<boolean> {
  const cryptoKey: CryptoKey = key.key instanceof WebKey ? await key.key.cryptoKey() : key.key;
  // A CryptoKey bound to another algorithm, hash or curve (a remote JWKS's) is not this alg's key.
  if (!cryptoKeyFits(cryptoKey, key.alg)) return false;
  // A signature the primitive cannot even parse is a bad signature, as node:crypto answers it: never a crash.
  return subtle().verify(signatureParams(key.alg, cryptoKey.algorithm.name), cryptoKey, signature, signingInput).catch(() => false);
}

/**
 * Verifies a compact JWS synchronously over prepared KeyObjects (node path) and returns its header and JSON-object
 * payload. As strict as jose's `compactVerify` (proved by test/differential/jws-differential.ts, on both paths), and
 * stricter where RFC 8725 asks: canonical base64url only, `crit` refused, the token's `alg` must equal its key's
 * algorithm. Claims (exp, nbf, aud…) are not checked here: see tokens/claims.ts.
 */
export function verifyCompact(token: string, keys: readonly VerifyKey[], maxLength = 8192): VerifiedJws {
  const payload = verifyCompactPayload(token, keys, maxLength);
  // The header was validated and remembered on the way: this finds it again without work.
  return { header: parseHeader(token, token.indexOf('.')), payload };
}

/** {@link verifyCompact} with WebCrypto (web path): the same checks in the same order, then `crypto.subtle.verify`. */
export async function verifyCompactWeb(token: string, keys: readonly WebVerifyKey[], maxLength = 8192): Promise<VerifiedJws> {
  const payload = await verifyCompactPayloadWeb(token, keys, maxLength);
  return { header: parseHeader(token, token.indexOf('.')), payload };
}

// The steps both paths share, in the order they run: the token's shape, its header, the candidate keys, the
// signature's length; after the primitive, the payload.

/** The position of the token's second dot, after the size and shape checks. */
function shapeOf(token: string, maxLength: number): number {
  if (token.length > maxLength) throw new JwsError('too_large');
  const dot1 = token.indexOf('.');
  const dot2 = dot1 < 0 ? -1 : token.indexOf('.', dot1 + 1);
  if (dot1 <= 0 || dot2 < 0 || token.indexOf('.', dot2 + 1) !== -1) throw new JwsError('malformed');
  return dot2;
}

/** Whether `key` may verify a token with `header`: its algorithm, and its kid when both name one. */
function candidate(key: { alg: Algorithm; kid: string | undefined }, header: JwsHeader): boolean {
  return key.alg === header.alg && (header.kid === undefined || key.kid === undefined || key.kid === header.kid);
}

/** The refusal when no key was a candidate: the alg is served, but not under this kid; or not at all. */
function noCandidate(keys: readonly { alg: Algorithm }[], header: JwsHeader): JwsError {
  return new JwsError(keys.some((k) => k.alg === header.alg) ? 'no_key' : 'alg_not_allowed');
}

/** The claims set: a JSON object (RFC 7519 §7.2). `text` is the payload decoded leniently (as before: only the header is strict). */
function parsePayload(text: string): Record<string, unknown> {
  let payload: unknown;
  try {
    payload = JSON.parse(text);
  } catch {
    throw new JwsError('bad_payload');
  }
  if (payload === null || typeof payload !== 'object' || Array.isArray(payload)) throw new JwsError('bad_payload');
  return payload as Record<string, unknown>;
}

/** verifyCompact without its result object: the payload only (what the token service keeps). */
export function verifyCompactPayload(token: string, keys: readonly VerifyKey[], maxLength = 8192): Record<string, unknown> {
  const dot2 = shapeOf(token, maxLength);
  const dot1 = token.indexOf('.');
  const header = parseHeader(token, dot1);
  const signature = decodeSegment(token.slice(dot2 + 1), signatureArea);
  if (signature === null || signature.length === 0) throw new JwsError('malformed');
  // The signing input stays a string for HMAC; the asymmetric families get its bytes once, whatever the key count.
  const input = token.slice(0, dot2);
  let inputBytes: Buffer | undefined;
  let matched = false;
  let verified = false;
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i] as VerifyKey;
    if (!candidate(key, header)) continue;
    matched = true;
    const spec = ALGORITHM_SPECS[key.alg];
    if (!signatureFits(spec, signature.length)) continue;
    if (spec.family === 'hmac' ? verifyHmac(spec, key, input, signature) : verifyAsymmetric(spec, key, (inputBytes ??= utf8Bytes(input)), signature)) {
      verified = true;
      break;
    }
  }
  if (!matched) throw noCandidate(keys, header);
  if (!verified) throw new JwsError('bad_signature');
  const segment = token.slice(dot1 + 1, dot2);
  const buffer = payloadArea.bufferFor((segment.length * 3) >>> 2);
  const length = decodeBase64urlInto(segment, buffer);
  if (length < 0) throw new JwsError('malformed');
  return parsePayload(buffer.toString('utf8', 0, length));
}

/** The payload's lenient decoder on the web path; `ignoreBOM` keeps a leading BOM, as Buffer's toString does. */
const lenientUtf8 = new TextDecoder('utf-8', { ignoreBOM: true });

/**
 * {@link verifyCompactPayload} with WebCrypto (web path): the same steps, only the primitive differs. The keys must be
 * ready (`keyset.ready()`: their kids are known), or CryptoKeys. The bytes are fresh arrays: the call awaits midway.
 */
export async function verifyCompactPayloadWeb(token: string, keys: readonly WebVerifyKey[], maxLength = 8192): Promise<Record<string, unknown>> {
  const dot2 = shapeOf(token, maxLength);
  const dot1 = token.indexOf('.');
  const header = parseHeader(token, dot1);
  const signature = decodeBase64urlPortable(token.slice(dot2 + 1));
  if (signature === null || signature.length === 0) throw new JwsError('malformed');
  let input: Uint8Array | undefined;
  let matched = false;
  let verified = false;
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i] as WebVerifyKey;
    if (!candidate(key, header)) continue;
    matched = true;
    if (!signatureFits(ALGORITHM_SPECS[key.alg], signature.length)) continue;
    if (await subtleVerify(key, (input ??= new TextEncoder().encode(token.slice(0, dot2))), signature)) {
      verified = true;
      break;
    }
  }
  if (!matched) throw noCandidate(keys, header);
  if (!verified) throw new JwsError('bad_signature');
  const bytes = decodeBase64urlPortable(token.slice(dot1 + 1, dot2));
  if (bytes === null) throw new JwsError('malformed');
  return parsePayload(lenientUtf8.decode(bytes));
}

/** decodeBase64url into `scratch`: a view of exactly the decoded bytes, valid until the area's next use; null if not canonical. */
function decodeSegment(segment: string, scratch: Scratch): Buffer | null {
  const buffer = scratch.bufferFor((segment.length * 3) >>> 2);
  const n = decodeBase64urlInto(segment, buffer);
  return n < 0 ? null : scratch.firstBytes(buffer, n);
}

/** The UTF-8 bytes of `text` (what Buffer.from(text) holds), in the reused input area. */
function utf8Bytes(text: string): Buffer {
  const buffer = inputArea.bufferFor(text.length * 3);
  return inputArea.firstBytes(buffer, buffer.write(text, 0, buffer.length, 'utf8'));
}
