import { InvalidToken, ServiceUnavailable } from '../errors.js';
import { readStringFields } from '../http/fields.js';
import { outstandingRecord, type HandlerContext } from './context.js';
import { activeUserForToken, decodeStoredToken } from './stored-token.js';

/**
 * POST /api/token/refresh/ — TokenRefreshView: `{"access"}`, plus a new `"refresh"` when rotation is on.
 * With blacklistAfterRotation, retiring the presented token and recording its successor is one atomic store
 * operation: of concurrent refreshes of one token exactly one succeeds, the others get "Token is blacklisted".
 */
export async function refreshPair(ctx: HandlerContext, data: Readonly<Record<string, unknown>>): Promise<Record<string, string>> {
  const s = ctx.settings;
  const { refresh: raw } = readStringFields(data, [{ name: 'refresh', trim: true, maxLength: s.maxBodyBytes }]);
  if (!ctx.tokens.canSign) throw new ServiceUnavailable('signing_disabled');
  const refresh = await decodeStoredToken(ctx, raw, 'refresh');
  const user = await activeUserForToken(ctx, refresh);
  const access = ctx.tokens.encode(ctx.tokens.accessFrom(refresh));
  if (!s.rotateRefreshTokens) return { access };
  const successor = ctx.tokens.renew(refresh);
  const successorRow = outstandingRecord(ctx, successor, user.id, null);
  if (s.blacklistAfterRotation) {
    const result = await ctx.store.rotate(outstandingRecord(ctx, refresh, user.id, null), successorRow);
    if (result === 'already_blacklisted') {
      ctx.log({ event: 'refresh_race_lost', level: 'warn', userId: user.id, jti: refresh.payload[s.jtiClaim] as string });
      throw new InvalidToken({ key: 'token_blacklisted' });
    }
  } else {
    await ctx.store.recordOutstanding(successorRow);
  }
  return { access, refresh: ctx.tokens.encode(successor) };
}
