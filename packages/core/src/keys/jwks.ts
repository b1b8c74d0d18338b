import { ConfigurationError } from '../errors.js';
import { requireNode } from '../jws/primitives.js';
import type { Keyset } from './keyset.js';
import { jwkThumbprint, publicMembers } from './thumbprint.js';

/** A public JWK as published: public members only, with `kid`, `alg` and `use`. */
export interface PublicJwk {
  kty: string;
  kid: string;
  alg: string;
  use: 'sig';
  [member: string]: string;
}

/**
 * The JWKS document for `GET /.well-known/jwks.json`: every asymmetric verifying key, public members only (in
 * node:crypto's order on both paths, so the document is the same string). HMAC secrets are never published.
 * On the web path the keys must be imported first: `await keyset.ready()`.
 */
export function publicJwks(keyset: Keyset): { keys: PublicJwk[] } {
  const keys: PublicJwk[] = [];
  const seen = new Set<string>();
  const add = (jwk: Record<string, string>, kid: string, alg: string): void => {
    if (seen.has(kid)) return;
    seen.add(kid);
    keys.push({ ...jwk, kty: jwk.kty ?? '', kid, alg, use: 'sig' });
  };
  if (keyset.primitive === 'node') {
    const { createPublicKey } = requireNode().crypto;
    for (const vk of keyset.verifying) {
      if (vk.key.type === 'secret') continue;
      // Export from a public KeyObject so that no private member (d, p, q, …) can ever be included.
      const pub = vk.key.type === 'private' ? createPublicKey(vk.key) : vk.key;
      add(publicMembers(pub.export({ format: 'jwk' }) as Record<string, unknown>), vk.kid ?? jwkThumbprint(pub), vk.alg);
    }
    return { keys };
  }
  for (const vk of keyset.verifying) {
    if (vk.key.secret) continue;
    const jwk = vk.key.publicJwk;
    if (jwk === undefined || vk.kid === undefined) {
      throw new ConfigurationError('The JWKS of WebCrypto keys is known once they are imported: await keyset.ready() (or restjwt.ready()) first.');
    }
    add({ ...jwk }, vk.kid, vk.alg);
  }
  return { keys };
}
