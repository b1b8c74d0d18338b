import type { KeyObject } from 'node:crypto';
import { MissingKeyError } from '../errors.js';
import { ALGORITHM_SPECS } from '../jws/algorithms.js';
import { DEFAULT_PRIMITIVE, requireNode, type CryptoKey, type Primitive } from '../jws/primitives.js';
import type { Algorithm, Settings } from '../settings/types.js';
import { importSigningKey, importVerifyingKey, webPublicHalf, webSigningKey, webVerifyingKey } from './import-key.js';
import { jwkThumbprint, jwkThumbprintWeb } from './thumbprint.js';
import type { WebKey } from './web-key.js';

/**
 * A key that verifies tokens of exactly one algorithm: a KeyObject on the node path; on the web path a {@link WebKey}
 * (a CryptoKey being imported) or, from a remote JWKS, a CryptoKey.
 */
export interface VerifyKey<K = KeyObject> {
  readonly alg: Algorithm;
  readonly key: K;
  readonly kid: string | undefined;
}

/** The key that signs new tokens. */
export type SignKey<K = KeyObject> = VerifyKey<K>;

/** A key of the web path's verifier. */
export type WebVerifyKey = VerifyKey<WebKey | CryptoKey>;

interface KeysetCommon {
  /** Algorithms any verifying key accepts: the allow-list a token's `alg` must be in. */
  readonly algorithms: ReadonlySet<Algorithm>;
  /**
   * Resolves once every key is usable: at once on the node path; on the web path once WebCrypto has imported them and
   * the default `kid`s (thumbprints) are known. Rejects with the ConfigurationError of a key WebCrypto refuses. Tokens
   * are verified and signed without it (they await it themselves); `publicJwks` on the web path needs it first.
   */
  ready(): Promise<void>;
}

/** Keys prepared for node:crypto: verification and signing are synchronous. */
export interface NodeKeyset extends KeysetCommon {
  readonly primitive: 'node';
  readonly signing: SignKey | undefined;
  readonly verifying: readonly VerifyKey[];
}

/** Keys for WebCrypto: verification and signing are asynchronous. */
export interface WebKeyset extends KeysetCommon {
  readonly primitive: 'web';
  readonly signing: SignKey<WebKey> | undefined;
  readonly verifying: readonly VerifyKey<WebKey>[];
}

/**
 * Every key the service holds, imported once (at start-up on the node path, on first use on the web path).
 * Verification never imports or parses key material.
 */
export type Keyset = NodeKeyset | WebKeyset;

/** Extra verifying keys (a retired signing key during rotation, another service's key). */
export interface ExtraVerifyKey {
  alg: Algorithm;
  key: string;
  kid?: string;
}

export interface KeysetOptions {
  /** Which primitive the keys are prepared for. Default: node:crypto where the runtime has it, else WebCrypto. */
  primitive?: Primitive;
}

/**
 * Builds the keyset from settings, refusing weak or missing keys with a message that says what to do — on both
 * paths synchronously, here (the web path reads what a key is from its text; only a key WebCrypto then refuses to
 * import is reported later, by `ready()`). A service with only a verifying key (or a JWKS URL) verifies but cannot issue.
 */
export function buildKeyset(settings: Settings, extra: readonly ExtraVerifyKey[] = [], options: KeysetOptions = {}): Keyset {
  const alg = settings.algorithm;
  const hmac = ALGORITHM_SPECS[alg].family === 'hmac';
  if (settings.signingKey === undefined && hmac) {
    throw new MissingKeyError(
      `${alg} needs signingKey: pass settings.signingKey, a secret of at least ${ALGORITHM_SPECS[alg].signatureLength} random bytes ` +
        `("npx restjwt keygen --alg ${alg}" prints one). It is undefined here: if you read it from an environment variable, that variable is not set.`,
      alg,
    );
  }
  const keyset = (options.primitive ?? DEFAULT_PRIMITIVE) === 'node' ? nodeKeyset(settings, extra) : webKeyset(settings, extra);
  if (keyset.verifying.length === 0 && settings.jwkUrl === undefined) {
    throw new MissingKeyError(
      `${alg} needs a key: pass settings.signingKey (a private key, PEM or JWK) to issue tokens, or settings.verifyingKey / settings.jwkUrl to only verify them. "npx restjwt keygen --alg ${alg}" makes a key pair.`,
      alg,
    );
  }
  return keyset;
}

function algorithmsOf(verifying: readonly { alg: Algorithm }[], settings: Settings): ReadonlySet<Algorithm> {
  return new Set(verifying.map((k) => k.alg).concat(settings.jwkUrl !== undefined ? [settings.algorithm] : []));
}

const READY: Promise<void> = Promise.resolve();

function nodeKeyset(settings: Settings, extra: readonly ExtraVerifyKey[]): NodeKeyset {
  const { createPublicKey } = requireNode().crypto;
  const alg = settings.algorithm;
  const hmac = ALGORITHM_SPECS[alg].family === 'hmac';
  let signing: SignKey | undefined;
  const verifying: VerifyKey[] = [];
  if (settings.signingKey !== undefined) {
    const key = importSigningKey(settings.signingKey, alg);
    // Asymmetric keys get their RFC 7638 thumbprint as default kid, so JWKS consumers can pick the right key.
    const kid = settings.signingKeyId ?? (hmac ? undefined : jwkThumbprint(createPublicKey(key)));
    signing = { alg, key, kid };
    if (hmac) {
      verifying.push({ alg, key, kid });
    } else if (settings.verifyingKey === undefined) {
      verifying.push({ alg, key: createPublicKey(key), kid });
    }
  }
  if (settings.verifyingKey !== undefined && !hmac) {
    const key = importVerifyingKey(settings.verifyingKey, alg);
    verifying.push({ alg, key, kid: settings.signingKeyId ?? signing?.kid ?? jwkThumbprint(key) });
  }
  for (const [i, e] of [...settings.additionalVerifyingKeys, ...extra].entries()) {
    verifying.push({ alg: e.alg, key: importVerifyingKey(e.key, e.alg, `verifying key #${i + 1}`), kid: e.kid });
  }
  return Object.freeze({
    primitive: 'node',
    signing,
    verifying: Object.freeze(verifying),
    algorithms: algorithmsOf(verifying, settings),
    ready: () => READY,
  });
}

/** A key entry whose default kid (a thumbprint) is only known once WebCrypto has exported its public JWK. */
type Entry = { alg: Algorithm; key: WebKey; kid: string | undefined };

/** The web keyset: the same keys, checks and default kids as {@link nodeKeyset}, imported by WebCrypto on first use. */
function webKeyset(settings: Settings, extra: readonly ExtraVerifyKey[]): WebKeyset {
  const alg = settings.algorithm;
  const hmac = ALGORITHM_SPECS[alg].family === 'hmac';
  let signing: Entry | undefined;
  const verifying: Entry[] = [];
  /** What ready() fills in once the keys are imported: the thumbprint kids, in the order nodeKeyset computes them. */
  const thumbprinted: { entry: Entry; from: WebKey }[] = [];
  if (settings.signingKey !== undefined) {
    const key = webSigningKey(settings.signingKey, alg);
    signing = { alg, key, kid: settings.signingKeyId };
    if (hmac) {
      verifying.push(signing);
    } else {
      if (signing.kid === undefined) thumbprinted.push({ entry: signing, from: key });
      if (settings.verifyingKey === undefined) {
        const entry: Entry = { alg, key: webPublicHalf(key, alg), kid: signing.kid };
        verifying.push(entry);
        if (entry.kid === undefined) thumbprinted.push({ entry, from: key });
      }
    }
  }
  if (settings.verifyingKey !== undefined && !hmac) {
    const key = webVerifyingKey(settings.verifyingKey, alg);
    const entry: Entry = { alg, key, kid: settings.signingKeyId };
    verifying.push(entry);
    // signing?.kid, when the signing key's is a thumbprint too: ready() sets that one first.
    if (entry.kid === undefined) thumbprinted.push({ entry, from: signing?.key ?? key });
  }
  for (const [i, e] of [...settings.additionalVerifyingKeys, ...extra].entries()) {
    verifying.push({ alg: e.alg, key: webVerifyingKey(e.key, e.alg, `verifying key #${i + 1}`), kid: e.kid });
  }
  let readiness: Promise<void> | undefined;
  const ready = (): Promise<void> =>
    (readiness ??= (async () => {
      const keys = new Set<WebKey>(verifying.map((v) => v.key));
      if (signing !== undefined) keys.add(signing.key);
      await Promise.all([...keys].map((k) => k.cryptoKey()));
      for (const { entry, from } of thumbprinted) entry.kid = await jwkThumbprintWeb(from.publicJwk as Record<string, string>);
    })());
  return Object.freeze({
    primitive: 'web',
    signing,
    verifying: Object.freeze(verifying),
    algorithms: algorithmsOf(verifying, settings),
    ready,
  });
}
