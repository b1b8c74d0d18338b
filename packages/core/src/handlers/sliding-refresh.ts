import { InvalidToken, ServiceUnavailable } from '../errors.js';
import { readStringFields } from '../http/fields.js';
import type { HandlerContext } from './context.js';
import { activeUserForToken, decodeStoredToken } from './stored-token.js';

/**
 * POST /api/token/sliding/refresh/ — TokenRefreshSlidingView: a new `exp` and `iat`, same `jti`, as long as
 * `refresh_exp` has not passed. Unlike simplejwt 5.x, a sliding token whose `exp` has passed can still be
 * refreshed inside its refresh window — the documented purpose of sliding tokens.
 */
export async function refreshSliding(ctx: HandlerContext, data: Readonly<Record<string, unknown>>): Promise<Record<string, string>> {
  const s = ctx.settings;
  const { token: raw } = readStringFields(data, [{ name: 'token', trim: true, maxLength: s.maxBodyBytes }]);
  if (!ctx.tokens.canSign) throw new ServiceUnavailable('signing_disabled');
  const token = await decodeStoredToken(ctx, raw, 'sliding', { checkExp: false });
  const claim = s.slidingTokenRefreshExpClaim;
  const refreshExp = token.payload[claim];
  if (refreshExp === undefined) throw new InvalidToken({ key: 'token_no_claim', params: { claim } });
  if (typeof refreshExp !== 'number' || refreshExp <= ctx.tokens.nowSeconds() - s.leeway) {
    throw new InvalidToken({ key: 'token_claim_expired', params: { claim } });
  }
  await activeUserForToken(ctx, token);
  return { token: await ctx.tokens.encode(ctx.tokens.renew(token, { keepJti: true })) };
}
