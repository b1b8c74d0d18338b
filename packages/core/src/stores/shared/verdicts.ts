/**
 * What the stores decide, written once: which user changes renew the token version, the family a rotation's
 * successor joins, what a link or an unlink answers, whether a one-time value is still live. Each store supplies the
 * facts from its own tables (read atomically with its write) and applies the verdict.
 */
import { randomBytes, toHex } from '../../bytes.js';
import type { LinkResult, OutstandingToken, RotateOptions, UnlinkOptions, UnlinkResult } from '../../store/types.js';
import { isLastWayToSignIn } from '../../users/sign-in-methods.js';
import type { TimeValue } from './rows.js';
import { toMillis } from './validate.js';

/** A new token version: 128 random bits as 32 hex characters. */
export function newTokenVersion(): string {
  return toHex(randomBytes(16));
}

/** A change to a user, as a store applies it: only the fields that are set change. */
export interface UserChange {
  passwordHash?: string;
  isActive?: boolean;
  /** ms */
  lastLogin?: number;
  tokenVersion?: string;
}

/**
 * The token-version rule of every store that keeps its own version (the Django store's is the md5 of the hash): a
 * new password, a deactivation and a renewal give the user a new `tokenVersion`, so every earlier token stops working
 * where it is checked; a rehash at login, an activation and a login time leave it.
 */
export const userChanges = {
  rehash: (passwordHash: string): UserChange => ({ passwordHash }),
  password: (passwordHash: string): UserChange => ({ passwordHash, tokenVersion: newTokenVersion() }),
  active: (isActive: boolean): UserChange => (isActive ? { isActive } : { isActive, tokenVersion: newTokenVersion() }),
  renewal: (): UserChange => ({ tokenVersion: newTokenVersion() }),
  lastLogin: (at: Date): UserChange => ({ lastLogin: toMillis(at, 'at') }),
};

/**
 * The family a rotation's successor joins: with `inheritFamily`, the presented token's recorded family (`recorded`),
 * else its own, else its jti; without it, the successor's own.
 */
export function successorFamily(presented: OutstandingToken, successor: OutstandingToken, options: RotateOptions, recorded: string | null | undefined): string | null {
  return options.inheritFamily === true ? (recorded ?? presented.familyId ?? presented.jti) : successor.familyId;
}

/**
 * What `linkIdentity` answers once its insert-if-absent ran: the owner the row has now decides, and whether this
 * call's insert created it. `owner` undefined means no row (the user does not exist, so nothing could be linked).
 */
export function linkResult(owner: string | number | bigint | undefined, userId: string, inserted: boolean): LinkResult {
  if (owner === undefined) throw new RangeError(`Cannot link an identity to user ${JSON.stringify(userId)}: there is no such user`);
  if (String(owner) !== userId) return 'linked_to_other_user';
  return inserted ? 'linked' : 'already_linked';
}

/**
 * What `unlinkIdentity` may do, read where the store holds the user still (a transaction with the user row locked, or
 * no await in between): `remove`, or the answer that removes nothing. `passwordHash` is null when there is no user.
 */
export function unlinkVerdict(
  passwordHash: string | null,
  identities: readonly { provider: string; subject: string }[],
  provider: string,
  subject: string,
  options: UnlinkOptions | undefined,
): 'remove' | Exclude<UnlinkResult, 'unlinked'> {
  if (!identities.some((i) => i.provider === provider && i.subject === subject)) return 'not_found';
  if (options?.keepLastWayToSignIn === true && isLastWayToSignIn({ passwordHash: passwordHash ?? '' }, identities.length)) return 'last_login_method';
  return 'remove';
}

/** A one-time value is usable while `now` is before its expiry. */
export function isOneTimeLive(expiresAt: TimeValue, now: number): boolean {
  return new Date(expiresAt).getTime() > now;
}
