import type { KeyObject } from 'node:crypto';
import { encodeBase64url } from '../jws/base64url.js';
import { requireNode, subtle } from '../jws/primitives.js';

/** The public members of each key type, in the order node:crypto exports them: the JWKS reads the same on both paths. */
const PUBLIC_MEMBERS: Readonly<Record<string, readonly string[]>> = {
  RSA: ['kty', 'n', 'e'],
  EC: ['kty', 'x', 'y', 'crv'],
  OKP: ['crv', 'x', 'kty'],
};

/** The members RFC 7638 hashes for each key type, in lexicographic order. */
const THUMBPRINT_MEMBERS: Readonly<Record<string, readonly string[]>> = {
  RSA: ['e', 'kty', 'n'],
  EC: ['crv', 'kty', 'x', 'y'],
  OKP: ['crv', 'kty', 'x'],
};

/** The public members of `jwk` only (never `d`, `p`, `q`…, nor `ext`/`key_ops`), in node:crypto's export order. */
export function publicMembers(jwk: Readonly<Record<string, unknown>>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of PUBLIC_MEMBERS[String(jwk.kty)] ?? []) if (typeof jwk[m] === 'string') out[m] = jwk[m];
  return out;
}

/** RFC 7638's input: the required members, sorted, compact JSON. */
function thumbprintInput(jwk: Readonly<Record<string, unknown>>): string {
  const members = THUMBPRINT_MEMBERS[String(jwk.kty)] ?? [];
  return `{${members.map((m) => `${JSON.stringify(m)}:${JSON.stringify(jwk[m])}`).join(',')}}`;
}

/** RFC 7638 JWK thumbprint (SHA-256, base64url) of a public key: a stable default `kid`. */
export function jwkThumbprint(publicKey: KeyObject): string {
  const jwk = publicKey.export({ format: 'jwk' }) as Record<string, string>;
  return requireNode().crypto.createHash('sha256').update(thumbprintInput(jwk)).digest('base64url');
}

/** {@link jwkThumbprint} of a public JWK with WebCrypto's digest: the same string. */
export async function jwkThumbprintWeb(jwk: Readonly<Record<string, unknown>>): Promise<string> {
  const digest = await subtle().digest('SHA-256', new TextEncoder().encode(thumbprintInput(jwk)));
  return encodeBase64url(new Uint8Array(digest));
}
