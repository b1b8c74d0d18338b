import { createPublicKey } from 'node:crypto';
import type { Keyset } from './keyset.js';
import { jwkThumbprint } from './thumbprint.js';

/** A public JWK as published: public members only, with `kid`, `alg` and `use`. */
export interface PublicJwk {
  kty: string;
  kid: string;
  alg: string;
  use: 'sig';
  [member: string]: string;
}

/**
 * The JWKS document for `GET /.well-known/jwks.json`: every asymmetric verifying key, public members only.
 * HMAC secrets are never published. Computed once; the keyset is immutable.
 */
export function publicJwks(keyset: Keyset): { keys: PublicJwk[] } {
  const keys: PublicJwk[] = [];
  const seen = new Set<string>();
  for (const vk of keyset.verifying) {
    if (vk.key.type === 'secret') continue;
    // Export from a public KeyObject so that no private member (d, p, q, …) can ever be included.
    const pub = vk.key.type === 'private' ? createPublicKey(vk.key) : vk.key;
    const jwk = pub.export({ format: 'jwk' }) as Record<string, string>;
    const kid = vk.kid ?? jwkThumbprint(pub);
    if (seen.has(kid)) continue;
    seen.add(kid);
    keys.push({ ...jwk, kty: jwk.kty ?? '', kid, alg: vk.alg, use: 'sig' });
  }
  return { keys };
}
