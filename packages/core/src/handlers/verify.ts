import { ValidationError } from '../errors.js';
import { readStringFields } from '../http/fields.js';
import type { HandlerContext } from './context.js';
import { decodeOrInvalid } from './decode-or-invalid.js';

/**
 * POST /api/token/verify/ — TokenVerifyView: `{}` when the token is valid (any type: UntypedToken).
 * A blacklisted token is 400 `{"non_field_errors": ["Token is blacklisted"]}` as in simplejwt; unlike simplejwt,
 * the blacklist is consulted whatever blacklistAfterRotation says, so a logged-out token never verifies.
 */
export async function verifyToken(ctx: HandlerContext, data: Readonly<Record<string, unknown>>): Promise<Record<string, never>> {
  const s = ctx.settings;
  const { token: raw } = readStringFields(data, [{ name: 'token', trim: true, maxLength: s.maxBodyBytes }]);
  const jti = (await decodeOrInvalid(ctx, raw, 'untyped')).payload[s.jtiClaim] as string;
  if (await ctx.store.isBlacklisted(jti)) throw new ValidationError({ non_field_errors: [{ key: 'token_blacklisted' }] });
  return {};
}
