import type { AdminMessage } from './messages.js';

/** Stable `code`s of the admin API's own errors (the core's `not_found`, `permission_denied`, … are used as they are). */
export type AdminErrorCode = 'invalid' | 'cannot_deactivate_self' | 'last_login_method' | 'sessions_unsupported' | 'identities_unsupported';

/**
 * An error of the admin API. Not an `ApiError`: its messages are not in the token endpoints' catalogue, so it is
 * rendered by `adminErrorResponse` (`./http.ts`), never by the core's `renderError`.
 */
export class AdminError extends Error {
  constructor(
    readonly status: 400 | 501,
    readonly code: AdminErrorCode,
    readonly detail: AdminMessage,
    /** DRF field errors: present for `invalid` only, rendered as the body itself (`{"field": ["message"]}`). */
    readonly fields?: Readonly<Record<string, readonly AdminMessage[]>>,
  ) {
    super(detail.key);
    this.name = 'AdminError';
  }
}

/** 400 with DRF's field-error body. */
export class AdminValidationError extends AdminError {
  constructor(fields: Readonly<Record<string, readonly AdminMessage[]>>) {
    super(400, 'invalid', Object.values(fields)[0]?.[0] ?? { key: 'no_data' }, fields);
  }
}

/** 400: a staff user asked to deactivate their own account (they would lock themselves out mid-request). */
export class CannotDeactivateSelf extends AdminError {
  constructor() {
    super(400, 'cannot_deactivate_self', { key: 'cannot_deactivate_self' });
  }
}

/**
 * 400: unlinking would leave the user no way to sign in — no usable password and no other linked identity (the rule
 * social login's own unlink applies: `isLastWayToSignIn`). Setting a password first lifts it.
 */
export class LastLoginMethod extends AdminError {
  constructor() {
    super(400, 'last_login_method', { key: 'last_login_method' });
  }
}

/** 501: the store lacks the optional `SessionStore` capability (sessions and token listings). */
export class SessionsUnsupported extends AdminError {
  constructor() {
    super(501, 'sessions_unsupported', { key: 'sessions_unsupported' });
  }
}

/** 501: the store lacks the optional `IdentityStore` capability (linked social-login identities). */
export class IdentitiesUnsupported extends AdminError {
  constructor() {
    super(501, 'identities_unsupported', { key: 'identities_unsupported' });
  }
}
