/** What `createMfa` takes, checked once at start-up: every mistake is a ConfigurationError that says what to change. */
import { ConfigurationError, type FactorStore, type OneTimeStore, type Store } from '@restjwt/core';
import { hasCapability, hasFactors } from '@restjwt/core/store-kit';

/** Everything `createMfa` takes. */
export interface MfaOptions {
  /** The store, the same one given to `createRestJwt`: it must keep second factors and one-time values. */
  store: Store;
  /**
   * The WebAuthn relying party id: the site's domain (`example.com`, `localhost`), without scheme or port. Passkeys
   * registered under it work on it and its subdomains only, so choose it once.
   */
  rpId: string;
  /** The name passkey prompts show ("Sign in to …"). */
  rpName: string;
  /** The exact origins pages call WebAuthn from (`https://example.com`, `http://localhost:8000`); each on `rpId`. */
  origins: readonly string[];
  /**
   * The key TOTP secrets are encrypted with and recovery codes are hashed with: 32+ random bytes as hex or base64,
   * or a passphrase of 32+ characters. Changing it makes every enrolled authenticator app unreadable.
   */
  encryptionKey: string;
  /** The name authenticator apps list the account under; defaults to `rpName`. */
  issuer?: string;
}

/** {@link MfaOptions}, checked. */
export interface ResolvedMfaOptions {
  readonly store: Store & FactorStore & OneTimeStore;
  readonly rpId: string;
  readonly rpName: string;
  readonly origins: readonly string[];
  readonly issuer: string;
}

const MAX_NAME = 100;

/**
 * Checks the options (the key is checked by `MfaKeyring`).
 *
 * @throws ConfigurationError for a store without second factors (the Django shared-database store), or a bad RP id,
 *   name or origin.
 */
export function resolveMfaOptions(options: MfaOptions): ResolvedMfaOptions {
  const store = options.store;
  if (!hasFactors(store)) {
    throw new ConfigurationError(
      'Second factors need a store that keeps them (memory, SQLite, PostgreSQL or MariaDB); the Django shared-database store has no second ' +
        'factor tables. Use restjwt\'s own database, or leave "mfa" out of the configuration.',
    );
  }
  if (!hasCapability(store, 'oneTime')) {
    throw new ConfigurationError('Second factors need a store with one-time values for their challenges (memory, SQLite, PostgreSQL or MariaDB).');
  }
  const rpId = typeof options.rpId === 'string' ? options.rpId.trim().toLowerCase() : '';
  // A registrable domain or localhost: no scheme, port, path or IP address (browsers refuse IPs as RP ids).
  if (!/^(?=.{1,253}$)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*$/.test(rpId) || /^[0-9.]+$/.test(rpId)) {
    throw new ConfigurationError(
      `mfa.rpId must be the site's domain name without scheme, port or path (e.g. "example.com" or "localhost"), got ${JSON.stringify(options.rpId)}.`,
    );
  }
  const rpName = checkName(options.rpName, 'rpName');
  const issuer = options.issuer === undefined ? rpName : checkName(options.issuer, 'issuer');
  if (!Array.isArray(options.origins) || options.origins.length === 0) {
    throw new ConfigurationError(`mfa.origins must list the origins your pages call WebAuthn from, e.g. ["https://${rpId}"].`);
  }
  const origins = options.origins.map((origin) => checkOrigin(origin, rpId));
  return Object.freeze({ store, rpId, rpName, origins: Object.freeze(origins), issuer });
}

function checkName(value: unknown, name: string): string {
  if (typeof value !== 'string' || value.trim() === '' || value.length > MAX_NAME || value.includes(':')) {
    throw new ConfigurationError(`mfa.${name} must be a name of 1 to ${MAX_NAME} characters without ":" (authenticator apps split on it), got ${JSON.stringify(value)}.`);
  }
  return value.trim();
}

/** An origin exactly as browsers write it (`scheme://host[:port]`), whose host is `rpId` or below it. */
function checkOrigin(origin: unknown, rpId: string): string {
  let url: URL | undefined;
  try {
    url = typeof origin === 'string' ? new URL(origin) : undefined;
  } catch {
    url = undefined;
  }
  if (url === undefined || (url.protocol !== 'https:' && url.protocol !== 'http:') || url.origin !== origin) {
    throw new ConfigurationError(
      `mfa.origins: ${JSON.stringify(origin)} is not an origin as browsers send it: write "https://host" or "http://host:port", with no path or trailing slash.`,
    );
  }
  if (url.hostname !== rpId && !url.hostname.endsWith(`.${rpId}`)) {
    throw new ConfigurationError(`mfa.origins: ${origin} is not on the RP id "${rpId}": WebAuthn only works on the RP id's domain and its subdomains.`);
  }
  return origin;
}
