import type { CoreResponse } from '@restjwt/core';
import { BASE_HEADERS } from '@restjwt/core/adapter-kit';

/**
 * Social login's typed errors. Each has a stable `code` and HTTP status and renders as simplejwt's error body
 * `{"detail", "code"}`. They are not core `ApiError`s: the core's message catalogue is the token endpoints' wire
 * vocabulary, and social login keeps its own (English) messages here instead of growing it.
 */

/** Every code a social-login error can carry. */
export type SocialErrorCode =
  /** No provider of that name is configured (404). */
  | 'social_unknown_provider'
  /** The `state` is unknown, tampered with, expired, already used, or belongs to another provider (400). */
  | 'social_state_invalid'
  /** The callback came from a browser that did not start the login (missing or wrong binding cookie) (400). */
  | 'social_browser_mismatch'
  /** The provider answered the authorization request with an error (the user declined, …) (400). */
  | 'social_provider_denied'
  /** The authorization response does not fit this login (e.g. the `iss` of another provider: a mix-up) (400). */
  | 'social_response_invalid'
  /** The provider refused the authorization code (already used, expired, wrong verifier or redirect URI) (400). */
  | 'social_code_invalid'
  /** The ID token is not valid: signature, issuer, audience, expiry, or the provider's answer failed validation (401). */
  | 'social_id_token_invalid'
  /** The ID token's nonce is not the one this login sent (401). */
  | 'social_nonce_mismatch'
  /** The provider did not tell who the user is (no subject) (400). */
  | 'social_profile_invalid'
  /** The post-login URL is not an exact entry of `allowedRedirects` (400). */
  | 'social_redirect_not_allowed'
  /** The one-time exchange code is unknown, expired or already used (400). */
  | 'social_exchange_code_invalid'
  /** No account is linked to this identity and none may be created or linked automatically (403). */
  | 'social_account_not_found'
  /** An account with this email exists but may not be linked automatically (unverified email, linking off) (409). */
  | 'social_email_in_use'
  /** The identity is already linked to another user (409). */
  | 'social_identity_in_use'
  /** The linked user is inactive (401). */
  | 'social_user_inactive'
  /** Unlinking would leave the user with no way to sign in (409). */
  | 'social_last_login_method'
  /** The identity to unlink is not linked to this user (404). */
  | 'social_identity_not_found'
  /** This provider cannot take this kind of native request (e.g. an ID token from a plain OAuth 2.0 provider) (400). */
  | 'social_grant_unsupported'
  /** The request body is missing a field or has a wrong one (400). */
  | 'social_bad_request'
  /** The provider could not be reached or answered nonsense (502). */
  | 'social_provider_unavailable';

const STATUS: Readonly<Record<SocialErrorCode, number>> = {
  social_unknown_provider: 404,
  social_state_invalid: 400,
  social_browser_mismatch: 400,
  social_provider_denied: 400,
  social_response_invalid: 400,
  social_code_invalid: 400,
  social_id_token_invalid: 401,
  social_nonce_mismatch: 401,
  social_profile_invalid: 400,
  social_redirect_not_allowed: 400,
  social_exchange_code_invalid: 400,
  social_account_not_found: 403,
  social_email_in_use: 409,
  social_identity_in_use: 409,
  social_user_inactive: 401,
  social_last_login_method: 409,
  social_identity_not_found: 404,
  social_grant_unsupported: 400,
  social_bad_request: 400,
  social_provider_unavailable: 502,
};

const DETAIL: Readonly<Record<SocialErrorCode, string>> = {
  social_unknown_provider: 'Unknown sign-in provider.',
  social_state_invalid: 'The sign-in request is invalid, expired or was already used. Start the sign-in again.',
  social_browser_mismatch: 'This sign-in was started in another browser. Start the sign-in again.',
  social_provider_denied: 'The provider did not authorize the sign-in.',
  social_response_invalid: "The provider's answer does not belong to this sign-in.",
  social_code_invalid: 'The provider refused the authorization code.',
  social_id_token_invalid: 'The ID token is not valid.',
  social_nonce_mismatch: 'The ID token was not issued for this sign-in (nonce mismatch).',
  social_profile_invalid: 'The provider did not identify the user.',
  social_redirect_not_allowed: 'The post-login URL is not allowed.',
  social_exchange_code_invalid: 'The sign-in code is invalid, expired or was already used.',
  social_account_not_found: 'No account is linked to this identity.',
  social_email_in_use: 'An account with this email address exists. Sign in to it and link this provider from there.',
  social_identity_in_use: 'This identity is linked to another account.',
  social_user_inactive: 'User is inactive',
  social_last_login_method: 'This is the last way to sign in to this account: set a password or link another provider first.',
  social_identity_not_found: 'No such linked identity.',
  social_grant_unsupported: 'This provider does not accept this kind of request.',
  social_bad_request: 'The request is missing a field or has an invalid one.',
  social_provider_unavailable: 'The sign-in provider is unavailable. Try again shortly.',
};

/** A social-login failure with a stable `code`; `reason` is for logs only and never sent to the client. */
export class SocialError extends Error {
  readonly status: number;
  readonly detail: string;
  constructor(
    readonly code: SocialErrorCode,
    /** What went wrong, for the log (never secrets). */
    readonly reason?: string,
    /** Overrides the default message (e.g. to name the missing field). */
    detail?: string,
  ) {
    super(reason === undefined ? code : `${code}: ${reason}`);
    this.name = 'SocialError';
    this.status = STATUS[code];
    this.detail = detail ?? DETAIL[code];
  }
}

/** The wire answer for a social-login error: simplejwt's body, never cached. */
export function socialErrorResponse(err: SocialError): CoreResponse {
  return { status: err.status, headers: { ...BASE_HEADERS, 'Cache-Control': 'no-store' }, body: { detail: err.detail, code: err.code } };
}
