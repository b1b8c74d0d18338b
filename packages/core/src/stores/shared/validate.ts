/**
 * Value checks every store applies at its boundary, written once: dates, lengths, user ids, paging, and the session
 * metadata a login or refresh reports.
 */
import type { BlacklistSource, RotateOptions, SessionUse } from '../../store/types.js';

/** Milliseconds of a Date, refusing an invalid one with a message naming the field. */
export function toMillis(date: Date, what: string): number {
  const ms = date instanceof Date ? date.getTime() : Number.NaN;
  if (Number.isNaN(ms)) throw new RangeError(`${what} must be a valid Date`);
  return ms;
}

/** Refuses a value longer than its column, before anything is written. */
export function checkLength(value: string, max: number, what: string): void {
  if (value.length > max) throw new RangeError(`${what} is longer than ${max} characters`);
}

// --- user ids ---------------------------------------------------------------------------------------------------

/** Canonical decimal: no sign, no leading zero. */
const CANONICAL = /^(0|[1-9][0-9]*)$/;
const DIGITS = /^[0-9]+$/;
/** Canonical decimal within BIGINT (at most 18 digits). */
const BIGINT_ID = /^(0|[1-9][0-9]{0,17})$/;

/** Which ids an integer key can hold. */
export interface IdRule {
  /** Default 0. */
  min?: number;
  /** Default `Number.MAX_SAFE_INTEGER`. */
  max?: number;
  /** Read "007" as 7 (as Django's own lookups do); default false: only canonical decimals name a row. */
  leadingZeros?: boolean;
}

/**
 * The user-id reader of a store with an integer key: the key an id names, or null when no row can have it (the
 * store then answers "no such user" without asking the database).
 */
export function integerIdParser(rule: IdRule = {}): (id: string | null) => number | null {
  const { min = 0, max = Number.MAX_SAFE_INTEGER, leadingZeros = false } = rule;
  const pattern = leadingZeros ? DIGITS : CANONICAL;
  const maxLength = String(max).length;
  return (id) => {
    if (id === null || id.length > maxLength || !pattern.test(id)) return null;
    const n = Number(id);
    return n >= min && n <= max ? n : null;
  };
}

/** A user id for a BIGINT key, as text (a number would round beyond 2^53), or null when no row can have it. */
export function bigintId(id: string): string | null {
  return BIGINT_ID.test(id) ? id : null;
}

// --- paging -----------------------------------------------------------------------------------------------------

/** `listUsers` paging, validated: non-negative integers, offset 0 by default. */
export function checkPage(options: { limit?: number; offset?: number }): { limit: number | undefined; offset: number } {
  const { limit, offset = 0 } = options;
  if (limit !== undefined && (!Number.isInteger(limit) || limit < 0)) {
    throw new RangeError(`limit must be a non-negative integer, got ${String(limit)}`);
  }
  if (!Number.isInteger(offset) || offset < 0) throw new RangeError(`offset must be a non-negative integer, got ${String(offset)}`);
  return { limit, offset };
}

/** `listTokens` page size when none is given. */
export const DEFAULT_TOKEN_LISTING_LIMIT = 100;
/** The largest `listTokens` page; a larger `limit` is lowered to it, so one admin request stays cheap. */
export const MAX_TOKEN_LISTING_LIMIT = 1000;

/** `listTokens` paging, validated: limit 100 by default and at most 1000, offset 0 by default. */
export function checkTokenListing(options: { limit?: number; offset?: number }): { limit: number; offset: number } {
  const { limit, offset } = checkPage(options);
  return { limit: Math.min(limit ?? DEFAULT_TOKEN_LISTING_LIMIT, MAX_TOKEN_LISTING_LIMIT), offset };
}

/** `listBlacklisted`'s page size when none is given. */
const DEFAULT_BLACKLIST_PAGE = 1000;

/** A `listBlacklisted` call, validated (see {@link checkBlacklistListing}). */
export interface BlacklistListing<Cursor> {
  limit: number;
  /** The position after which the page starts; null for the first page. */
  cursor: Cursor | null;
  /** `expiresAfter` in ms, when given. */
  after: number | undefined;
  /** `expiresBefore` in ms, when given. */
  before: number | undefined;
}

/**
 * `listBlacklisted`'s options, validated: a positive page size (default 1000), the cursor as `parseCursor` reads
 * the store's own `next` (null: not one), and the expiry bounds.
 */
export function checkBlacklistListing<Cursor>(
  options: Parameters<BlacklistSource['listBlacklisted']>[0],
  parseCursor: (cursor: string) => Cursor | null,
): BlacklistListing<Cursor> {
  const limit = options.limit ?? DEFAULT_BLACKLIST_PAGE;
  if (!Number.isInteger(limit) || limit < 1) throw new RangeError(`limit must be a positive integer, got ${String(options.limit)}`);
  const raw = options.cursor ?? null;
  const cursor = raw === null ? null : parseCursor(raw);
  if (raw !== null && cursor === null) throw new RangeError('cursor must be the `next` of a previous page');
  return {
    limit,
    cursor,
    after: options.expiresAfter === undefined ? undefined : toMillis(options.expiresAfter, 'expiresAfter'),
    before: options.expiresBefore === undefined ? undefined : toMillis(options.expiresBefore, 'expiresBefore'),
  };
}

// --- session metadata -------------------------------------------------------------------------------------------

/** The longest client address kept with a session (an IPv6 address with a zone id fits). */
export const MAX_CLIENT_ADDRESS = 255;
/** The longest User-Agent kept with a session. */
export const MAX_USER_AGENT = 512;

/** A {@link SessionUse} as the stores write it: time in ms, address and user agent clipped to their columns. */
export interface SessionUseValues {
  familyId: string;
  at: number;
  clientAddress: string | null;
  userAgent: string | null;
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

/** A rotation's `requestUse` as values, validated before anything is written; its `familyId` is filled in once known. */
export function requestUseValues(options: RotateOptions): SessionUseValues | null {
  return options.requestUse === undefined ? null : sessionUseValues({ ...options.requestUse, familyId: '' });
}

function clip(value: string | null, max: number): string | null {
  return value === null || value === '' ? null : value.slice(0, max);
}
