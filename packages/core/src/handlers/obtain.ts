import type { RequestMeta } from './context.js';
import { ServiceUnavailable } from '../errors.js';
import { hasSessions } from '../store/capabilities.js';
import type { UserRecord } from '../store/types.js';
import type { Token } from '../tokens/token-service.js';
import { audited } from '../audit/events.js';
import { nowDate, originOf, outstandingRecord, requestUse, type HandlerContext } from './context.js';
import { checkCredentials } from './login.js';

/**
 * Issues a login's first token for `user` (already authenticated: by password here, by a provider in social login):
 * records it with the login's audit event (`method`: `password` or the provider), starts its session (family) with
 * where it came from, and updates `last_login`.
 */
export async function issueFor(ctx: HandlerContext, kind: 'refresh' | 'sliding', user: UserRecord, meta: RequestMeta, method = 'password'): Promise<Token> {
  const claims = ctx.hooks.customClaims === undefined ? undefined : await ctx.hooks.customClaims(user);
  const token = ctx.tokens.forUser(kind, user, claims);
  // The login time, for refreshFamilyMaxAge: every rotation copies it.
  if (kind === 'refresh' && ctx.settings.refreshFamilyMaxAge > 0) token.payload.auth_time = token.payload.iat;
  const jti = token.payload[ctx.settings.jtiClaim] as string;
  // Recorded before it is returned: a token the store does not know is never handed out.
  const login = audited(ctx, 'login', nowDate(ctx), originOf(meta), { userId: user.id, username: user.username, familyId: jti, detail: { method, token: kind } });
  await ctx.store.recordOutstanding(outstandingRecord(ctx, token, user.id, jti), login);
  if (hasSessions(ctx.store)) await ctx.store.recordSession(user.id, { familyId: jti, ...requestUse(ctx, meta) });
  if (ctx.settings.updateLastLogin) await ctx.store.updateLastLogin(user.id, new Date(ctx.tokens.nowSeconds() * 1000));
  ctx.log({ event: 'login', level: 'info', userId: user.id, jti });
  return token;
}

/** Credentials checked only where tokens can be issued: a verify-only service says so before hashing anything. */
async function login(ctx: HandlerContext, data: Readonly<Record<string, unknown>>, meta: RequestMeta): Promise<UserRecord> {
  if (!ctx.tokens.canSign) throw new ServiceUnavailable('signing_disabled');
  return checkCredentials(ctx, data, meta);
}

/**
 * A pair for `user`, exactly as `POST /api/token/` issues one after the password check: recorded, session started,
 * `last_login` updated, custom claims applied. For logins that another authority checked (social login).
 */
export async function issuePair(ctx: HandlerContext, user: UserRecord, meta: RequestMeta, method = 'password'): Promise<{ refresh: string; access: string }> {
  if (!ctx.tokens.canSign) throw new ServiceUnavailable('signing_disabled');
  const refresh = await issueFor(ctx, 'refresh', user, meta, method);
  return { refresh: ctx.tokens.encode(refresh), access: ctx.tokens.encode(ctx.tokens.accessFrom(refresh)) };
}

/** POST /api/token/ — TokenObtainPairView: `{"refresh", "access"}`. */
export async function obtainPair(ctx: HandlerContext, data: Readonly<Record<string, unknown>>, meta: RequestMeta): Promise<Record<string, string>> {
  return issuePair(ctx, await login(ctx, data, meta), meta);
}

/** POST /api/token/sliding/ — TokenObtainSlidingView: `{"token"}`. */
export async function obtainSliding(ctx: HandlerContext, data: Readonly<Record<string, unknown>>, meta: RequestMeta): Promise<Record<string, string>> {
  const user = await login(ctx, data, meta);
  return { token: ctx.tokens.encode(await issueFor(ctx, 'sliding', user, meta)) };
}
