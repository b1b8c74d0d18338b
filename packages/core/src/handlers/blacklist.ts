import { InvalidToken } from '../errors.js';
import { userIdFromClaims } from '../auth/authenticate.js';
import { readStringFields } from '../http/fields.js';
import type { Token } from '../tokens/token-service.js';
import { audited, auditUsername } from '../audit/events.js';
import { nowDate, originOf, outstandingRecord, type HandlerContext, type RequestMeta } from './context.js';
import { decodeOrInvalid } from './decode-or-invalid.js';
import { decodeStoredToken } from './stored-token.js';

/**
 * POST /api/token/blacklist/ — TokenBlacklistView (logout): `{}`; a second logout with the same token is 401.
 * With `revokeAccessTokens`, an optional `access` field (an access token of the same user) is revoked too: it is
 * refused on every request until it expires.
 */
export async function blacklistToken(ctx: HandlerContext, data: Readonly<Record<string, unknown>>, meta?: RequestMeta): Promise<Record<string, never>> {
  const s = ctx.settings;
  const withAccess = s.revokeAccessTokens && Object.hasOwn(data, 'access');
  const fields = [{ name: 'refresh', trim: true, maxLength: s.maxBodyBytes }];
  if (withAccess) fields.push({ name: 'access', trim: true, maxLength: s.maxBodyBytes });
  const read = readStringFields(data, fields);
  const token = await decodeStoredToken(ctx, read.refresh as string, 'refresh');
  const userId = userIdFromClaims(token.payload, s);
  // Checked before anything is written: a logout either does all it was asked or nothing.
  const access = withAccess ? await decodeAccessOf(ctx, read.access as string, userId) : null;
  const jti = token.payload[s.jtiClaim] as string;
  const logout = audited(ctx, 'logout', nowDate(ctx), originOf(meta), { userId, username: await auditUsername(ctx, userId), detail: { accessRevoked: access !== null } });
  const result = await ctx.store.blacklist(outstandingRecord(ctx, token, userId, null), logout);
  if (result === 'already_blacklisted') throw new InvalidToken({ key: 'token_blacklisted' });
  if (access !== null) {
    await ctx.store.revokeAccess(access.payload[s.jtiClaim] as string, new Date((access.payload.exp as number) * 1000));
  }
  ctx.log({ event: 'logout', level: 'info', userId, jti, accessRevoked: access !== null });
  return {};
}

/** The `access` field: a valid access token of the refresh token's user (another user's would let one log out others). */
async function decodeAccessOf(ctx: HandlerContext, raw: string, userId: string | null): Promise<Token> {
  const access = await decodeOrInvalid(ctx, raw, 'access');
  if (userId === null || userIdFromClaims(access.payload, ctx.settings) !== userId) throw new InvalidToken({ key: 'token_invalid' });
  return access;
}
