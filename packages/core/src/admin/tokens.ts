/** Outstanding and blacklisted tokens (simplejwt's two admin tables), and flushing the expired ones. */
import type { TokenKindName, TokenListing } from '../store/types.js';
import { sessionStore, type AdminContext } from './context.js';
import { FieldErrors, lastValue, readQueryBoolean, type QueryValue } from './fields.js';
import { readPaging, type AdminPage } from './users.js';

/** An outstanding token on the wire (never the token text: the store does not have it). Times are ISO 8601. */
export interface TokenView {
  jti: string;
  user_id: string | null;
  username: string | null;
  token_type: TokenKindName;
  family_id: string | null;
  created_at: string;
  expires_at: string;
  /** Null while the token is live. */
  blacklisted_at: string | null;
  /** The jti of the token it was rotated into, if any. */
  replaced_by: string | null;
}

export function tokenView(t: TokenListing): TokenView {
  return {
    jti: t.jti,
    user_id: t.userId,
    username: t.username,
    token_type: t.tokenType,
    family_id: t.familyId,
    created_at: t.createdAt.toISOString(),
    expires_at: t.expiresAt.toISOString(),
    blacklisted_at: t.blacklistedAt?.toISOString() ?? null,
    replaced_by: t.replacedBy,
  };
}

/**
 * `GET tokens/`: outstanding tokens, newest first; `?blacklisted=true` (or `false`) filters on the blacklist,
 * `?user={id}` on the owner, `?limit=&offset=` pages. `count` is known without a user filter.
 */
export async function listTokens(ctx: AdminContext, query: Readonly<Record<string, QueryValue>>): Promise<AdminPage<TokenView>> {
  const errors = new FieldErrors();
  const blacklisted = readQueryBoolean(errors, query, 'blacklisted');
  const { limit, offset } = readPaging(errors, query);
  const user = lastValue(Object.hasOwn(query, 'user') ? query.user : undefined);
  if (user !== undefined && user.length > 255) errors.add('user', { key: 'field_too_long', params: { max: 255 } });
  errors.done();
  const store = sessionStore(ctx);
  const userId = user === undefined || user === '' ? undefined : user;
  const rows = await store.listTokens({ userId, blacklisted, limit: limit + 1, offset });
  let count: number | null = null;
  if (userId === undefined) {
    const counts = await store.countTokens();
    count = blacklisted === undefined ? counts.outstanding : blacklisted ? counts.blacklisted : counts.outstanding - counts.blacklisted;
  }
  return { count, limit, offset, hasMore: rows.length > limit, results: rows.slice(0, limit).map(tokenView) };
}

/**
 * `POST flush/`: `restjwt flushexpiredtokens` from the admin — deletes the outstanding and blacklisted rows of tokens
 * that expired before now (on the service's clock), and expired access-token revocations. Returns how many tokens.
 */
export async function flushExpired(ctx: AdminContext): Promise<{ deleted: number }> {
  return { deleted: await ctx.store.flushExpired(ctx.now()) };
}
