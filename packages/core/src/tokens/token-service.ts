import { ConfigurationError, TokenError } from '../errors.js';
import { decodeBase64url } from '../jws/base64url.js';
import { nodeBuiltins } from '../jws/primitives.js';
import { signCompact, signCompactWeb } from '../jws/sign.js';
import { JwsError, verifyCompactPayload, verifyCompactPayloadWeb } from '../jws/verify.js';
import type { Keyset, NodeKeyset, VerifyKey, WebKeyset, WebVerifyKey } from '../keys/keyset.js';
import type { RemoteKeys } from '../keys/remote-jwks.js';
import type { Settings } from '../settings/types.js';
import type { UserRecord } from '../store/types.js';
import { invalidMessage, validateRegisteredClaims } from './claims.js';
import { lifetimeOf, type TokenKind } from './kinds.js';

/** A token being built or one that passed verification. `payload` keeps claim order, as simplejwt's dict does. */
export interface Token {
  readonly kind: TokenKind;
  readonly payload: Record<string, unknown>;
}

export interface DecodeOptions {
  /** Default true. False only for sliding refresh: `refresh_exp` decides there. */
  checkExp?: boolean;
}

/** A clock in milliseconds; injectable for tests. */
export type Clock = () => number;

/** node:crypto's randomUUID where there is one (no property lookups per call), WebCrypto's elsewhere. */
const randomUUID: () => string = nodeBuiltins?.crypto.randomUUID ?? (() => globalThis.crypto.randomUUID());

const NO_SIGNING_KEY = 'No signing key: this service can verify tokens but not issue them.';

/** uuid4 hex, as simplejwt's `jti`. */
export const newJti = (): string => randomUUID().replace(/-/g, '');

/**
 * simplejwt's token classes over prepared keys: create, copy, encode, and decode with its checks in its order
 * (signature and registered claims → `exp` present → `jti` present → `token_type`). Blacklist checks need the store
 * and live in the handlers.
 */
export class TokenService {
  private readonly reserved: ReadonlySet<string>;
  /** Keyed on {@link cacheKey}; an entry serves only the exact string it was verified from. */
  private readonly cache = new Map<number, CachedToken>();
  private readonly cacheSize: number;
  /**
   * The key set into the cache last, hence its newest entry whenever it is still in it (every set goes through
   * here; deletions do not reorder the rest). A hit on it needs no move to the end: for one client repeating its
   * token, that spares the Map a delete and an insert per request and the table rebuilds they cause.
   */
  private newest: number | undefined;

  constructor(
    readonly settings: Settings,
    private readonly keys: Keyset,
    private readonly clock: Clock = Date.now,
    private readonly remote?: RemoteKeys,
  ) {
    this.cacheSize = settings.verifiedTokenCacheSize;
    this.reserved = new Set([settings.tokenTypeClaim, 'exp', settings.jtiClaim, settings.userIdClaim, settings.slidingTokenRefreshExpClaim]);
  }

  /** Current time in seconds (float), as PyJWT compares. */
  nowSeconds(): number {
    // Date.now called as itself is inlined by the optimizing compiler; through the field it returns a boxed number.
    return (this.clock === Date.now ? Date.now() : this.clock()) / 1000;
  }

  /** A new token of `kind` with `token_type`, `exp`, `iat`, `jti` (and `refresh_exp` for sliding), in that order. */
  create(kind: Exclude<TokenKind, 'untyped'>): Token {
    const s = this.settings;
    const now = Math.floor(this.nowSeconds());
    const payload: Record<string, unknown> = {
      [s.tokenTypeClaim]: kind,
      exp: now + lifetimeOf(kind, s),
      iat: now,
      [s.jtiClaim]: newJti(),
    };
    if (kind === 'sliding') payload[s.slidingTokenRefreshExpClaim] = now + s.slidingTokenRefreshLifetime;
    if (s.audience !== undefined) payload.aud = s.audience;
    if (s.issuer !== undefined) payload.iss = s.issuer;
    return { kind, payload };
  }

  /** simplejwt's `Token.for_user`: a new token carrying the user's id (and token version, with checkRevokeToken). */
  forUser(kind: Exclude<TokenKind, 'untyped'>, user: UserRecord, customClaims?: Readonly<Record<string, unknown>>): Token {
    const token = this.create(kind);
    const s = this.settings;
    token.payload[s.userIdClaim] = String(user[s.userIdField]);
    if (s.checkRevokeToken) token.payload[s.revokeTokenClaim] = user.tokenVersion;
    if (customClaims !== undefined) {
      for (const [name, value] of Object.entries(customClaims)) {
        if (this.reserved.has(name)) {
          throw new ConfigurationError(`The custom claims hook may not set "${name}": restjwt owns that claim. Rename your claim.`);
        }
        token.payload[name] = value;
      }
    }
    return token;
  }

  /**
   * RefreshToken.access_token: a new access token that copies every claim of the refresh token except its type,
   * `exp` and `jti` (so `iat`, the user id and custom claims carry over, as in simplejwt).
   */
  accessFrom(refresh: Token): Token {
    const access = this.create('access');
    const s = this.settings;
    for (const [name, value] of Object.entries(refresh.payload)) {
      if (name === s.tokenTypeClaim || name === 'exp' || name === s.jtiClaim || name === 'jti') continue;
      access.payload[name] = value;
    }
    return access;
  }

  /** Rotation (and sliding refresh): a new `jti` (unless `keepJti`), `exp` and `iat`, every other claim kept in place. */
  renew(token: Token, options: { keepJti?: boolean } = {}): Token {
    const s = this.settings;
    const now = Math.floor(this.nowSeconds());
    const payload = { ...token.payload };
    payload.exp = now + lifetimeOf(token.kind, s);
    payload.iat = now;
    if (options.keepJti !== true) payload[s.jtiClaim] = newJti();
    return { kind: token.kind, payload };
  }

  /**
   * Signs a token: the string itself on the node path (synchronous), a promise of it on the web path (WebCrypto).
   * Throws when this service has only verifying keys.
   */
  encode(token: Token): string | Promise<string> {
    const keys = this.keys;
    if (keys.primitive === 'node') return this.encodeLocal(token);
    if (keys.signing === undefined) throw new ConfigurationError(NO_SIGNING_KEY);
    return encodeWeb(keys, token.payload);
  }

  /**
   * {@link encode} on the node path, typed as the string it is there; throws ConfigurationError with WebCrypto keys
   * (whose signatures are asynchronous: use encode()).
   */
  encodeLocal(token: Token): string {
    const keys = this.keys;
    if (keys.primitive !== 'node') {
      throw new ConfigurationError('encodeLocal is synchronous and needs node:crypto keys; with WebCrypto keys, use encode() (a promise).');
    }
    const signing = keys.signing;
    if (signing === undefined) throw new ConfigurationError(NO_SIGNING_KEY);
    return signCompact(signing.alg, signing.key, token.payload, signing.kid);
  }

  /** Whether a signing key is configured. */
  get canSign(): boolean {
    return this.keys.signing !== undefined;
  }

  /**
   * Verifies `raw` as a `kind` token (TokenError when refused): the token itself, or a synchronous throw, whenever the
   * local keys decide; a promise only when they refuse it and the remote JWKS (`jwkUrl`) must be asked. The
   * per-request path thus needs no promise and no microtask; callers that `await` it inside `try` see both alike.
   * On the web path (WebCrypto keys) a promise, except for a hit in the verified-token cache.
   */
  decode(raw: string, kind: TokenKind, options?: DecodeOptions): Token | Promise<Token> {
    if (this.keys.primitive === 'web') return this.lookUp(raw, kind, options) ?? this.decodeWeb(raw, kind, options);
    if (this.remote === undefined) return this.decodeLocal(raw, kind, options);
    try {
      return this.decodeLocal(raw, kind, options);
    } catch (err) {
      if (!(err instanceof TokenError)) throw err;
      const header = peekHeader(raw);
      if (header === null) throw err;
      return this.decodeRemote(this.remote, raw, header, kind, options, err);
    }
  }

  /**
   * `decode` with the local keys only, synchronous; throws TokenError.
   * Tokens that passed are remembered (bounded LRU; a hit needs the exact string): a hit re-checks only the time
   * claims, so an entry is never served past `exp`. Revocation is checked by the callers on every request, hit or not.
   * Only the kinds that authenticate requests (access, sliding) are remembered: a refresh token is presented once
   * per rotation, and remembering it would only push out the access tokens presented on every request.
   */
  decodeLocal(raw: string, kind: TokenKind, options?: DecodeOptions): Token {
    if (this.keys.primitive === 'web') {
      throw new ConfigurationError('decodeLocal is synchronous and needs node:crypto keys; with WebCrypto keys, use decode() (a promise).');
    }
    return this.lookUp(raw, kind, options) ?? this.remember(raw, kind, options, this.verifyLocal(raw, kind, options?.checkExp !== false));
  }

  /** Whether tokens of `kind` decoded with `options` go through the cache. */
  private cached(kind: TokenKind, options: DecodeOptions | undefined): boolean {
    // `options?` rather than a `= {}` default: the default would build an object on every call.
    return this.cacheSize > 0 && options?.checkExp !== false && (kind === 'access' || kind === 'sliding');
  }

  /** The cache's entry for `raw` as a `kind` token, if it holds one still within its time claims (then the newest). */
  private lookUp(raw: string, kind: TokenKind, options: DecodeOptions | undefined): Token | undefined {
    if (!this.cached(kind, options)) return undefined;
    const key = cacheKey(raw);
    const hit = this.cache.get(key);
    // The whole string decides a hit: the key only finds the one entry that may be it.
    if (hit === undefined || hit.raw !== raw || hit.kind !== kind) return undefined;
    const now = this.nowSeconds();
    const leeway = this.settings.leeway;
    if (hit.exp > now - leeway && (hit.notBefore === undefined || hit.notBefore <= now + leeway)) {
      if (key !== this.newest) {
        this.cache.delete(key);
        this.cache.set(key, hit);
        this.newest = key;
      }
      return hit;
    }
    this.cache.delete(key);
    return undefined;
  }

  /** Remembers a token that just passed verification (when its kind is cached); returns what decode returns. */
  private remember(raw: string, kind: TokenKind, options: DecodeOptions | undefined, token: Token): Token {
    if (!this.cached(kind, options)) return token;
    const key = cacheKey(raw);
    // The slot may hold another token with the same key, or this one under another type: it is replaced.
    if (!this.cache.delete(key) && this.cache.size >= this.cacheSize) this.cache.delete(this.cache.keys().next().value as number);
    Object.freeze(token.payload);
    const entry: CachedToken = { ...token, raw, exp: token.payload.exp as number, notBefore: notBefore(token.payload) };
    this.cache.set(key, entry);
    this.newest = key;
    return entry;
  }

  /** The web path of {@link decode}: the keys' import awaited (once), the same verifier over WebCrypto, then the same checks. */
  private async decodeWeb(raw: string, kind: TokenKind, options: DecodeOptions | undefined): Promise<Token> {
    const keys = this.keys as WebKeyset;
    await keys.ready();
    let payload: Record<string, unknown>;
    try {
      payload = await verifyCompactPayloadWeb(raw, keys.verifying, this.settings.maxTokenLength);
    } catch (err) {
      if (!(err instanceof JwsError)) throw err;
      const local = new TokenError(invalidMessage(this.settings));
      const header = this.remote === undefined ? null : peekHeader(raw);
      if (header === null) throw local;
      return this.decodeRemote(this.remote as RemoteKeys, raw, header, kind, options, local);
    }
    return this.remember(raw, kind, options, this.checkPayload(payload, kind, options?.checkExp !== false));
  }

  /** Signature against the local keys, then the claims: the uncached work of {@link decodeLocal}. */
  private verifyLocal(raw: string, kind: TokenKind, checkExp: boolean): Token {
    let payload: Record<string, unknown>;
    try {
      payload = verifyCompactPayload(raw, (this.keys as NodeKeyset).verifying, this.settings.maxTokenLength);
    } catch (err) {
      if (err instanceof JwsError) throw new TokenError(invalidMessage(this.settings));
      throw err;
    }
    return this.checkPayload(payload, kind, checkExp);
  }

  /**
   * The remote JWKS's key for `header`, then the same checks; rejects with `localError` (what the local keys said)
   * when it has no such key or the signature does not verify with it.
   */
  private async decodeRemote(
    remote: RemoteKeys,
    raw: string,
    header: { alg: string; kid?: string },
    kind: TokenKind,
    options: DecodeOptions | undefined,
    localError: TokenError,
  ): Promise<Token> {
    const key = await remote.keyFor(header, this.keys.primitive);
    if (key === null) throw localError;
    let payload: Record<string, unknown>;
    try {
      // The remote key is of the keyset's kind: a KeyObject for node keysets, jose's CryptoKey for web ones.
      payload =
        this.keys.primitive === 'node'
          ? verifyCompactPayload(raw, [key as VerifyKey], this.settings.maxTokenLength)
          : await verifyCompactPayloadWeb(raw, [key as WebVerifyKey], this.settings.maxTokenLength);
    } catch (err) {
      if (err instanceof JwsError) throw localError;
      throw err;
    }
    return this.checkPayload(payload, kind, options?.checkExp !== false);
  }

  private checkPayload(payload: Record<string, unknown>, kind: TokenKind, checkExp: boolean): Token {
    const s = this.settings;
    validateRegisteredClaims(payload, s, this.nowSeconds(), checkExp);
    if (payload.exp === undefined) throw new TokenError({ key: 'token_no_claim', params: { claim: 'exp' } });
    const jti = payload[s.jtiClaim];
    if (jti === undefined) throw new TokenError({ key: 'token_no_id' });
    // A jti that is not a short string cannot key the blacklist: refuse instead of guessing.
    if (typeof jti !== 'string' || jti.length === 0 || jti.length > 255) throw new TokenError(invalidMessage(s));
    if (kind !== 'untyped') {
      const type = payload[s.tokenTypeClaim];
      if (type === undefined) throw new TokenError({ key: 'token_no_type' });
      if (type !== kind) throw new TokenError({ key: 'token_wrong_type' });
    }
    return { kind, payload };
  }
}

/** A verified token as the cache holds it: the string it was verified from, and the times a hit re-checks. */
interface CachedToken extends Token {
  readonly raw: string;
  readonly exp: number;
  /** The later of `nbf` and `iat`: before it (minus leeway) the token is not yet valid. */
  readonly notBefore: number | undefined;
}

function notBefore(payload: Readonly<Record<string, unknown>>): number | undefined {
  const { nbf, iat } = payload;
  if (typeof nbf !== 'number') return typeof iat === 'number' ? iat : undefined;
  return typeof iat === 'number' && iat > nbf ? iat : nbf;
}

/**
 * The cache's key for a token string: a hash of its length and last 8 characters (the signature's) as a small
 * integer. A Map keyed on the string itself hashes all of it for every request (each request's header is a new
 * string), which cost more than the rest of a hit; a colliding token only makes a miss, since a hit compares the
 * whole string.
 */
function cacheKey(raw: string): number {
  let h = raw.length;
  for (let i = raw.length > 8 ? raw.length - 8 : 0; i < raw.length; i++) h = (Math.imul(h, 31) + raw.charCodeAt(i)) | 0;
  // Within V8's small-integer range on every platform: no heap number for the key.
  return h & 0x3fffffff;
}

function peekHeader(raw: string): { alg: string; kid?: string } | null {
  const dot = raw.indexOf('.');
  if (dot <= 0 || dot > 2048) return null;
  try {
    // Strict: a header the verifier would refuse as non-canonical is not worth a JWKS fetch.
    const bytes = decodeBase64url(raw.slice(0, dot));
    if (bytes === null) return null;
    const h = JSON.parse(new TextDecoder().decode(bytes)) as unknown;
    if (h === null || typeof h !== 'object' || typeof (h as { alg?: unknown }).alg !== 'string') return null;
    const kid = (h as { kid?: unknown }).kid;
    return { alg: (h as { alg: string }).alg, ...(typeof kid === 'string' ? { kid } : {}) };
  } catch {
    return null;
  }
}

/** Signs on the web path: the keys' import awaited (once), then WebCrypto. */
async function encodeWeb(keys: WebKeyset, payload: Readonly<Record<string, unknown>>): Promise<string> {
  await keys.ready();
  const signing = keys.signing as NonNullable<WebKeyset['signing']>;
  return signCompactWeb(signing.alg, signing.key, payload, signing.kid);
}
