import { NotAuthenticated, PermissionDenied } from '../errors.js';
import type { UserRecord } from '../store/types.js';
import type { Authentication } from './authenticate.js';

/**
 * A permission, as DRF's `has_permission`: true to let the request through. Returning false answers 401 for an
 * anonymous request and 403 for an authenticated one, as DRF does.
 */
export type Permission<U = UserRecord> = (auth: Authentication<U> | null) => boolean;

/** DRF's IsAuthenticated. */
export const isAuthenticated: Permission = (auth) => auth !== null;

/** Django admin's rule: an authenticated staff user. */
export const isStaff: Permission = (auth) => auth !== null && auth.user.isStaff;

/** Runs permissions in order; throws the right ApiError for the first that refuses. */
export function checkPermissions<U>(auth: Authentication<U> | null, permissions: readonly Permission<U>[]): void {
  for (const permission of permissions) {
    if (!permission(auth)) throw auth === null ? new NotAuthenticated() : new PermissionDenied();
  }
}
