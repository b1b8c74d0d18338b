import { authCookies, checkCsrf, isUnsafeMethod } from '../http/cookie-mode.js';
import { AuthenticationFailed, InvalidToken, TokenError, type TokenClassFailure } from '../errors.js';
import type { Settings } from '../settings/types.js';
import type { TokenStore, UserRecord, UserStore } from '../store/types.js';
import { TOKEN_CLASS_NAMES } from '../tokens/kinds.js';
import type { Token, TokenService } from '../tokens/token-service.js';
import { tokenUser, type TokenUser } from './token-user.js';

/** What a successful authentication attaches to a request. */
export interface Authentication<U = UserRecord> {
  user: U;
  /** The validated token (access, or sliding when allowed). */
  token: Token;
}

/** How a request is authenticated. */
export interface AuthenticateOptions<S extends boolean = boolean> {
  /**
   * simplejwt's `JWTStatelessUserAuthentication`: the user is a {@link TokenUser} built from the token's claims, and
   * the user store is not read (no lookup, no `isActive` or revoke-token check). Default false.
   */
  stateless?: S;
  /**
   * The request method. With cookieMode `both`, a request authenticated by the access cookie with an unsafe
   * method must pass the CSRF check; unknown methods count as unsafe.
   */
  method?: string;
}

/** The user type an authentication yields: a `TokenUser` when stateless, the store's `UserRecord` otherwise. */
export type AuthUser<S extends boolean = false> = S extends true ? TokenUser : UserRecord;

/** The raw token from the configured header, null when the request is anonymous (simplejwt's get_raw_token). */
export function rawTokenFromHeader(value: string | undefined, settings: Settings): string | null {
  if (value === undefined) return null;
  // Python's str.split(): any run of whitespace separates, leading/trailing ignored.
  const parts = value.split(/[\t\n\v\f\r ]+/).filter((p) => p.length > 0);
  if (parts.length === 0 || !settings.authHeaderTypes.includes(parts[0] as string)) return null;
  if (parts.length !== 2) throw new AuthenticationFailed('bad_authorization_header');
  return parts[1] as string;
}

/** simplejwt's get_validated_token: the first of the allowed token classes that accepts the token. */
export async function validateAuthToken(raw: string, tokens: TokenService, store: TokenStore): Promise<Token> {
  const failures: TokenClassFailure[] = [];
  for (const kind of tokens.settings.authTokenClasses) {
    try {
      const token = await tokens.decode(raw, kind);
      // Sliding tokens are blacklistable (simplejwt's BlacklistMixin); access tokens are not stored.
      if (kind === 'sliding' && (await store.isBlacklisted(token.payload[tokens.settings.jtiClaim] as string))) {
        throw new TokenError({ key: 'token_blacklisted' });
      }
      // With revokeAccessTokens, a logged-out access token is refused at once (one indexed lookup).
      if (kind === 'access' && tokens.settings.revokeAccessTokens && (await store.isAccessRevoked(token.payload[tokens.settings.jtiClaim] as string))) {
        throw new TokenError({ key: 'token_blacklisted' });
      }
      return token;
    } catch (err) {
      if (!(err instanceof TokenError)) throw err;
      failures.push({ tokenClass: TOKEN_CLASS_NAMES[kind], tokenType: kind, message: err.msg });
    }
  }
  throw new InvalidToken({ key: 'token_not_valid_for_any' }, failures);
}

/** The user id claim as a string: simplejwt 5.2 wrote integers, 5.5 writes strings; both are accepted. */
export function userIdFromClaims(payload: Readonly<Record<string, unknown>>, settings: Settings): string | null {
  const id = payload[settings.userIdClaim];
  if (typeof id === 'string' && id.length > 0 && id.length <= 255) return id;
  if (typeof id === 'number' && Number.isSafeInteger(id)) return String(id);
  return null;
}

/** simplejwt's JWTAuthentication.get_user: the token's user, active, with an unrevoked token. */
export async function userForToken(token: Token, settings: Settings, users: UserStore): Promise<UserRecord> {
  const id = userIdFromClaims(token.payload, settings);
  if (id === null) throw new InvalidToken({ key: 'token_no_user_id' });
  const user = await users.findUser(settings.userIdField, id);
  if (user === null) throw new AuthenticationFailed('user_not_found');
  if (settings.checkUserIsActive && !user.isActive) throw new AuthenticationFailed('user_inactive');
  if (settings.checkRevokeToken && token.payload[settings.revokeTokenClaim] !== user.tokenVersion) {
    throw new AuthenticationFailed('password_changed');
  }
  return user;
}

/** simplejwt's JWTStatelessUserAuthentication.get_user: a TokenUser from the claims, with no store read. */
export function tokenUserForToken(token: Token, settings: Settings): TokenUser {
  const id = userIdFromClaims(token.payload, settings);
  if (id === null) throw new InvalidToken({ key: 'token_no_user_id' });
  return tokenUser(id, token.payload);
}

/**
 * Authenticates a request from its headers: null for an anonymous request (no header, or another scheme), an
 * `Authentication` for a valid token, and an `ApiError` (401) for anything else. Stateless authentication reads the
 * token store only for a sliding token's blacklist entry (simplejwt's BlacklistMixin), never the user store.
 */
export async function authenticateRequest(
  headers: Readonly<Record<string, string | undefined>>,
  tokens: TokenService,
  store: TokenStore & UserStore,
  options: AuthenticateOptions = {},
): Promise<Authentication<UserRecord | TokenUser> | null> {
  let raw = rawTokenFromHeader(headers[tokens.settings.authHeaderName], tokens.settings);
  if (raw === null && tokens.settings.cookieMode === 'both') {
    // The header wins; the cookie is the browser's way in, and a cookie rides along with forged requests too.
    const cookie = authCookies(headers, tokens.settings).access;
    if (cookie !== undefined && cookie !== '') {
      if (isUnsafeMethod(options.method ?? 'POST')) checkCsrf(headers, tokens.settings);
      raw = cookie;
    }
  }
  if (raw === null) return null;
  const token = await validateAuthToken(raw, tokens, store);
  const user = options.stateless === true ? tokenUserForToken(token, tokens.settings) : await userForToken(token, tokens.settings, store);
  return { user, token };
}
