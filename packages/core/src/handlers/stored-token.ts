import { userIdFromClaims } from '../auth/authenticate.js';
import { AuthenticationFailed, InvalidToken } from '../errors.js';
import type { UserRecord } from '../store/types.js';
import type { DecodeOptions, Token } from '../tokens/token-service.js';
import { outstandingRecord, type HandlerContext } from './context.js';
import { decodeOrInvalid } from './decode-or-invalid.js';

/** The token field of a request, decoded as `kind`, refused when blacklisted. Failures are 401 token_not_valid. */
export async function decodeStoredToken(
  ctx: HandlerContext,
  raw: string,
  kind: 'refresh' | 'sliding',
  options?: DecodeOptions,
): Promise<Token> {
  const token = await decodeOrInvalid(ctx, raw, kind, options);
  if (await ctx.store.isBlacklisted(token.payload[ctx.settings.jtiClaim] as string)) {
    throw new InvalidToken({ key: 'token_blacklisted' });
  }
  return token;
}

/** Why {@link checkTokenUser} refuses a token's user; nothing has been done about it yet. */
export type TokenUserRefusal =
  | { refusal: 'no_user_id' }
  | { refusal: 'no_active_account' }
  | { refusal: 'password_changed'; user: UserRecord };

/**
 * The user a refresh/sliding token speaks for, checked as newer simplejwt does on refresh: the token must name a
 * user, who must exist and pass the authentication rule, and with checkRevokeToken their token version must match.
 * Reads only: a refusal is acted on by {@link refuseTokenUser}.
 */
export async function checkTokenUser(ctx: HandlerContext, token: Token): Promise<{ refusal?: undefined; user: UserRecord } | TokenUserRefusal> {
  const s = ctx.settings;
  const id = userIdFromClaims(token.payload, s);
  // simplejwt lets a token without a user id through; it could then mint tokens for nobody. Refuse it.
  if (id === null) return { refusal: 'no_user_id' };
  const user = await ctx.store.findUser(s.userIdField, id);
  if (user === null || !s.userAuthenticationRule(user)) return { refusal: 'no_active_account' };
  if (s.checkRevokeToken && token.payload[s.revokeTokenClaim] !== user.tokenVersion) return { refusal: 'password_changed', user };
  return { user };
}

/** Answers a refusal of {@link checkTokenUser}; a stale token (password changed) is blacklisted so it cannot be tried again. */
export async function refuseTokenUser(ctx: HandlerContext, token: Token, refused: TokenUserRefusal): Promise<never> {
  if (refused.refusal === 'no_user_id') throw new InvalidToken({ key: 'token_no_user_id' });
  if (refused.refusal === 'no_active_account') throw new AuthenticationFailed('no_active_account', { key: 'no_active_account_for_token' });
  const { user } = refused;
  await ctx.store.blacklist(outstandingRecord(ctx, token, user.id, null));
  ctx.log({ event: 'revoked_token_used', level: 'warn', userId: user.id, jti: token.payload[ctx.settings.jtiClaim] as string });
  throw new AuthenticationFailed('password_changed');
}

/** {@link checkTokenUser}, refusing at once. */
export async function activeUserForToken(ctx: HandlerContext, token: Token): Promise<UserRecord> {
  const checked = await checkTokenUser(ctx, token);
  return checked.refusal === undefined ? checked.user : refuseTokenUser(ctx, token, checked);
}
