import { constants, createHmac, timingSafeEqual, verify as cryptoVerify } from 'node:crypto';
import type { VerifyKey } from '../keys/keyset.js';
import type { Algorithm } from '../settings/types.js';
import { ALGORITHM_SPECS, isAlgorithm } from './algorithms.js';
import { decodeBase64url } from './base64url.js';

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

function parseHeader(segment: string): JwsHeader {
  const cached = headerCache.get(segment);
  if (cached !== undefined) return cached;
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
 * Checks one signature over `signingInput` (for a compact JWS, the ASCII bytes of `header.payload`) with a prepared
 * key, exactly as `verifyCompact` does. Exported for the Wycheproof primitive vectors (test/security/wycheproof.test.ts).
 */
export function verifySignature(key: VerifyKey, signingInput: Buffer, signature: Buffer): boolean {
  const spec = ALGORITHM_SPECS[key.alg];
  switch (spec.family) {
    case 'hmac': {
      if (signature.length !== spec.signatureLength) return false;
      const expected = createHmac(spec.hash as string, key.key).update(signingInput).digest();
      return timingSafeEqual(expected, signature);
    }
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
      // P1363 signatures have one fixed length per curve; anything else (DER, truncated) is not JOSE.
      if (signature.length !== spec.signatureLength) return false;
      return cryptoVerify(spec.hash, signingInput, { key: key.key, dsaEncoding: 'ieee-p1363' }, signature);
    case 'eddsa':
      return cryptoVerify(null, signingInput, key.key, signature);
  }
}

/**
 * Verifies a compact JWS synchronously over prepared KeyObjects and returns its header and JSON-object payload.
 * As strict as jose's `compactVerify` (proved by test/unit/jws-differential.test.ts), and stricter where RFC 8725
 * asks: canonical base64url only, `crit` refused, the token's `alg` must equal its key's algorithm.
 * Claims (exp, nbf, aud…) are not checked here: see tokens/claims.ts.
 */
export function verifyCompact(token: string, keys: readonly VerifyKey[], maxLength = 8192): VerifiedJws {
  if (token.length > maxLength) throw new JwsError('too_large');
  const dot1 = token.indexOf('.');
  const dot2 = dot1 < 0 ? -1 : token.indexOf('.', dot1 + 1);
  if (dot1 <= 0 || dot2 < 0 || token.indexOf('.', dot2 + 1) !== -1) throw new JwsError('malformed');
  const header = parseHeader(token.slice(0, dot1));
  const signature = decodeBase64url(token.slice(dot2 + 1));
  if (signature === null || signature.length === 0) throw new JwsError('malformed');
  const signingInput = Buffer.from(token.slice(0, dot2));
  let matched = false;
  let verified = false;
  for (const key of keys) {
    if (key.alg !== header.alg) continue;
    if (header.kid !== undefined && key.kid !== undefined && key.kid !== header.kid) continue;
    matched = true;
    if (verifySignature(key, signingInput, signature)) {
      verified = true;
      break;
    }
  }
  if (!matched) throw new JwsError(keys.some((k) => k.alg === header.alg) ? 'no_key' : 'alg_not_allowed');
  if (!verified) throw new JwsError('bad_signature');
  const body = decodeBase64url(token.slice(dot1 + 1, dot2));
  if (body === null) throw new JwsError('malformed');
  let payload: unknown;
  try {
    payload = JSON.parse(body.toString('utf8'));
  } catch {
    throw new JwsError('bad_payload');
  }
  if (payload === null || typeof payload !== 'object' || Array.isArray(payload)) throw new JwsError('bad_payload');
  return { header, payload: payload as Record<string, unknown> };
}
