/**
 * Value checks every store applies at its boundary, written once: dates, paging, token versions, flush batches, and
 * the row conversions of the optional capabilities (sessions, identities, one-time values).
 */
import { randomBytes } from 'node:crypto';
import { setImmediate as nextTurn } from 'node:timers/promises';
import type {
  LinkedIdentity,
  LinkResult,
  OutstandingState,
  OutstandingToken,
  RotateOptions,
  SessionRecord,
  SessionUse,
  TokenKindName,
  TokenListing,
  UnlinkOptions,
  UnlinkResult,
} from '../../core/store/types.js';
import { isLastWayToSignIn } from '../../core/users/sign-in-methods.js';

/** Rows `flushExpired` deletes per transaction unless told otherwise. */
export const DEFAULT_FLUSH_BATCH_SIZE = 1000;

/** Milliseconds of a Date, refusing an invalid one with a message naming the field. */
export function toMillis(date: Date, what: string): number {
  const ms = date instanceof Date ? date.getTime() : Number.NaN;
  if (Number.isNaN(ms)) throw new RangeError(`${what} must be a valid Date`);
  return ms;
}

/** `listUsers` paging, validated: non-negative integers, offset 0 by default. */
export function checkPage(options: { limit?: number; offset?: number }): { limit: number | undefined; offset: number } {
  const { limit, offset = 0 } = options;
  if (limit !== undefined && (!Number.isInteger(limit) || limit < 0)) {
    throw new RangeError(`limit must be a non-negative integer, got ${String(limit)}`);
  }
  if (!Number.isInteger(offset) || offset < 0) throw new RangeError(`offset must be a non-negative integer, got ${String(offset)}`);
  return { limit, offset };
}

/** A new token version: 128 random bits as 32 hex characters. */
export function newTokenVersion(): string {
  return randomBytes(16).toString('hex');
}

/** An outstanding-token row joined with its blacklist row, as the SQL stores read it (times as ms, Date or text). */
export interface OutstandingStateRow {
  jti: string;
  user_id: string | number | bigint | null;
  token_type: TokenKindName;
  family_id: string | null;
  created_at: number | string | Date;
  expires_at: number | string | Date;
  blacklisted_at: number | string | Date | null;
  replaced_by: string | null;
}

/** The contract's view of such a row: string ids, Date times. */
export function outstandingStateFromRow(row: OutstandingStateRow): OutstandingState {
  return {
    jti: row.jti,
    userId: row.user_id === null ? null : String(row.user_id),
    tokenType: row.token_type,
    familyId: row.family_id,
    createdAt: new Date(row.created_at),
    expiresAt: new Date(row.expires_at),
    blacklistedAt: row.blacklisted_at === null ? null : new Date(row.blacklisted_at),
    replacedBy: row.replaced_by,
  };
}

/** `flushExpired`'s batch size, validated (default {@link DEFAULT_FLUSH_BATCH_SIZE}). */
export function checkBatchSize(options: { batchSize?: number }): number {
  const batchSize = options.batchSize ?? DEFAULT_FLUSH_BATCH_SIZE;
  if (!Number.isInteger(batchSize) || batchSize < 1) {
    throw new RangeError(`batchSize must be a positive integer, got ${String(options.batchSize)}`);
  }
  return batchSize;
}

/**
 * `flushExpired`'s loop, for every store: runs `deleteBatch` (one transaction deleting at most `batchSize` rows) until
 * a batch comes back short, reports the running total, and lets queued requests run between batches so that a large
 * flush never stalls the server.
 */
export async function deleteInBatches(
  batchSize: number,
  onProgress: ((p: { deleted: number }) => void) | undefined,
  deleteBatch: () => Promise<number>,
): Promise<number> {
  let total = 0;
  for (;;) {
    const deleted = await deleteBatch();
    if (deleted === 0) break;
    total += deleted;
    onProgress?.({ deleted: total });
    if (deleted < batchSize) break;
    await nextTurn();
  }
  return total;
}

// --- sessions, token listings, identities, one-time values (the optional capabilities) ------------------------------

/** `listTokens` page size when none is given. */
export const DEFAULT_TOKEN_LISTING_LIMIT = 100;
/** The largest `listTokens` page; a larger `limit` is lowered to it, so one admin request stays cheap. */
export const MAX_TOKEN_LISTING_LIMIT = 1000;
/** The longest client address kept with a session (an IPv6 address with a zone id fits). */
export const MAX_CLIENT_ADDRESS = 255;
/** The longest User-Agent kept with a session. */
export const MAX_USER_AGENT = 512;

/** `listTokens` paging, validated: limit 100 by default and at most 1000, offset 0 by default. */
export function checkTokenListing(options: { limit?: number; offset?: number }): { limit: number; offset: number } {
  const { limit, offset } = checkPage(options);
  return { limit: Math.min(limit ?? DEFAULT_TOKEN_LISTING_LIMIT, MAX_TOKEN_LISTING_LIMIT), offset };
}

/** A {@link SessionUse} as the stores write it: time in ms, address and user agent clipped to their columns. */
export interface SessionUseValues {
  familyId: string;
  at: number;
  clientAddress: string | null;
  userAgent: string | null;
}

/**
 * The family a rotation's successor joins: with `inheritFamily`, the presented token's recorded family (`recorded`),
 * else its own, else its jti; without it, the successor's own.
 */
export function successorFamily(presented: OutstandingToken, successor: OutstandingToken, options: RotateOptions, recorded: string | null | undefined): string | null {
  return options.inheritFamily === true ? (recorded ?? presented.familyId ?? presented.jti) : successor.familyId;
}

/** A rotation's `sessionUse`, validated before anything is written; its `familyId` is filled in once known. */
export function rotationUse(options: RotateOptions): SessionUseValues | null {
  return options.sessionUse === undefined ? null : sessionUseValues({ ...options.sessionUse, familyId: '' });
}

/** Validates and clips a session use; metadata too long is cut rather than refused, as it only informs the admin page. */
export function sessionUseValues(use: SessionUse): SessionUseValues {
  return {
    familyId: use.familyId,
    at: toMillis(use.at, 'at'),
    clientAddress: clip(use.clientAddress, MAX_CLIENT_ADDRESS),
    userAgent: clip(use.userAgent, MAX_USER_AGENT),
  };
}

function clip(value: string | null, max: number): string | null {
  return value === null || value === '' ? null : value.slice(0, max);
}

type TimeValue = number | string | Date;

/** A session row with its family's aggregates, as the SQL stores read it (`active` as 0/1, boolean or text). */
export interface SessionRow {
  family_id: string;
  user_id: string | number | bigint;
  created_at: TimeValue;
  last_used_at: TimeValue;
  client_address: string | null;
  user_agent: string | null;
  /** The latest `expires_at` of the family's tokens; null when it has none left. */
  expires_at: TimeValue | null;
  active: boolean | number | string | bigint | null;
}

/** The contract's view of a session row. A family without tokens left is ended, "expiring" at its last use. */
export function sessionFromRow(row: SessionRow): SessionRecord {
  const lastUsedAt = new Date(row.last_used_at);
  return {
    familyId: row.family_id,
    userId: String(row.user_id),
    createdAt: new Date(row.created_at),
    lastUsedAt,
    clientAddress: row.client_address,
    userAgent: row.user_agent,
    expiresAt: row.expires_at === null ? new Date(lastUsedAt.getTime()) : new Date(row.expires_at),
    active: row.active !== null && Number(row.active) === 1,
  };
}

/** An outstanding-token row with its user's name, for `listTokens`. */
export interface TokenListingRow extends OutstandingStateRow {
  username: string | null;
}

export function tokenListingFromRow(row: TokenListingRow): TokenListing {
  return { ...outstandingStateFromRow(row), username: row.username };
}

/** A linked-identity row as the SQL stores read it. */
export interface IdentityRow {
  provider: string;
  subject: string;
  user_id: string | number | bigint;
  email: string | null;
  created_at: TimeValue;
  last_used_at: TimeValue;
}

export function identityFromRow(row: IdentityRow): LinkedIdentity {
  return {
    provider: row.provider,
    subject: row.subject,
    userId: String(row.user_id),
    email: row.email,
    createdAt: new Date(row.created_at),
    lastUsedAt: new Date(row.last_used_at),
  };
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

