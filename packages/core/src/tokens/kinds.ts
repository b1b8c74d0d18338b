import type { Settings } from '../settings/types.js';

/** The token classes of simplejwt, as data. `untyped` is UntypedToken: any type verifies. */
export type TokenKind = 'access' | 'refresh' | 'sliding' | 'untyped';

/** simplejwt's class names, used in the `messages` array of authentication failures. */
export const TOKEN_CLASS_NAMES: Readonly<Record<TokenKind, string>> = {
  access: 'AccessToken',
  refresh: 'RefreshToken',
  sliding: 'SlidingToken',
  untyped: 'UntypedToken',
};

/** Lifetime of a new token of `kind`, seconds. */
export function lifetimeOf(kind: TokenKind, settings: Settings): number {
  switch (kind) {
    case 'access':
      return settings.accessTokenLifetime;
    case 'refresh':
      return settings.refreshTokenLifetime;
    case 'sliding':
      return settings.slidingTokenLifetime;
    case 'untyped':
      return 0;
  }
}

/** The `token_type` claim value of `kind`, or null for untyped. */
export function typeClaimOf(kind: TokenKind): string | null {
  return kind === 'untyped' ? null : kind;
}
