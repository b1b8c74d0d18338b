import { authCookies, checkCsrf, isUnsafeMethod } from '../http/cookie-mode.js';
import { AuthenticationFailed, DuplicateAuthorizationHeader, InvalidToken, TokenError, type TokenClassFailure } from '../errors.js';
import type { Settings } from '../settings/types.js';
import { immediateUserLookup } from '../store/capabilities.js';
import type { TokenStore, UserLookupField, UserRecord, UserStore } from '../store/types.js';
import { TOKEN_CLASS_NAMES, type TokenKind } from '../tokens/kinds.js';
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

/**
 * The raw token from the configured header, null when the request is anonymous (simplejwt's get_raw_token).
 * Throws {@link DuplicateAuthorizationHeader} when the value holds several copies of the header joined by commas
 * (as web `Headers`, Node adapters and proxies join repeated field lines) and one of them is of a configured type:
 * a comma after `Bearer <token>` (a token68 has none), or a configured type starting a later comma-separated part.
 * Copies that are all of other schemes (`Basic …, Basic …`) stay anonymous, as one of them would be.
 */
export function rawTokenFromHeader(value: string | undefined, settings: Settings): string | null {
  if (value === undefined) return null;
  const types = settings.authHeaderTypes;
  // The usual `Bearer <token>`: one space between two non-empty words and no other whitespace splits exactly as
  // below, without the regular expression and the arrays (a memchr per whitespace character instead).
  const space = value.indexOf(' ');
  if (space > 0 && space < value.length - 1 && value.indexOf(' ', space + 1) === -1 && !hasOtherWhitespace(value)) {
    if (isHeaderType(value, space, types)) {
      if (value.indexOf(',', space + 1) !== -1) throw new DuplicateAuthorizationHeader();
      return value.slice(space + 1);
    }
    if (joinsConfiguredType(value, types)) throw new DuplicateAuthorizationHeader();
    return null;
  }
  if (value.indexOf(',') !== -1 && (startsWithConfiguredType(value, 0, types) || joinsConfiguredType(value, types))) {
    throw new DuplicateAuthorizationHeader();
  }
  // Python's str.split(): any run of whitespace separates, leading/trailing ignored.
  const parts = value.split(/[\t\n\v\f\r ]+/).filter((p) => p.length > 0);
  if (parts.length === 0 || !settings.authHeaderTypes.includes(parts[0] as string)) return null;
  if (parts.length !== 2) throw new AuthenticationFailed('bad_authorization_header');
  return parts[1] as string;
}

/** Whether `value`'s first `length` characters are one of `types` (`includes(value.slice(0, length))`, without the slice). */
function isHeaderType(value: string, length: number, types: readonly string[]): boolean {
  for (const type of types) if (type.length === length && value.startsWith(type)) return true;
  return false;
}

/** Python's whitespace, which its `split()` separates on: tab, LF, VT, FF, CR, space. */
const isSpace = (c: number): boolean => c === 32 || (c >= 9 && c <= 13);

/** Whether a configured type, followed by whitespace or the end, starts `value` at `from` (after any whitespace). */
function startsWithConfiguredType(value: string, from: number, types: readonly string[]): boolean {
  let i = from;
  while (i < value.length && isSpace(value.charCodeAt(i))) i++;
  for (const type of types) {
    if (value.startsWith(type, i) && (i + type.length === value.length || isSpace(value.charCodeAt(i + type.length)))) return true;
  }
  return false;
}

/** Whether a part after a comma starts with a configured type: a copy of the header joined to another. */
function joinsConfiguredType(value: string, types: readonly string[]): boolean {
  for (let comma = value.indexOf(','); comma !== -1; comma = value.indexOf(',', comma + 1)) {
    if (startsWithConfiguredType(value, comma + 1, types)) return true;
  }
  return false;
}

const hasOtherWhitespace = (value: string): boolean =>
  value.indexOf('\t') !== -1 || value.indexOf('\n') !== -1 || value.indexOf('\v') !== -1 || value.indexOf('\f') !== -1 || value.indexOf('\r') !== -1;

/** Whether a token of `kind` that verified must still be looked up in the store before it is accepted. */
const needsStoreCheck = (kind: TokenKind, settings: Settings): boolean => kind === 'sliding' || (kind === 'access' && settings.revokeAccessTokens);

/**
 * simplejwt's get_validated_token: the first of the allowed token classes that accepts the token, else
 * InvalidToken with one failure per class, in order. Returns the token itself (no promise, no microtask) when the
 * class that accepts it needs nothing awaited: local keys and no store lookup, the per-request case. At the first
 * class that does need awaiting it hands over, once, to {@link validateAwaiting}. `failures` is made at the first
 * refusal: an accepted token allocates no list.
 */
export function validateToken(raw: string, tokens: TokenService, store: TokenStore): Token | Promise<Token> {
  const classes = tokens.settings.authTokenClasses;
  let failures: TokenClassFailure[] | undefined;
  for (let i = 0; i < classes.length; i++) {
    const kind = classes[i] as TokenKind;
    try {
      const token = tokens.decode(raw, kind);
      if (token instanceof Promise || needsStoreCheck(kind, tokens.settings)) return validateAwaiting(raw, tokens, store, i, token, failures);
      return token;
    } catch (err) {
      (failures ??= []).push(classFailure(kind, err));
    }
  }
  throw noClassAccepts(failures);
}

/**
 * {@link validateToken}'s loop from the class at `start` on, awaiting what must be awaited (a remote key, the store's
 * revocation lookups). `pending` is that class's decode, already started; the later classes are decoded here.
 */
async function validateAwaiting(
  raw: string,
  tokens: TokenService,
  store: TokenStore,
  start: number,
  pending: Token | Promise<Token>,
  failures: TokenClassFailure[] | undefined,
): Promise<Token> {
  const s = tokens.settings;
  const classes = s.authTokenClasses;
  for (let i = start; i < classes.length; i++) {
    const kind = classes[i] as TokenKind;
    try {
      const token = await (i === start ? pending : tokens.decode(raw, kind));
      const jti = token.payload[s.jtiClaim] as string;
      // Sliding tokens are blacklistable (simplejwt's BlacklistMixin); access tokens are not stored.
      if (kind === 'sliding' && (await store.isBlacklisted(jti))) throw new TokenError({ key: 'token_blacklisted' });
      // With revokeAccessTokens, a logged-out access token is refused at once (one indexed lookup).
      if (kind === 'access' && s.revokeAccessTokens && (await store.isAccessRevoked(jti))) throw new TokenError({ key: 'token_blacklisted' });
      return token;
    } catch (err) {
      (failures ??= []).push(classFailure(kind, err));
    }
  }
  throw noClassAccepts(failures);
}

/** A class's refusal for the failures list; anything but a TokenError is rethrown. */
function classFailure(kind: TokenKind, err: unknown): TokenClassFailure {
  if (!(err instanceof TokenError)) throw err;
  return { tokenClass: TOKEN_CLASS_NAMES[kind], tokenType: kind, message: err.msg };
}

const noClassAccepts = (failures: TokenClassFailure[] | undefined): InvalidToken => new InvalidToken({ key: 'token_not_valid_for_any' }, failures ?? []);

/** The user id claim as a string: simplejwt 5.2 wrote integers, 5.5 writes strings; both are accepted. */
export function userIdFromClaims(payload: Readonly<Record<string, unknown>>, settings: Settings): string | null {
  const id = payload[settings.userIdClaim];
  if (typeof id === 'string' && id.length > 0 && id.length <= 255) return id;
  if (typeof id === 'number' && Number.isSafeInteger(id)) return String(id);
  return null;
}

function requiredUserId(token: Token, settings: Settings): string {
  const id = userIdFromClaims(token.payload, settings);
  if (id === null) throw new InvalidToken({ key: 'token_no_user_id' });
  return id;
}

/** The checks of get_user on the user the store found (null: none). */
function checkedUser(user: UserRecord | null, token: Token, settings: Settings): UserRecord {
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

/** A user lookup answered at once (a store's `findUserNow`, see `immediateUserLookup`). */
export type UserLookupNow = (field: UserLookupField, value: string) => UserRecord | null;

/**
 * Authenticates a request from its headers: null for an anonymous request (no header, or another scheme), an
 * `Authentication` for a valid token, and an `ApiError` (401) for anything else. Stateless authentication reads the
 * token store only for a sliding token's blacklist entry (simplejwt's BlacklistMixin), never the user store.
 */
export function authenticateRequest(
  headers: Readonly<Record<string, string | undefined>>,
  tokens: TokenService,
  store: TokenStore & UserStore,
  options: AuthenticateOptions = {},
): Promise<Authentication<UserRecord | TokenUser> | null> {
  try {
    return Promise.resolve(authenticateNow(headers, tokens, store, options, immediateUserLookup(store)));
  } catch (err) {
    return Promise.reject(err);
  }
}

/**
 * {@link authenticateRequest}'s answer itself when nothing must be awaited (local keys, no revocation lookup, and a
 * stateless request or a `lookUpNow` for the user), else its promise; throws what that promise would reject with.
 * A guarded request on the memory or SQLite store allocates no promise and waits for no microtask turn.
 */
export function authenticateNow(
  headers: Readonly<Record<string, string | undefined>>,
  tokens: TokenService,
  store: TokenStore & UserStore,
  options: AuthenticateOptions,
  lookUpNow: UserLookupNow | undefined,
): Authentication<UserRecord | TokenUser> | null | Promise<Authentication<UserRecord | TokenUser> | null> {
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
  // Validation returns the token itself when it can (no remote key, no store read).
  const validated = validateToken(raw, tokens, store);
  return validated instanceof Promise
    ? validated.then((token) => authenticated(token, tokens.settings, store, options, lookUpNow))
    : authenticated(validated, tokens.settings, store, options, lookUpNow);
}

/**
 * The `Authentication` for a valid token: its TokenUser (stateless), or the store's user after the checks of simplejwt's
 * JWTAuthentication.get_user (found, active, token not revoked).
 */
function authenticated(
  token: Token,
  settings: Settings,
  store: UserStore,
  options: AuthenticateOptions,
  lookUpNow: UserLookupNow | undefined,
): Authentication<UserRecord | TokenUser> | Promise<Authentication<UserRecord | TokenUser>> {
  if (options.stateless === true) return { user: tokenUserForToken(token, settings), token };
  const id = requiredUserId(token, settings);
  if (lookUpNow !== undefined) return { user: checkedUser(lookUpNow(settings.userIdField, id), token, settings), token };
  return store.findUser(settings.userIdField, id).then((user) => ({ user: checkedUser(user, token, settings), token }));
}
