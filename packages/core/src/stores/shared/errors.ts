/**
 * Errors the stores raise, with stable codes, written once. (The core's own store errors are in
 * `store/errors.ts`.)
 */
import { StoreUnavailableError } from '../../store/errors.js';

/** Raised by `putOneTime` when the key is taken (keys are random, so a clash is a bug in the caller). */
export class OneTimeKeyExistsError extends Error {
  readonly code = 'one_time_key_exists';
  constructor() {
    // The key is a secret (an OAuth state, a login code): never put it in the message.
    super('A one-time value already exists under this key. Keys must be fresh random values.');
    this.name = 'OneTimeKeyExistsError';
  }
}

/** Raised by `addFactor` when the WebAuthn credential id is registered already (to this user or another). */
export class CredentialExistsError extends Error {
  readonly code = 'credential_exists';
  constructor() {
    super('This WebAuthn credential is already registered. Each authenticator credential belongs to one factor.');
    this.name = 'CredentialExistsError';
  }
}

/**
 * What every store answers once closed: `StoreUnavailableError` (503), `not_applied` since nothing reached the
 * database. `store` names it ("The SQLite store for ./db.sqlite3"); `advice` says how to get a working one.
 */
export function closedStoreError(store: string, advice?: string, cause?: unknown): StoreUnavailableError {
  return new StoreUnavailableError(`${store} is closed.${advice === undefined ? '' : ` ${advice}`}`, {
    outcome: 'not_applied',
    ...(cause === undefined ? {} : { cause }),
  });
}
