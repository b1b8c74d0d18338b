import type { CryptoKey } from '../jws/primitives.js';
import type { Algorithm } from '../settings/types.js';

/**
 * A key of the web (WebCrypto) path: checked when the keyset is built (synchronously, from its text), imported by
 * `crypto.subtle` on first use and kept — the import promise is cached, so only the first verification or signature
 * waits for it. Importing lazily also keeps asynchronous work out of a Worker's global scope, where the keyset is
 * usually built.
 */
export class WebKey {
  private imported: Promise<CryptoKey> | undefined;
  /** The public JWK, members in the published order (asymmetric keys), once imported. */
  publicJwk: Readonly<Record<string, string>> | undefined;

  constructor(
    readonly alg: Algorithm,
    /** An HMAC secret: never published. */
    readonly secret: boolean,
    private readonly load: () => Promise<{ key: CryptoKey; publicJwk?: Readonly<Record<string, string>> }>,
  ) {}

  /** The imported CryptoKey (imported on the first call; rejects with the ConfigurationError the import met). */
  cryptoKey(): Promise<CryptoKey> {
    return (this.imported ??= this.load().then(({ key, publicJwk }) => {
      this.publicJwk = publicJwk;
      return key;
    }));
  }
}
