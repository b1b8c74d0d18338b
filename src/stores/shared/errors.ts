/**
 * Errors the stores raise for the optional capabilities, with stable codes. (The core's own store errors are in
 * `core/store/errors.ts`.)
 */

/** Raised by `putOneTime` when the key is taken (keys are random, so a clash is a bug in the caller). */
export class OneTimeKeyExistsError extends Error {
  readonly code = 'one_time_key_exists';
  constructor() {
    // The key is a secret (an OAuth state, a login code): never put it in the message.
    super('A one-time value already exists under this key. Keys must be fresh random values.');
    this.name = 'OneTimeKeyExistsError';
  }
}
