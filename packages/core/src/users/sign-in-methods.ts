import type { UserRecord } from '../store/types.js';

/**
 * The ways a user can sign in: a usable password, and each linked social identity. One rule, shared by social
 * login's own unlink (`accounts.ts` in `@restjwt/social`) and the admin's (`admin/identities.ts`).
 */

/** An empty hash is "no usable password"; so is Django's unusable marker (`!…`, `set_unusable_password()`). */
export function hasUsablePassword(user: Pick<UserRecord, 'passwordHash'>): boolean {
  return user.passwordHash !== '' && !user.passwordHash.startsWith('!');
}

/**
 * Whether unlinking one of the user's `identityCount` linked identities would leave no way to sign in: no usable
 * password and no other identity.
 */
export function isLastWayToSignIn(user: Pick<UserRecord, 'passwordHash'>, identityCount: number): boolean {
  return !hasUsablePassword(user) && identityCount <= 1;
}
