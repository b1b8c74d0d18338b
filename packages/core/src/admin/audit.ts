/** The audit log in the admin: events filtered and paged, and the last hour's counts for the dashboard. */
import { AUDIT_EVENT_TYPES, type AuditEventType, type AuditRecord } from '../store/types.js';
import { isAuditEventType } from '../stores/shared/audit.js';
import { auditStore, type AdminContext } from './context.js';
import { FieldErrors, lastValue, readQueryInteger, type QueryValue } from './fields.js';

/** An audit event on the wire. Times are ISO 8601. */
export interface AuditEventView {
  id: string;
  type: AuditEventType;
  at: string;
  user_id: string | null;
  username: string | null;
  actor_id: string | null;
  family_id: string | null;
  client_address: string | null;
  user_agent: string | null;
  detail: Readonly<Record<string, string | number | boolean | null>>;
}

export function auditEventView(e: AuditRecord): AuditEventView {
  return {
    id: e.id,
    type: e.type,
    at: e.at.toISOString(),
    user_id: e.userId,
    username: e.username,
    actor_id: e.actorId,
    family_id: e.familyId,
    client_address: e.clientAddress,
    user_agent: e.userAgent,
    detail: e.detail,
  };
}

/** DRF's CursorPagination body: `next` is the path-relative link of the older page, null on the last. */
export interface AuditEventPage {
  next: string | null;
  results: AuditEventView[];
}

/** ISO 8601 with a time and an offset (`Z` or `±hh:mm`), as DRF's DateTimeField reads it. */
const DATETIME = /^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|[+-]\d{2}:?\d{2})$/;

function readQueryDate(errors: FieldErrors, query: Readonly<Record<string, QueryValue>>, name: string): Date | undefined {
  const raw = lastValue(Object.hasOwn(query, name) ? query[name] : undefined);
  if (raw === undefined || raw === '') return undefined;
  const date = DATETIME.test(raw) ? new Date(raw.replace(' ', 'T')) : new Date(Number.NaN);
  if (Number.isNaN(date.getTime())) errors.add(name, { key: 'invalid_datetime' });
  return date;
}

/**
 * `GET audit/`: events newest first. `?user=` (an id or a username), `?type=`, `?since=`/`?until=` (ISO 8601 with an
 * offset) filter; `?limit=` (1–500, default 50) and the `cursor` of a `next` link page.
 */
export async function listAuditEvents(ctx: AdminContext, query: Readonly<Record<string, QueryValue>>, pathname: string, search: string): Promise<AuditEventPage> {
  const errors = new FieldErrors();
  const user = lastValue(Object.hasOwn(query, 'user') ? query.user : undefined);
  if (user !== undefined && user.length > 255) errors.add('user', { key: 'field_too_long', params: { max: 255 } });
  const type = lastValue(Object.hasOwn(query, 'type') ? query.type : undefined);
  if (type !== undefined && type !== '' && !isAuditEventType(type)) errors.add('type', { key: 'invalid_choice', params: { value: type.slice(0, 64) } });
  const since = readQueryDate(errors, query, 'since');
  const until = readQueryDate(errors, query, 'until');
  const limit = readQueryInteger(errors, query, 'limit', { min: 1, max: 500, fallback: 50 });
  if (since !== undefined && until !== undefined && !Number.isNaN(since.getTime()) && !(until.getTime() > since.getTime())) errors.add('until', { key: 'until_not_after_since' });
  const cursor = lastValue(Object.hasOwn(query, 'cursor') ? query.cursor : undefined);
  if (cursor !== undefined && cursor !== '' && !/^[1-9][0-9]{0,15}$/.test(cursor)) errors.add('cursor', { key: 'not_an_integer' });
  errors.done();
  const store = auditStore(ctx);
  const page = await store.listAudit({
    user: user === '' ? undefined : user,
    type: type === '' ? undefined : (type as AuditEventType | undefined),
    since,
    until,
    cursor: cursor === '' ? undefined : cursor,
    limit,
  });
  let next: string | null = null;
  if (page.next !== null) {
    const params = new URLSearchParams(search);
    params.set('cursor', page.next);
    next = `${pathname}?${params.toString()}`;
  }
  return { next, results: page.events.map(auditEventView) };
}

/** The dashboard's counts: one dense series per event type, a bucket per `bucket_seconds` from `since`. */
export interface AuditSummary {
  since: string;
  until: string;
  bucket_seconds: number;
  /** Every event type, each with one count per bucket (oldest first). */
  series: Record<AuditEventType, number[]>;
}

/**
 * `GET audit/summary/`: how many events of each type in each bucket over the last `minutes` (1–1440, default 60), in
 * buckets of `bucket` seconds (10–3600, default 60), on the service's clock. One grouping query in the store.
 */
export async function auditSummary(ctx: AdminContext, query: Readonly<Record<string, QueryValue>>): Promise<AuditSummary> {
  const errors = new FieldErrors();
  const minutes = readQueryInteger(errors, query, 'minutes', { min: 1, max: 1440, fallback: 60 });
  const bucketSeconds = readQueryInteger(errors, query, 'bucket', { min: 10, max: 3600, fallback: 60 });
  errors.done();
  const store = auditStore(ctx);
  // Buckets end at the next whole bucket after now, so that the last one is the current one and they stay aligned.
  const bucketMs = bucketSeconds * 1000;
  const until = new Date(Math.ceil((ctx.now().getTime() + 1) / bucketMs) * bucketMs);
  const buckets = Math.ceil((minutes * 60) / bucketSeconds);
  const since = new Date(until.getTime() - buckets * bucketMs);
  const series = Object.fromEntries(AUDIT_EVENT_TYPES.map((t) => [t, new Array<number>(buckets).fill(0)])) as Record<AuditEventType, number[]>;
  for (const c of await store.countAudit({ since, until, bucketSeconds })) {
    const row = series[c.type];
    if (row !== undefined && c.bucket >= 0 && c.bucket < buckets) row[c.bucket] = c.count;
  }
  return { since: since.toISOString(), until: until.toISOString(), bucket_seconds: bucketSeconds, series };
}
