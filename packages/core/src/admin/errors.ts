/**
 * The admin API's own errors: core `ApiError`s (their messages are in the core's catalogue), so the one renderer
 * (`renderError`, through `RestJwt.errorResponse`) answers them like every other error. Invalid input is the core's
 * `ValidationError` (400 `invalid`, DRF's field map); `not_found`, `permission_denied`, … are the core's as they are.
 */
import { ApiError, type ApiErrorCode } from '../errors.js';

/** Stable `code`s of the admin API's own errors (besides the core's). */
export type AdminErrorCode = Extract<ApiErrorCode, 'cannot_deactivate_self' | 'last_login_method' | 'sessions_unsupported' | 'identities_unsupported' | 'audit_unsupported'>;

/** 400: a staff user asked to deactivate their own account (they would lock themselves out mid-request). */
export class CannotDeactivateSelf extends ApiError {
  readonly status = 400;
  readonly code = 'cannot_deactivate_self';
  constructor() {
    super({ key: 'cannot_deactivate_self' });
  }
}

/**
 * 400: unlinking would leave the user no way to sign in — no usable password and no other linked identity (the rule
 * social login's own unlink applies: `isLastWayToSignIn`). Setting a password first lifts it.
 */
export class LastLoginMethod extends ApiError {
  readonly status = 400;
  readonly code = 'last_login_method';
  constructor() {
    super({ key: 'last_login_method' });
  }
}

/** 501: the store lacks the optional `SessionStore` capability (sessions and token listings). */
export class SessionsUnsupported extends ApiError {
  readonly status = 501;
  readonly code = 'sessions_unsupported';
  constructor() {
    super({ key: 'sessions_unsupported' });
  }
}

/** 501: the store lacks the optional `IdentityStore` capability (linked social-login identities). */
export class IdentitiesUnsupported extends ApiError {
  readonly status = 501;
  readonly code = 'identities_unsupported';
  constructor() {
    super({ key: 'identities_unsupported' });
  }
}

/** 501: the store lacks the optional `AuditStore` capability (the audit log). */
export class AuditUnsupported extends ApiError {
  readonly status = 501;
  readonly code = 'audit_unsupported';
  constructor() {
    super({ key: 'audit_unsupported' });
  }
}
