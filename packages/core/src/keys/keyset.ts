import { createPublicKey, type KeyObject } from 'node:crypto';
import { MissingKeyError } from '../errors.js';
import { ALGORITHM_SPECS } from '../jws/algorithms.js';
import type { Algorithm, Settings } from '../settings/types.js';
import { importSigningKey, importVerifyingKey } from './import-key.js';
import { jwkThumbprint } from './thumbprint.js';

/** A key that verifies tokens of exactly one algorithm. */
export interface VerifyKey {
  readonly alg: Algorithm;
  readonly key: KeyObject;
  readonly kid: string | undefined;
}

/** The key that signs new tokens. */
export interface SignKey {
  readonly alg: Algorithm;
  readonly key: KeyObject;
  readonly kid: string | undefined;
}

/**
 * Every key the service holds, imported once at start-up. Verification never imports or parses key material.
 */
export interface Keyset {
  readonly signing: SignKey | undefined;
  readonly verifying: readonly VerifyKey[];
  /** Algorithms any verifying key accepts: the allow-list a token's `alg` must be in. */
  readonly algorithms: ReadonlySet<Algorithm>;
}

/** Extra verifying keys (a retired signing key during rotation, another service's key). */
export interface ExtraVerifyKey {
  alg: Algorithm;
  key: string;
  kid?: string;
}

/**
 * Builds the keyset from settings, refusing weak or missing keys with a message that says what to do.
 * A service with only a verifying key (or a JWKS URL) verifies but cannot issue.
 */
export function buildKeyset(settings: Settings, extra: readonly ExtraVerifyKey[] = []): Keyset {
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
  } else if (hmac) {
    throw new MissingKeyError(
      `${alg} needs signingKey: pass settings.signingKey, a secret of at least ${ALGORITHM_SPECS[alg].signatureLength} random bytes ` +
        `("npx restjwt keygen --alg ${alg}" prints one). It is undefined here: if you read it from an environment variable, that variable is not set.`,
      alg,
    );
  }
  if (settings.verifyingKey !== undefined && !hmac) {
    const key = importVerifyingKey(settings.verifyingKey, alg);
    verifying.push({ alg, key, kid: settings.signingKeyId ?? signing?.kid ?? jwkThumbprint(key) });
  }
  for (const [i, e] of [...settings.additionalVerifyingKeys, ...extra].entries()) {
    verifying.push({ alg: e.alg, key: importVerifyingKey(e.key, e.alg, `verifying key #${i + 1}`), kid: e.kid });
  }
  if (verifying.length === 0 && settings.jwkUrl === undefined) {
    throw new MissingKeyError(
      `${alg} needs a key: pass settings.signingKey (a private key, PEM or JWK) to issue tokens, or settings.verifyingKey / settings.jwkUrl to only verify them. "npx restjwt keygen --alg ${alg}" makes a key pair.`,
      alg,
    );
  }
  return Object.freeze({
    signing,
    verifying: Object.freeze(verifying),
    algorithms: new Set(verifying.map((k) => k.alg).concat(settings.jwkUrl !== undefined ? [alg] : [])),
  });
}
