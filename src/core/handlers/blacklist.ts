import { InvalidToken } from '../errors.js';
import { userIdFromClaims } from '../auth/authenticate.js';
import { readStringFields } from '../http/fields.js';
import { outstandingRecord, type HandlerContext } from './context.js';
import { decodeStoredToken } from './stored-token.js';

/** POST /api/token/blacklist/ — TokenBlacklistView (logout): `{}`; a second logout with the same token is 401. */
export async function blacklistToken(ctx: HandlerContext, data: Readonly<Record<string, unknown>>): Promise<Record<string, never>> {
  const s = ctx.settings;
  const { refresh: raw } = readStringFields(data, [{ name: 'refresh', trim: true, maxLength: s.maxBodyBytes }]);
  const token = await decodeStoredToken(ctx, raw, 'refresh');
  const userId = userIdFromClaims(token.payload, s);
  const result = await ctx.store.blacklist(outstandingRecord(ctx, token, userId, null));
  if (result === 'already_blacklisted') throw new InvalidToken({ key: 'token_blacklisted' });
  ctx.log({ event: 'logout', level: 'info', userId, jti: token.payload[s.jtiClaim] as string });
  return {};
}
