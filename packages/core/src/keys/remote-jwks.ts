import type { KeyObject } from 'node:crypto';
import { createRemoteJWKSet, type JWSHeaderParameters } from 'jose';
import { DEFAULT_PRIMITIVE, requireNode, type CryptoKey, type Primitive } from '../jws/primitives.js';
import type { Algorithm } from '../settings/types.js';
import type { VerifyKey } from './keyset.js';

/**
 * Keys from a remote JWKS (simplejwt's JWK_URL), fetched and cached by jose (cooldown, timeout, `kid` selection),
 * then handed to the same verifier as local keys: as KeyObjects on the node path, as jose's CryptoKeys on the web path.
 */
export class RemoteKeys {
  private readonly jwks: ReturnType<typeof createRemoteJWKSet>;
  private readonly cache = new Map<string, { key: VerifyKey<KeyObject | CryptoKey>; at: number }>();
  private readonly maxAgeMs: number;

  constructor(url: string, private readonly alg: Algorithm, options: { timeoutMs?: number; cacheMaxAgeMs?: number } = {}) {
    this.maxAgeMs = options.cacheMaxAgeMs ?? 10 * 60 * 1000;
    this.jwks = createRemoteJWKSet(new URL(url), {
      timeoutDuration: options.timeoutMs ?? 5000,
      cacheMaxAge: this.maxAgeMs,
      cooldownDuration: 30_000,
    });
  }

  /**
   * The key for this header, or null when the JWKS has none (or cannot be fetched). `primitive` is the keyset's: a
   * node keyset's verifier takes KeyObjects.
   */
  async keyFor(header: { alg: string; kid?: string }, primitive: Primitive = DEFAULT_PRIMITIVE): Promise<VerifyKey<KeyObject | CryptoKey> | null> {
    if (header.alg !== this.alg) return null;
    const cacheKey = `${primitive} ${header.kid ?? ''}`;
    const hit = this.cache.get(cacheKey);
    // Converted keys expire with jose's own cache, so a rotated JWKS is seen.
    if (hit !== undefined && Date.now() - hit.at < this.maxAgeMs) return hit.key;
    try {
      const found = (await this.jwks(header as JWSHeaderParameters)) as unknown as CryptoKey | KeyObject;
      let key: KeyObject | CryptoKey = found;
      if (primitive === 'node') {
        const { KeyObject } = requireNode().crypto;
        key = found instanceof KeyObject ? found : KeyObject.from(found as CryptoKey);
      }
      const vk = { alg: this.alg, key, kid: header.kid };
      if (this.cache.size > 32) this.cache.clear();
      this.cache.set(cacheKey, { key: vk, at: Date.now() });
      return vk;
    } catch {
      return null;
    }
  }

  /** Forgets converted keys (jose refetches on its own schedule). */
  clear(): void {
    this.cache.clear();
  }
}
