import { userIdFromClaims } from '../auth/authenticate.js';
import { InvalidToken, ServiceUnavailable } from '../errors.js';
import { readStringFields } from '../http/fields.js';
import type { Token } from '../tokens/token-service.js';
import type { RequestMeta } from './context.js';
import { hasSessions } from '../store/capabilities.js';
import { audited, auditUsername } from '../audit/events.js';
import { nowDate, originOf, outstandingRecord, requestUse, type HandlerContext } from './context.js';
import { decodeOrInvalid } from './decode-or-invalid.js';
import { activeUserForToken, checkTokenUser, refuseTokenUser } from './stored-token.js';

/** The claim carrying the login time (seconds) when `refreshFamilyMaxAge` is on; rotation copies it. */
export const AUTH_TIME_CLAIM = 'auth_time';

/**
 * POST /api/token/refresh/ — TokenRefreshView: `{"access"}`, plus a new `"refresh"` when rotation is on.
 * With blacklistAfterRotation, retiring the presented token and recording its successor is one atomic store
 * operation: of concurrent refreshes of one token exactly one succeeds.
 *
 * Families: the successor inherits the presented token's family (the login's first jti). Presenting a blacklisted
 * refresh token is reuse — a stolen copy or a replay — and revokes the whole family, so the current refresh token
 * stops working too; concurrent losers of a race are reuse as well, unless they come within `refreshReuseInterval`
 * seconds of the rotation, when they get the same successor back. `refreshFamilyMaxAge` bounds a family's life.
 */
export async function refreshPair(ctx: HandlerContext, data: Readonly<Record<string, unknown>>, meta?: RequestMeta): Promise<Record<string, string>> {
  const s = ctx.settings;
  const { refresh: raw } = readStringFields(data, [{ name: 'refresh', trim: true, maxLength: s.maxBodyBytes }]);
  if (!ctx.tokens.canSign) throw new ServiceUnavailable('signing_disabled');
  const refresh = await decodeOrInvalid(ctx, raw, 'refresh');
  const jti = refresh.payload[s.jtiClaim] as string;
  // With rotation and blacklisting, `rotate` itself finds a blacklisted token: the blacklist is read up front only
  // otherwise, and in that path only before a refusal, so that a blacklisted token is refused as such first, as
  // simplejwt does (and its reuse is acted on).
  const rotateAtomically = s.rotateRefreshTokens && s.blacklistAfterRotation;
  if (!rotateAtomically && (await ctx.store.isBlacklisted(jti))) return reused(ctx, refresh, jti, meta);
  const blacklistedAfterAll = async (): Promise<boolean> => rotateAtomically && (await ctx.store.isBlacklisted(jti));
  const now = Math.floor(ctx.tokens.nowSeconds());
  let authTime = refresh.payload[AUTH_TIME_CLAIM];
  if (s.refreshFamilyMaxAge > 0 && typeof authTime === 'number' && now - authTime > s.refreshFamilyMaxAge) {
    if (await blacklistedAfterAll()) return reused(ctx, refresh, jti, meta);
    ctx.log({ event: 'refresh_family_expired', level: 'info', userId: userIdFromClaims(refresh.payload, s), jti });
    throw new InvalidToken({ key: 'token_expired' });
  }
  const checked = await checkTokenUser(ctx, refresh);
  if (checked.refusal !== undefined) {
    if (await blacklistedAfterAll()) return reused(ctx, refresh, jti, meta);
    return refuseTokenUser(ctx, refresh, checked);
  }
  const { user } = checked;
  const access = await ctx.tokens.encode(ctx.tokens.accessFrom(refresh));
  if (!s.rotateRefreshTokens) return { access };
  const successor = ctx.tokens.renew(refresh);
  if (s.refreshFamilyMaxAge > 0) {
    // A token from before the setting was turned on starts its family's clock now.
    if (typeof authTime !== 'number') authTime = successor.payload[AUTH_TIME_CLAIM] = now;
    successor.payload.exp = Math.min(successor.payload.exp as number, (authTime as number) + s.refreshFamilyMaxAge);
  }
  if (rotateAtomically) {
    // One store call: the family is the presented token's recorded one (this jti when it was never recorded), and
    // the session is touched in the same transaction.
    const result = await ctx.store.rotate(outstandingRecord(ctx, refresh, user.id, jti), outstandingRecord(ctx, successor, user.id, null), {
      inheritFamily: true,
      requestUse: requestUse(ctx, meta),
    });
    // Blacklisted already: a replay, a stolen copy, or the loser of a race for this token. All are reuse.
    if (result === 'already_blacklisted') return reused(ctx, refresh, jti, meta);
  } else {
    const familyId = (await ctx.store.findOutstanding(jti))?.familyId ?? jti;
    await ctx.store.recordOutstanding(outstandingRecord(ctx, successor, user.id, familyId));
    if (hasSessions(ctx.store)) await ctx.store.touchSession({ familyId, ...requestUse(ctx, meta) });
  }
  return { access, refresh: await ctx.tokens.encode(successor) };
}

/**
 * A blacklisted refresh token was presented. Within `refreshReuseInterval` of its rotation, the same successor (and a
 * new access token); otherwise its family is revoked and the answer is the usual "Token is blacklisted".
 */
async function reused(ctx: HandlerContext, presented: Token, jti: string, meta: RequestMeta | undefined): Promise<Record<string, string>> {
  const s = ctx.settings;
  const state = await ctx.store.findOutstanding(jti);
  if (s.rotateRefreshTokens && s.refreshReuseInterval > 0 && state !== null && state.replacedBy !== null) {
    const next = await ctx.store.findOutstanding(state.replacedBy);
    const age = ctx.tokens.nowSeconds() - (next?.createdAt.getTime() ?? 0) / 1000;
    if (next !== null && next.blacklistedAt === null && age < s.refreshReuseInterval) {
      const user = await activeUserForToken(ctx, presented);
      // The successor exactly as `renew` built it: same claims in the same order, so the same signature.
      const payload = { ...presented.payload };
      payload.exp = Math.floor(next.expiresAt.getTime() / 1000);
      payload.iat = Math.floor(next.createdAt.getTime() / 1000);
      payload[s.jtiClaim] = next.jti;
      const successor: Token = { kind: 'refresh', payload };
      ctx.log({ event: 'refresh_reuse_within_interval', level: 'info', userId: user.id, jti, familyId: next.familyId });
      return { access: await ctx.tokens.encode(ctx.tokens.accessFrom(successor)), refresh: await ctx.tokens.encode(successor) };
    }
  }
  // Only a committed blacklisting is reuse. A cache may already report a rotation (or logout) that is still in
  // flight; revoking the family then would kill that very rotation, leaving no winner. Such a request just loses.
  const committed = state !== null && state.blacklistedAt !== null;
  const familyId = committed ? state.familyId : null;
  const userId = state?.userId ?? userIdFromClaims(presented.payload, s);
  const revoked =
    familyId === null ? 0 : await ctx.store.revokeFamily(familyId, audited(ctx, 'refresh_reuse', nowDate(ctx), originOf(meta), { userId, username: await auditUsername(ctx, userId), familyId }));
  ctx.log({
    event: 'refresh_token_reuse',
    level: 'warn',
    userId,
    jti,
    familyId,
    revoked,
  });
  throw new InvalidToken({ key: 'token_blacklisted' });
}
