import type { PasswordHasher } from '../passwords/index.js';
import type { Audited, Store } from '../store/types.js';

/** What user management needs: a `RestJwt` fits, or any `{ store, hasher }`. */
export interface UserAdmin {
  readonly store: Store;
  readonly hasher: PasswordHasher;
}

/**
 * Sets a new password and ends every session of the user: the hash and a new token version (`setPassword`), then
 * every outstanding refresh/sliding token blacklisted (`revokeUser`). Returns the number of tokens revoked. The
 * audit event (`password_changed`), if given, is written with the new password.
 */
export async function changePassword(admin: UserAdmin, userId: string, newPassword: string, audit: Audited = {}): Promise<number> {
  await admin.store.setPassword(userId, await admin.hasher.hash(newPassword), audit);
  return admin.store.revokeUser(userId);
}

/**
 * Deactivates the user and ends every session: `setActive(false)` (which renews the token version), then every
 * outstanding refresh/sliding token blacklisted. Returns the number of tokens revoked.
 */
export async function deactivateUser(admin: Pick<UserAdmin, 'store'>, userId: string): Promise<number> {
  await admin.store.setActive(userId, false);
  return admin.store.revokeUser(userId);
}
