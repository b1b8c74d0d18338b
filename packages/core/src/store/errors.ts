/** Raised by `createUser` when the username (or email, where unique) is already taken. */
export class UserExistsError extends Error {
  readonly code = 'user_exists';
  /**
   * @param username the existing user's name.
   * @param submitted the name asked for, when it differs (a look-alike: the same once normalised to NFKC).
   */
  constructor(
    readonly username: string,
    readonly submitted: string = username,
  ) {
    const lookAlike = submitted === username ? '' : ` ("${submitted}" is the same username once normalised to NFKC, as Django normalises usernames)`;
    super(`A user named "${username}" already exists${lookAlike}. Pick another username, or use "restjwt changepassword ${username}" to change its password.`);
    this.name = 'UserExistsError';
  }
}

/**
 * Raised by a store when its backend cannot answer (connection lost, database locked too long). The HTTP layer maps
 * it to 503 so that nothing is issued without being recorded.
 */
export class StoreUnavailableError extends Error {
  readonly code = 'store_unavailable';
  /**
   * What is known of the write that failed: `not_applied` when the backend certainly did not apply it (it failed
   * before its transaction could commit), `unknown` otherwise (the commit itself may have been lost in transit).
   */
  readonly outcome: 'not_applied' | 'unknown';
  constructor(message: string, options?: { cause?: unknown; outcome?: 'not_applied' | 'unknown' }) {
    super(message, options);
    this.name = 'StoreUnavailableError';
    this.outcome = options?.outcome ?? 'unknown';
  }
}
