/**
 * The audit events the core writes, built in one place: what each event holds (never a token, a password or a body),
 * and whether the service writes them at all (`auditLog` on, and a store with the `audit` capability).
 */
import type { LogEvent } from '../log-event.js';
import type { Settings } from '../settings/types.js';
import { hasAudit } from '../store/capabilities.js';
import type { Audited, AuditEvent, AuditEventType, Store } from '../store/types.js';

/** Where an event came from: the client's address and User-Agent, as the request reported them. */
export interface AuditOrigin {
  clientAddress: string | null;
  userAgent: string | null;
}

/** What an event may say besides its type, time and origin. */
export type AuditFields = Partial<Pick<AuditEvent, 'userId' | 'username' | 'actorId' | 'familyId' | 'detail'>>;

/** What deciding and building events needs: a `RestJwt`, a handler context or an admin context fits. */
export interface AuditSource {
  readonly store: Store;
  readonly settings: Pick<Settings, 'auditLog'>;
}

/** True when `source` writes audit events: `auditLog` is on and its store keeps them. */
export function auditing(source: AuditSource): boolean {
  return source.settings.auditLog && hasAudit(source.store);
}

/** The origin of a request from its address and headers (the User-Agent cut as the stores cut it). */
export function auditOrigin(address: string | null | undefined, headers: Readonly<Record<string, string | undefined>> | undefined): AuditOrigin {
  const agent = headers?.['user-agent'];
  return { clientAddress: address || null, userAgent: agent === undefined || agent === '' ? null : agent };
}

/** One event of `type` at `at` from `origin`. */
export function auditEvent(type: AuditEventType, at: Date, origin: AuditOrigin | null, fields: AuditFields = {}): AuditEvent {
  return {
    type,
    at,
    userId: fields.userId ?? null,
    username: fields.username ?? null,
    actorId: fields.actorId ?? null,
    familyId: fields.familyId ?? null,
    clientAddress: origin?.clientAddress ?? null,
    userAgent: origin?.userAgent ?? null,
    detail: fields.detail ?? {},
  };
}

/**
 * The username of `userId`, for an event that knows only the id (a logout, a reuse detection), so that the events
 * view finds it by name too; null without an id, or when not auditing (the lookup is then skipped).
 */
export async function auditUsername(source: AuditSource, userId: string | null): Promise<string | null> {
  if (userId === null || !auditing(source)) return null;
  return (await source.store.findUser('id', userId))?.username ?? null;
}

/**
 * The option an audited store call takes (`{ audit }`), or `{}` when `source` does not audit: the change then costs
 * what it cost before the audit log existed.
 */
export function audited(source: AuditSource, type: AuditEventType, at: Date, origin: AuditOrigin | null, fields?: AuditFields): Audited {
  return auditing(source) ? { audit: auditEvent(type, at, origin, fields) } : {};
}

/**
 * Writes an event that records no change (a refused login or second step). A store that cannot write it does not
 * change the answer: the refusal stands, and `audit_write_failed` goes to `log` (the error's name only).
 */
export async function appendAudit(source: AuditSource, event: AuditEvent, log: (event: LogEvent) => void): Promise<void> {
  if (!source.settings.auditLog || !hasAudit(source.store)) return;
  try {
    await source.store.appendAudit(event);
  } catch (error) {
    log({ event: 'audit_write_failed', level: 'error', reason: error instanceof Error ? error.name : 'unknown' });
  }
}
