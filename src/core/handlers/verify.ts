import { InvalidToken, TokenError, ValidationError } from '../errors.js';
import { readStringFields } from '../http/fields.js';
import type { HandlerContext } from './context.js';

/**
 * POST /api/token/verify/ — TokenVerifyView: `{}` when the token is valid (any type: UntypedToken).
 * A blacklisted token is 400 `{"non_field_errors": ["Token is blacklisted"]}` as in simplejwt; unlike simplejwt,
 * the blacklist is consulted whatever blacklistAfterRotation says, so a logged-out token never verifies.
 */
export async function verifyToken(ctx: HandlerContext, data: Readonly<Record<string, unknown>>): Promise<Record<string, never>> {
  const s = ctx.settings;
  const { token: raw } = readStringFields(data, [{ name: 'token', trim: true, maxLength: s.maxBodyBytes }]);
  let jti: string;
  try {
    jti = (await ctx.tokens.decode(raw, 'untyped')).payload[s.jtiClaim] as string;
  } catch (err) {
    if (err instanceof TokenError) throw new InvalidToken(err.msg);
    throw err;
  }
  if (await ctx.store.isBlacklisted(jti)) throw new ValidationError({ non_field_errors: [{ key: 'token_blacklisted' }] });
  return {};
}
