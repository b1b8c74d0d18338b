import type { Message } from './i18n/translate.js';
import type { MessageKey } from './i18n/catalogue.js';

/**
 * Typed errors with stable codes. Every error that reaches a client is an `ApiError`: it knows its HTTP status,
 * its wire `code` and its message key; `renderError` (http/render-error.ts) is the one place that turns it into a body.
 */

/** Raised while validating a token (inside token classes); handlers wrap it into the right `ApiError`. */
export class TokenError extends Error {
  readonly code = 'token_not_valid';
  constructor(readonly msg: Message) {
    super(msg.key);
    this.name = 'TokenError';
  }
}

/** One entry of the `messages` array of "Given token not valid for any token type". */
export interface TokenClassFailure {
  tokenClass: string;
  tokenType: string | null;
  message: Message;
}

/**
 * Every `code` an `ApiError` can carry on the wire, so that `switch (err.code)` over an `ApiError` is checked by the
 * compiler. The admin API's four codes are listed here because its errors are `ApiError`s whose messages live in
 * the core's catalogue; social login's codes are its own (`SocialErrorCode`).
 */
export type ApiErrorCode =
  | 'token_not_valid'
  | AuthenticationFailedCode
  | 'duplicate_authorization_header'
  | 'not_authenticated'
  | 'permission_denied'
  | 'invalid'
  | 'parse_error'
  | 'unsupported_media_type'
  | 'method_not_allowed'
  | 'request_too_large'
  | 'headers_too_large'
  | 'malformed_request'
  | 'not_found'
  | ServiceUnavailableCode
  | 'csrf_failed'
  | 'throttled'
  | 'cannot_deactivate_self'
  | 'last_login_method'
  | 'sessions_unsupported'
  | 'identities_unsupported'
  | 'audit_unsupported'
  | 'mfa_token_invalid'
  | 'mfa_code_invalid'
  | 'mfa_required'
  | 'mfa_unsupported';

/** Base of every error with a wire representation. */
export abstract class ApiError extends Error {
  abstract readonly status: number;
  /** Stable machine-readable code, sent as `code`. */
  abstract readonly code: ApiErrorCode;
  /** Whether a 401 carries `WWW-Authenticate`. */
  readonly challenge: boolean = false;
  extraHeaders?: Record<string, string>;
  constructor(readonly detail: Message) {
    super(detail.key);
    this.name = new.target.name;
  }
}

/** 401 `token_not_valid`, optionally with per-token-class `messages`. */
export class InvalidToken extends ApiError {
  readonly status = 401;
  readonly code = 'token_not_valid';
  override readonly challenge = true;
  constructor(detail: Message, readonly failures?: readonly TokenClassFailure[]) {
    super(detail);
  }
}

export type AuthenticationFailedCode =
  | 'no_active_account'
  | 'user_not_found'
  | 'user_inactive'
  | 'password_changed'
  | 'bad_authorization_header'
  | 'authentication_failed';

/** 401 with one of simplejwt's authentication codes. */
export class AuthenticationFailed extends ApiError {
  readonly status = 401;
  override readonly challenge = true;
  constructor(readonly code: AuthenticationFailedCode, detail: Message = { key: code as MessageKey }) {
    super(detail);
  }
}

/**
 * 400 `duplicate_authorization_header`: the configured auth header came more than once (two field lines, or copies
 * joined by commas as web `Headers` and proxies join them) and one copy names a configured type. Which copy counts
 * would depend on who reads the request, so none does. No challenge: re-sending credentials would not help.
 */
export class DuplicateAuthorizationHeader extends ApiError {
  readonly status = 400;
  readonly code = 'duplicate_authorization_header';
  constructor() {
    super({ key: 'duplicate_authorization_header' });
  }
}

/** 401 for an anonymous request to a protected route. */
export class NotAuthenticated extends ApiError {
  readonly status = 401;
  readonly code = 'not_authenticated';
  override readonly challenge = true;
  constructor() {
    super({ key: 'not_authenticated' });
  }
}

/** 403: authenticated but not allowed (a permission such as `isStaff` said no). */
export class PermissionDenied extends ApiError {
  readonly status = 403;
  readonly code = 'permission_denied';
  constructor(detail: Message = { key: 'permission_denied' }) {
    super(detail);
  }
}

/**
 * 400 with Django REST framework's field-error shape: `{"field": ["message", …]}` (and `non_field_errors`).
 * The body is the field map itself, as simplejwt's clients expect.
 */
export class ValidationError extends ApiError {
  readonly status = 400;
  readonly code = 'invalid';
  constructor(readonly fields: Readonly<Record<string, readonly Message[]>>) {
    super(Object.values(fields)[0]?.[0] ?? { key: 'no_data' });
  }
}

/** 400 for a body that is not parseable. */
export class ParseError extends ApiError {
  readonly status = 400;
  readonly code = 'parse_error';
  constructor(reason: string) {
    super({ key: 'parse_error', params: { reason } });
  }
}

export class UnsupportedMediaType extends ApiError {
  readonly status = 415;
  readonly code = 'unsupported_media_type';
  constructor(type: string) {
    super({ key: 'unsupported_media_type', params: { type } });
  }
}

export class MethodNotAllowed extends ApiError {
  readonly status = 405;
  readonly code = 'method_not_allowed';
  constructor(method: string, readonly allow: readonly string[]) {
    super({ key: 'method_not_allowed', params: { method } });
    this.extraHeaders = { Allow: allow.join(', ') };
  }
}

export class PayloadTooLarge extends ApiError {
  readonly status = 413;
  readonly code = 'request_too_large';
  constructor(limit: number) {
    super({ key: 'request_too_large', params: { limit } });
  }
}

/** The request's headers exceed the HTTP server's limit (Node's `maxHeaderSize`); answered before any route runs. */
export class HeadersTooLarge extends ApiError {
  readonly status = 431;
  readonly code = 'headers_too_large';
  constructor(limit: number) {
    super({ key: 'headers_too_large', params: { limit } });
  }
}

/** The HTTP parser could not read the request at all (a bad request line, an invalid header); before any route runs. */
export class MalformedRequest extends ApiError {
  readonly status = 400;
  readonly code = 'malformed_request';
  constructor() {
    super({ key: 'malformed_request' });
  }
}

export class NotFound extends ApiError {
  readonly status = 404;
  readonly code = 'not_found';
  constructor() {
    super({ key: 'not_found' });
  }
}

export type ServiceUnavailableCode = 'store_unavailable' | 'signing_disabled';

/** 503: a dependency (the store) cannot answer; nothing was issued or changed. */
export class ServiceUnavailable extends ApiError {
  readonly status = 503;
  readonly code: ServiceUnavailableCode;
  constructor(code: ServiceUnavailableCode, retryAfterSeconds?: number) {
    super({ key: code });
    this.code = code;
    if (retryAfterSeconds !== undefined) this.extraHeaders = { 'Retry-After': String(retryAfterSeconds) };
  }
}

/** 403: a cookie-authenticated unsafe request without a valid CSRF token or from an untrusted origin. */
export class CsrfFailed extends ApiError {
  readonly status = 403;
  readonly code = 'csrf_failed';
  constructor(detail: Message & { key: 'csrf_token_missing' | 'csrf_origin' }) {
    super(detail);
  }
}

/** 429 with Retry-After: too many failed logins. The same answer whether or not the user exists. */
export class Throttled extends ApiError {
  readonly status = 429;
  readonly code = 'throttled';
  constructor(readonly retryAfterSeconds: number) {
    super({ key: 'throttled', params: { wait: retryAfterSeconds } });
    this.extraHeaders = { 'Retry-After': String(retryAfterSeconds) };
  }
}

/**
 * 401 `mfa_token_invalid`: the `mfa_token` of a second-factor step is unknown, used, expired or spent on too many
 * wrong codes. Nothing is issued; the user signs in again with the password.
 */
export class MfaTokenInvalid extends ApiError {
  readonly status = 401;
  readonly code = 'mfa_token_invalid';
  constructor() {
    super({ key: 'mfa_token_invalid' });
  }
}

/** 401 `mfa_code_invalid`: the code, recovery code or passkey assertion of a second-factor step was refused. */
export class MfaCodeInvalid extends ApiError {
  readonly status = 401;
  readonly code = 'mfa_code_invalid';
  /** Why, for the audit log and the logs (never sent: every refusal reads the same). */
  constructor(readonly reason: string = 'code_invalid') {
    super({ key: 'mfa_code_invalid' });
  }
}

/** 403 `mfa_required`: the route needs a token from a sign-in with a second factor (`requireMfa`). */
export class MfaRequired extends ApiError {
  readonly status = 403;
  readonly code = 'mfa_required';
  constructor() {
    super({ key: 'mfa_required' });
  }
}

/** 501 `mfa_unsupported`: second factors are off, or the store keeps none (the Django shared-database store). */
export class MfaUnsupported extends ApiError {
  readonly status = 501;
  readonly code = 'mfa_unsupported';
  constructor() {
    super({ key: 'mfa_unsupported' });
  }
}

/** Raised at start-up for settings or keys that cannot work; the message says what to change. */
export class ConfigurationError extends Error {
  readonly code = 'improperly_configured';
  constructor(message: string) {
    super(message);
    this.name = 'ConfigurationError';
  }
}

/**
 * A stored password hash that this runtime cannot check: an argon2 hash where no native module loads (Cloudflare
 * Workers), a pbkdf2_sha256 hash of more iterations than the platform derives. It says nothing about the password,
 * so a login meeting it fails as a logged server error rather than as a wrong password (which would lock the user out
 * with no trace of why). The message names the format and what to do, never the hash.
 */
export class PasswordHashUnsupportedError extends ConfigurationError {
  constructor(
    /** The stored hash's format: `argon2`, `pbkdf2_sha256`. */
    readonly format: string,
    message: string,
    cause?: unknown,
  ) {
    super(`restjwt: ${message}`);
    this.name = 'PasswordHashUnsupportedError';
    if (cause !== undefined) this.cause = cause;
  }
}

/**
 * No key to sign or verify with. Its message names the library's options (`settings.signingKey`, …); the CLI, whose
 * users set `RESTJWT_SIGNING_KEY` instead, words it for them from {@link MissingKeyError.algorithm}.
 */
export class MissingKeyError extends ConfigurationError {
  constructor(
    message: string,
    /** The algorithm that needs the key. */
    readonly algorithm: string,
  ) {
    super(message);
    this.name = 'MissingKeyError';
  }
}
