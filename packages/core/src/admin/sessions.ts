/**
 * Sessions: one per login, a refresh-token family (its first jti names it; every rotation stays in it). Listing needs
 * the store's optional `SessionStore` capability; revoking everything works with any store.
 */
import { NotFound } from '../errors.js';
import { endSessions } from '../handlers/logout-all.js';
import type { SessionRecord } from '../store/types.js';
import { sessionStore, type AdminContext } from './context.js';
import { FieldErrors, readQueryBoolean, type QueryValue } from './fields.js';
import { requireUser } from './users.js';

/** A session on the wire. Times are ISO 8601. */
export interface SessionView {
  family_id: string;
  created_at: string;
  /** The last refresh (rotation); equal to `created_at` until then. */
  last_used_at: string;
  /** The client address at login or at the last refresh; null when unknown. */
  client_address: string | null;
  /** The User-Agent header at login or at the last refresh (client-controlled text: render it as text). */
  user_agent: string | null;
  expires_at: string;
  /** False once every token of the family is blacklisted or expired. */
  active: boolean;
}

export function sessionView(s: SessionRecord): SessionView {
  return {
    family_id: s.familyId,
    created_at: s.createdAt.toISOString(),
    last_used_at: s.lastUsedAt.toISOString(),
    client_address: s.clientAddress,
    user_agent: s.userAgent,
    expires_at: s.expiresAt.toISOString(),
    active: s.active,
  };
}

/** The sessions of one user, newest login first. */
export interface SessionList {
  count: number;
  results: SessionView[];
}

/**
 * `GET users/{id}/sessions/`: the user's live sessions; `?include_ended=true` adds ended ones (revoked, logged out or
 * expired). 404 for an unknown user, 501 when the store does not record sessions.
 */
export async function listSessions(ctx: AdminContext, userId: string, query: Readonly<Record<string, QueryValue>>): Promise<SessionList> {
  const errors = new FieldErrors();
  const includeEnded = readQueryBoolean(errors, query, 'include_ended') ?? false;
  errors.done();
  const store = sessionStore(ctx);
  await requireUser(ctx, userId);
  const sessions = await store.listSessions(userId, { includeEnded, now: ctx.now() });
  return { count: sessions.length, results: sessions.map(sessionView) };
}

/** What a revocation did. */
export interface Revocation {
  /** Refresh/sliding tokens blacklisted (0 when the session had already ended). */
  revoked: number;
}

/**
 * `POST users/{id}/sessions/{familyId}/revoke/`: blacklists every token of the family, so its refresh token (and every
 * later rotation of it) is refused. The family must belong to the user in the URL, else 404 — a staff user acting on
 * one user's page cannot end another user's session by mistake. Access tokens already issued in that session stay
 * valid until they expire (they are not stored); revoke all sessions to end those too (with `checkRevokeToken`).
 */
export async function revokeSession(ctx: AdminContext, userId: string, familyId: string): Promise<Revocation & { family_id: string }> {
  const store = sessionStore(ctx);
  const user = await requireUser(ctx, userId);
  if (familyId.length === 0 || familyId.length > 255 || (await store.sessionOwner(familyId)) !== userId) throw new NotFound();
  return { family_id: familyId, revoked: await store.revokeFamily(familyId, ctx.audit('session_revoked', { userId, username: user.username, familyId })) };
}

/**
 * `POST users/{id}/sessions/revoke-all/`: "log out everywhere" for that user — a new token version (every access
 * token refused where `checkRevokeToken` is on) and every refresh/sliding token blacklisted.
 */
export async function revokeAllSessions(ctx: AdminContext, userId: string): Promise<Revocation> {
  const user = await requireUser(ctx, userId);
  return { revoked: await endSessions(ctx, userId, ctx.audit('sessions_revoked', { userId, username: user.username })) };
}
