import { MfaRequired, NotAuthenticated, PermissionDenied, type ApiError } from '../errors.js';
import type { UserRecord } from '../store/types.js';
import type { Authentication, AuthUser } from './authenticate.js';

/**
 * A permission, as DRF's `has_permission`: true to let the request through. Returning false answers 401 for an
 * anonymous request and 403 for an authenticated one, as DRF does.
 */
export type Permission<U = UserRecord> = (auth: Authentication<U> | null) => boolean;

/** DRF's IsAuthenticated. Works for any user type. */
export const isAuthenticated: Permission<unknown> = (auth) => auth !== null;

/** Django admin's rule: an authenticated staff user. Works for store users and stateless `TokenUser`s alike. */
export const isStaff: Permission<{ readonly isStaff: boolean }> = (auth) => auth !== null && auth.user.isStaff;

/**
 * A token from a sign-in that passed a second factor (its `amr` claim holds `mfa`: `@restjwt/mfa`'s login, or a
 * passkey with user verification); otherwise 403 `mfa_required`, so that the client knows to sign in again with it.
 */
export const requireMfa: Permission<unknown> & { refusal: () => ApiError } = Object.assign(
  (auth: Authentication<unknown> | null): boolean => {
    const amr = auth?.token.payload.amr;
    return Array.isArray(amr) && amr.includes('mfa');
  },
  { refusal: (): ApiError => new MfaRequired() },
);

/**
 * Runs permissions in order; throws the right ApiError for the first that refuses: 401 when anonymous, else the
 * permission's own `refusal` (`requireMfa`: 403 `mfa_required`) or 403 `permission_denied`.
 */
export function checkPermissions<U>(auth: Authentication<U> | null, permissions: readonly Permission<U>[]): void {
  for (const permission of permissions) {
    if (permission(auth)) continue;
    if (auth === null) throw new NotAuthenticated();
    const refusal = (permission as { refusal?: () => ApiError }).refusal;
    throw refusal === undefined ? new PermissionDenied() : refusal();
  }
}

/**
 * What every adapter's `guard` takes, after the service: permissions (`guard(restjwt, isStaff)`), or one options
 * object (`guard(restjwt, { stateless: true, permissions: [isStaff] })`). No permissions means `isAuthenticated`;
 * `permissions: []` authenticates without refusing anonymous requests.
 */
export interface GuardOptions<S extends boolean = false> {
  /** Build the user from the token's claims, without reading the store (simplejwt's TokenUser). Default false. */
  stateless?: S;
  /** Default `[isAuthenticated]`. */
  permissions?: readonly Permission<AuthUser<S>>[];
}

/** A guard's arguments: permissions, or one options object. */
export type GuardArgs<S extends boolean = false> = [options: GuardOptions<S>] | Permission<AuthUser<S>>[];

/** What a protected route requires, as `RestJwt.authorize` takes it. */
export interface AccessPolicy<U = UserRecord> {
  readonly stateless: boolean;
  readonly permissions: readonly Permission<U>[];
}

/** Resolves a guard's arguments into the policy `RestJwt.authorize` applies (the defaults live here, once). */
export function accessPolicy<S extends boolean = false>(args: GuardArgs<S> | readonly []): AccessPolicy<AuthUser<S>> {
  const [first] = args;
  if (first !== undefined && typeof first !== 'function') {
    return { stateless: first.stateless === true, permissions: first.permissions ?? [isAuthenticated] };
  }
  const permissions = args as readonly Permission<AuthUser<S>>[];
  return { stateless: false, permissions: permissions.length > 0 ? permissions : [isAuthenticated] };
}

/** The policy of an authentication-only hook: attaches the user, never refuses an anonymous request. */
export function authenticationPolicy<S extends boolean = false>(options: { stateless?: S } = {}): AccessPolicy<AuthUser<S>> {
  return { stateless: options.stateless === true, permissions: [] };
}
