/**
 * simplejwt's `TokenUser` (`rest_framework_simplejwt.models.TokenUser`): the user of a stateless request, built from
 * the token's claims alone. It is what `JWTStatelessUserAuthentication` attaches: no user table is read, so a
 * service that only verifies tokens (another process, another language) needs no access to the users.
 */
export interface TokenUser {
  /** The token's user id claim (`userIdClaim`, `user_id` by default), as a string. */
  readonly id: string;
  /** The `username` claim when the token carries one (a custom claim), else `""`, as simplejwt's TokenUser. */
  readonly username: string;
  /** Always true: the token was issued to an active user and is still valid. */
  readonly isActive: true;
  /** True only when the token says so with an `is_staff: true` claim; simplejwt's TokenUser is never staff. */
  readonly isStaff: boolean;
  /** Every claim of the validated token (simplejwt's TokenUser reads unknown attributes from the token). */
  readonly claims: Readonly<Record<string, unknown>>;
}

/** The TokenUser for a user id and the claims of a validated token. */
export function tokenUser(id: string, claims: Readonly<Record<string, unknown>>): TokenUser {
  return Object.freeze({
    id,
    username: typeof claims.username === 'string' ? claims.username : '',
    isActive: true,
    isStaff: claims.is_staff === true,
    claims: Object.freeze({ ...claims }),
  });
}

/** Tells a TokenUser (stateless authentication) from a store's user record. */
export function isTokenUser(user: unknown): user is TokenUser {
  return typeof user === 'object' && user !== null && 'claims' in user && !('passwordHash' in user);
}
