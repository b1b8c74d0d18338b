import { authenticateRequest } from '../auth/authenticate.js';
import type { RequestMeta } from './context.js';
import { NotAuthenticated } from '../errors.js';
import type { UserRecord } from '../store/types.js';
import { audited, type AuditSource } from '../audit/events.js';
import type { Audited } from '../store/types.js';
import { nowDate, originOf, type HandlerContext } from './context.js';

/**
 * POST /api/token/logout-all/ — "log out everywhere": authenticated like a protected route (`Authorization: Bearer
 * <access>`, or the access cookie with its CSRF check), it blacklists every refresh and sliding token of the user
 * and renews the user's token version (so, with `checkRevokeToken`, every access token stops working at once). `{}`.
 */
export async function logoutAll(ctx: HandlerContext, _data: Readonly<Record<string, unknown>>, meta: RequestMeta): Promise<Record<string, never>> {
  const auth = await authenticateRequest(meta.headers ?? {}, ctx.tokens, ctx.store, { method: 'POST' });
  if (auth === null) throw new NotAuthenticated();
  const user = auth.user as UserRecord;
  const revoked = await endSessions(ctx, user.id, audited(ctx, 'logout_all', nowDate(ctx), originOf(meta), { userId: user.id, username: user.username }));
  ctx.log({ event: 'logout_all', level: 'info', userId: user.id, revoked });
  return {};
}

/**
 * Every session of the user ends: refresh/sliding tokens blacklisted, token version renewed. Returns the count. The
 * audit event, if any, is written with the revocation.
 */
export async function endSessions(ctx: Pick<AuditSource, 'store'>, userId: string, audit: Audited = {}): Promise<number> {
  // Token version first: from here on, access tokens (with checkRevokeToken) and new refreshes are refused.
  await ctx.store.renewTokenVersion(userId);
  return ctx.store.revokeUser(userId, audit);
}
