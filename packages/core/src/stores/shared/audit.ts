/**
 * The audit log's rules every store applies, written once: an event's values as the stores write them (checked,
 * clipped to their columns, the detail as JSON), a query and a count range validated, and the record made from a row.
 */
import { AUDIT_EVENT_TYPES, type AuditCount, type AuditEvent, type AuditEventType, type AuditQuery, type AuditRecord, type AuditPage } from '../../store/types.js';
import { MAX_CLIENT_ADDRESS, MAX_USER_AGENT, toMillis } from './validate.js';
import type { TimeValue } from './rows.js';

/** The longest username kept (Django's `username` column). */
export const MAX_AUDIT_USERNAME = 150;
/** The longest string value in an event's detail. */
const MAX_DETAIL_STRING = 200;
const MAX_DETAIL_KEYS = 16;
/** `listAudit`'s page size when none is given, and its largest. */
export const DEFAULT_AUDIT_PAGE = 50;
export const MAX_AUDIT_PAGE = 500;

const TYPES: ReadonlySet<string> = new Set(AUDIT_EVENT_TYPES);

/** True when `type` names an audit event type. */
export function isAuditEventType(type: unknown): type is AuditEventType {
  return typeof type === 'string' && TYPES.has(type);
}

/** An {@link AuditEvent} as a store writes it: time in ms, ids as text, strings clipped, the detail as JSON text. */
export interface AuditValues {
  type: AuditEventType;
  at: number;
  userId: string | null;
  username: string | null;
  actorId: string | null;
  familyId: string | null;
  clientAddress: string | null;
  userAgent: string | null;
  /** JSON object text. */
  detail: string;
}

/**
 * Validates `event` before anything is written (an unknown type or an invalid date is a bug: RangeError) and clips
 * what only informs (usernames, addresses, user agents, detail strings), so that a long header never fails a login.
 * Called before the change, so that a bad event changes nothing.
 */
export function auditValues(event: AuditEvent): AuditValues {
  if (!isAuditEventType(event.type)) throw new RangeError(`audit event type ${JSON.stringify(event.type)} is not one of ${AUDIT_EVENT_TYPES.join(', ')}`);
  const detail: Record<string, string | number | boolean | null> = {};
  const entries = Object.entries(event.detail);
  if (entries.length > MAX_DETAIL_KEYS) throw new RangeError(`an audit event's detail has at most ${MAX_DETAIL_KEYS} keys`);
  for (const [key, value] of entries) {
    if (typeof value === 'string') detail[key.slice(0, 64)] = value.slice(0, MAX_DETAIL_STRING);
    else if (value === null || typeof value === 'boolean' || (typeof value === 'number' && Number.isFinite(value))) detail[key.slice(0, 64)] = value;
    else throw new RangeError(`audit detail ${key} must be a string, a finite number, a boolean or null`);
  }
  return {
    type: event.type,
    at: toMillis(event.at, 'at'),
    userId: event.userId,
    username: clip(event.username, MAX_AUDIT_USERNAME),
    actorId: event.actorId,
    familyId: event.familyId,
    clientAddress: clip(event.clientAddress, MAX_CLIENT_ADDRESS),
    userAgent: clip(event.userAgent, MAX_USER_AGENT),
    detail: JSON.stringify(detail),
  };
}

/** `values` with what a revocation learnt in its transaction: how many tokens it blacklisted (`detail.revoked`). */
export function withRevoked(values: AuditValues, revoked: number): AuditValues {
  return { ...values, detail: JSON.stringify({ ...(JSON.parse(values.detail) as object), revoked }) };
}

/** A {@link AuditQuery}, validated: times in ms, the cursor as the id below which the page starts. */
export interface AuditFilter {
  user: string | undefined;
  type: AuditEventType | undefined;
  since: number | undefined;
  until: number | undefined;
  /** Events with an id below this one (the previous page's last); undefined for the first page. */
  beforeId: number | undefined;
  limit: number;
}

/** Validates `listAudit`'s query (see {@link AuditStore.listAudit}). */
export function checkAuditQuery(query: AuditQuery): AuditFilter {
  const limit = query.limit ?? DEFAULT_AUDIT_PAGE;
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_AUDIT_PAGE) throw new RangeError(`limit must be a whole number from 1 to ${MAX_AUDIT_PAGE}, got ${String(query.limit)}`);
  if (query.type !== undefined && !isAuditEventType(query.type)) throw new RangeError(`type must be one of ${AUDIT_EVENT_TYPES.join(', ')}`);
  const cursor = query.cursor ?? null;
  if (cursor !== null && !/^[1-9][0-9]{0,15}$/.test(cursor)) throw new RangeError('cursor must be the `next` of a previous page');
  return {
    user: query.user === undefined || query.user === '' ? undefined : query.user,
    type: query.type,
    since: query.since === undefined ? undefined : toMillis(query.since, 'since'),
    until: query.until === undefined ? undefined : toMillis(query.until, 'until'),
    beforeId: cursor === null ? undefined : Number(cursor),
    limit,
  };
}

/** `countAudit`'s range, validated: ms bounds and the bucket width in ms. */
export function checkAuditRange(range: { since: Date; until: Date; bucketSeconds: number }): { since: number; until: number; bucketMs: number } {
  const since = toMillis(range.since, 'since');
  const until = toMillis(range.until, 'until');
  if (!(until > since)) throw new RangeError('until must be after since');
  if (!Number.isInteger(range.bucketSeconds) || range.bucketSeconds < 1) throw new RangeError(`bucketSeconds must be a positive whole number, got ${String(range.bucketSeconds)}`);
  return { since, until, bucketMs: range.bucketSeconds * 1000 };
}

/** An audit row as the SQL-backed stores read it. */
export interface AuditRow {
  id: string | number | bigint;
  type: string;
  at: TimeValue;
  user_id: string | null;
  username: string | null;
  actor_id: string | null;
  family_id: string | null;
  client_address: string | null;
  user_agent: string | null;
  /** JSON text, or an object where the driver parses JSON columns. */
  detail: string | Record<string, unknown>;
}

/** The contract's view of an audit row. */
export function auditFromRow(row: AuditRow): AuditRecord {
  return {
    id: String(row.id),
    type: row.type as AuditEventType,
    at: new Date(typeof row.at === 'string' && /^[0-9]+$/.test(row.at) ? Number(row.at) : row.at),
    userId: row.user_id,
    username: row.username,
    actorId: row.actor_id,
    familyId: row.family_id,
    clientAddress: row.client_address,
    userAgent: row.user_agent,
    detail: (typeof row.detail === 'string' ? JSON.parse(row.detail) : row.detail) as AuditRecord['detail'],
  };
}

/** A page from rows fetched with `limit + 1` (one more than the page, to know whether another follows). */
export function auditPage(rows: readonly AuditRecord[], limit: number): AuditPage {
  const events = rows.slice(0, limit);
  return { events, next: rows.length > limit ? (events[events.length - 1] as AuditRecord).id : null };
}

/** Counts as the stores' grouping queries return them, typed (numbers from bigint/text columns). */
export function auditCountFromRow(row: { type: string; bucket: number | string | bigint; count: number | string | bigint }): AuditCount {
  return { type: row.type as AuditEventType, bucket: Number(row.bucket), count: Number(row.count) };
}

function clip(value: string | null, max: number): string | null {
  return value === null || value === '' ? null : value.slice(0, max);
}
