import type { CoreResponse } from '@restjwt/core';
import { BASE_HEADERS } from '@restjwt/core/adapter-kit';

/**
 * The typed errors of the enrolment routes and of passkey sign-in. Each has a stable `code` and HTTP status and
 * renders as the core's error body `{"detail", "code"}`. Where the core already has the error (401 from the access
 * token, 404 `not_found`, 400 field errors, 429, 501 `mfa_unsupported`, the login step's `mfa_code_invalid`) the
 * core's `ApiError` is thrown instead; these are the refusals the core has no word for. Like social login's, they
 * are not `ApiError`s: the core's catalogue is the token endpoints' vocabulary, and these messages (English) live
 * here instead of growing it.
 */

/** Every code an MFA route error can carry. */
export type MfaErrorCode =
  /** A code given to confirm an authenticator app or to remove a factor is wrong, expired or already used (400). */
  | 'mfa_code_rejected'
  /** Recovery codes were asked for by a user with no confirmed factor (400). */
  | 'mfa_no_factor'
  /** The last confirmed factor is being removed without `code` (400). */
  | 'mfa_code_required'
  /** The last factor is a passkey and no recovery code is left to confirm its removal (409). */
  | 'mfa_no_recovery_codes'
  /** A passkey registration failed verification: challenge, origin, RP ID, user verification or format (400). */
  | 'mfa_registration_invalid'
  /** The passkey is already registered (to this user or another) (409). */
  | 'mfa_credential_exists'
  /** A passkey sign-in could not be verified, its `passkey_token` is unknown, used or expired (401). */
  | 'mfa_passkey_invalid';

const STATUS: Readonly<Record<MfaErrorCode, number>> = {
  mfa_code_rejected: 400,
  mfa_no_factor: 400,
  mfa_code_required: 400,
  mfa_no_recovery_codes: 409,
  mfa_registration_invalid: 400,
  mfa_credential_exists: 409,
  mfa_passkey_invalid: 401,
};

const DETAIL: Readonly<Record<MfaErrorCode, string>> = {
  mfa_code_rejected: 'The code is wrong, expired or already used. Enter the current code from your authenticator app (or, where accepted, an unused recovery code).',
  mfa_no_factor: 'Recovery codes need a confirmed second factor first: add an authenticator app (POST /api/mfa/totp/) or a passkey, then generate them.',
  mfa_code_required:
    'This is your last second factor: send "code" (a current code from your authenticator app, or an unused recovery code) to remove it.',
  mfa_no_recovery_codes:
    'This passkey is your last second factor and you have no recovery code to confirm its removal. Generate recovery codes (POST /api/mfa/recovery-codes/) and send one as "code", or add another factor first.',
  mfa_registration_invalid: 'The passkey registration could not be verified. Ask for new registration options and try again.',
  mfa_credential_exists: 'This passkey is already registered. Use it to sign in, or register another authenticator.',
  mfa_passkey_invalid: 'The passkey sign-in could not be verified or has expired. Ask for new options (POST /api/token/passkey/options/) and try again.',
};

/** An MFA route's refusal with a stable `code`; `reason` is for the log only and never sent. */
export class MfaError extends Error {
  readonly status: number;
  readonly detail: string;
  constructor(
    readonly code: MfaErrorCode,
    /** What went wrong, for the log (never a secret, a code or a token). */
    readonly reason?: string,
  ) {
    super(reason === undefined ? code : `${code}: ${reason}`);
    this.name = 'MfaError';
    this.status = STATUS[code];
    this.detail = DETAIL[code];
  }
}

/** The wire answer of an {@link MfaError}: the core's error body, never cached. */
export function mfaErrorResponse(err: MfaError): CoreResponse {
  return { status: err.status, headers: { ...BASE_HEADERS, 'Cache-Control': 'no-store' }, body: { detail: err.detail, code: err.code } };
}
