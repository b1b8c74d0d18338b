/**
 * Rows as the SQL-backed stores read them, and the contract's records made from them, written once: string ids,
 * Date times, booleans. Each database hands back its own forms (an id as a number, bigint or text; a time as ms,
 * text or a Date; a flag as 0/1 or a boolean), and these accept them all.
 */
import type { BlacklistPage, LinkedIdentity, OutstandingState, SessionRecord, TokenKindName, TokenListing, UserRecord } from '../../store/types.js';

/** A time as a driver returns it: ms since the epoch, ISO text, or a Date. */
export type TimeValue = number | string | Date;
/** An integer key as a driver returns it. */
type IdValue = string | number | bigint;

/** A user row (`restjwt_user`, or Django's `auth_user` with its revoke claim as `token_version`). */
export interface UserRow {
  id: IdValue;
  username: string;
  email: string;
  password: string;
  is_active: boolean | number;
  is_staff: boolean | number;
  last_login: TimeValue | null;
  date_joined: TimeValue;
  token_version: string;
}

/** A user record of its own (its dates too), for a store that hands out what it keeps. */
export function copyUser(user: UserRecord): UserRecord {
  return { ...user, lastLogin: user.lastLogin === null ? null : new Date(user.lastLogin.getTime()), dateJoined: new Date(user.dateJoined.getTime()) };
}

/** The contract's view of a user row. */
export function userFromRow(row: UserRow): UserRecord {
  return {
    id: String(row.id),
    username: row.username,
    email: row.email,
    passwordHash: row.password,
    isActive: Boolean(row.is_active),
    isStaff: Boolean(row.is_staff),
    lastLogin: row.last_login === null ? null : new Date(row.last_login),
    dateJoined: new Date(row.date_joined),
    tokenVersion: row.token_version,
  };
}

/** An outstanding-token row joined with its blacklist row. */
export interface OutstandingStateRow {
  jti: string;
  user_id: IdValue | null;
  token_type: TokenKindName;
  family_id: string | null;
  created_at: TimeValue;
  expires_at: TimeValue;
  blacklisted_at: TimeValue | null;
  replaced_by: string | null;
}

/** The contract's view of such a row. */
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

/** An outstanding-token row with its user's name, for `listTokens`. */
export interface TokenListingRow extends OutstandingStateRow {
  username: string | null;
}

export function tokenListingFromRow(row: TokenListingRow): TokenListing {
  return { ...outstandingStateFromRow(row), username: row.username };
}

/** A blacklisted token, as `listBlacklisted` reads it: `id` is its position in cursor order. */
export interface BlacklistedRow {
  id: IdValue;
  jti: string;
  expires_at: TimeValue;
}

/** A `listBlacklisted` page from rows in cursor order: when the page is full, its last row's id is the next cursor. */
export function blacklistPage(rows: readonly BlacklistedRow[], limit: number): BlacklistPage {
  const last = rows.at(-1);
  return {
    entries: rows.map((row) => ({ jti: row.jti, expiresAt: new Date(row.expires_at) })),
    next: rows.length === limit && last !== undefined ? String(last.id) : null,
  };
}

/** A session row with its family's aggregates (`active` as 0/1, boolean or text). */
export interface SessionRow {
  family_id: string;
  user_id: IdValue;
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

/** A linked-identity row. */
export interface IdentityRow {
  provider: string;
  subject: string;
  user_id: IdValue;
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
