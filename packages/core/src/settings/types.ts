import type { UserRecord } from '../store/types.js';

/** Algorithms a token may be signed with (RFC 7518 + RFC 8037). `none` is not one of them. */
export const ALGORITHMS = [
  'HS256', 'HS384', 'HS512',
  'RS256', 'RS384', 'RS512',
  'PS256', 'PS384', 'PS512',
  'ES256', 'ES384', 'ES512',
  'EdDSA',
] as const;
export type Algorithm = (typeof ALGORITHMS)[number];

/** One throttling limit. */
export interface ThrottleRuleSetting {
  readonly limit: number;
  readonly windowSeconds: number;
}

/** The three login-throttling limits. */
export interface LoginThrottleSettings {
  readonly perUsernameAndAddress: ThrottleRuleSetting;
  readonly perUsername: ThrottleRuleSetting;
  readonly perAddress: ThrottleRuleSetting;
}

/** One entry of `additionalVerifyingKeys`. */
export interface VerifyingKeySetting {
  readonly alg: Algorithm;
  /** PEM or JWK JSON (public key), or the shared secret for HMAC. */
  readonly key: string;
  readonly kid?: string;
}

/** Token types that may authenticate a request (simplejwt's AUTH_TOKEN_CLASSES). */
export type AuthTokenType = 'access' | 'sliding';

/** Which simplejwt release's token messages to speak: 5.5 splits "invalid" and "expired", 5.2 joins them. */
export type MessageVersion = '5.5' | '5.2';

/** A duration: seconds, a string such as `"5m"`, `"1d"`, `"90s"`, `"2h30m"`, or a timedelta-like object. */
export type Duration = number | string | { days?: number; hours?: number; minutes?: number; seconds?: number };

/**
 * Settings, validated and frozen. simplejwt's SIMPLE_JWT names are given beside each; the defaults are simplejwt's
 * so that a Django team migrates without surprises.
 */
export interface Settings {
  /** ACCESS_TOKEN_LIFETIME, seconds. Default 300. */
  readonly accessTokenLifetime: number;
  /** REFRESH_TOKEN_LIFETIME, seconds. Default 86400. */
  readonly refreshTokenLifetime: number;
  /** SLIDING_TOKEN_LIFETIME, seconds. Default 300. */
  readonly slidingTokenLifetime: number;
  /** SLIDING_TOKEN_REFRESH_LIFETIME, seconds. Default 86400. */
  readonly slidingTokenRefreshLifetime: number;
  /** ROTATE_REFRESH_TOKENS. Default false. */
  readonly rotateRefreshTokens: boolean;
  /** BLACKLIST_AFTER_ROTATION. Default false. */
  readonly blacklistAfterRotation: boolean;
  /**
   * Seconds during which a refresh token that was just rotated may be presented again and get the same successor
   * (a client that lost the response, or parallel tabs) instead of counting as reuse. Default 0 (no grace).
   */
  readonly refreshReuseInterval: number;
  /**
   * Absolute lifetime of a refresh-token family, seconds from the login (`auth_time` claim). Rotation never extends a
   * session past it. Default 0 (off).
   */
  readonly refreshFamilyMaxAge: number;
  /** Accept an `access` field at logout and refuse that access token's jti until its exp, checked on every request. Default false. */
  readonly revokeAccessTokens: boolean;
  /** UPDATE_LAST_LOGIN. Default false. */
  readonly updateLastLogin: boolean;
  /** ALGORITHM. Default HS256. */
  readonly algorithm: Algorithm;
  /** SIGNING_KEY: the HMAC secret, or a private key (PEM or JWK JSON) for asymmetric algorithms. */
  readonly signingKey: string | undefined;
  /** VERIFYING_KEY: the public key (PEM or JWK JSON); derived from the signing key when omitted. */
  readonly verifyingKey: string | undefined;
  /** Key id put in the `kid` header of issued tokens (optional). */
  readonly signingKeyId: string | undefined;
  /**
   * More keys that verify (but never sign): a retired signing key during rotation, so nobody is logged out, or
   * another issuer's key. Each has one algorithm and an optional `kid`.
   */
  readonly additionalVerifyingKeys: readonly VerifyingKeySetting[];
  /** AUDIENCE: put in `aud` and required on verification when set. */
  readonly audience: string | readonly string[] | undefined;
  /** ISSUER: put in `iss` and required on verification when set. */
  readonly issuer: string | undefined;
  /** JWK_URL: verify with keys fetched from this JWKS (by `kid`). */
  readonly jwkUrl: string | undefined;
  /** LEEWAY, seconds of clock skew allowed on `exp`/`nbf`. Default 0. */
  readonly leeway: number;
  /** AUTH_HEADER_TYPES. Default ["Bearer"]. */
  readonly authHeaderTypes: readonly string[];
  /** AUTH_HEADER_NAME as an HTTP header name, lower-case. Default "authorization" (Django's HTTP_AUTHORIZATION). */
  readonly authHeaderName: string;
  /** USER_ID_FIELD. Default "id". */
  readonly userIdField: 'id' | 'username' | 'email';
  /** USER_ID_CLAIM. Default "user_id". */
  readonly userIdClaim: string;
  /** USER_AUTHENTICATION_RULE: may this user log in / refresh? Default: the user is active. */
  readonly userAuthenticationRule: (user: UserRecord | null) => boolean;
  /** AUTH_TOKEN_CLASSES. Default ["access"]. */
  readonly authTokenClasses: readonly AuthTokenType[];
  /** TOKEN_TYPE_CLAIM. Default "token_type". */
  readonly tokenTypeClaim: string;
  /** JTI_CLAIM. Default "jti". */
  readonly jtiClaim: string;
  /** SLIDING_TOKEN_REFRESH_EXP_CLAIM. Default "refresh_exp". */
  readonly slidingTokenRefreshExpClaim: string;
  /** CHECK_REVOKE_TOKEN: put the user's token version in tokens and refuse tokens whose version is stale. */
  readonly checkRevokeToken: boolean;
  /** REVOKE_TOKEN_CLAIM. Default "hash_password". */
  readonly revokeTokenClaim: string;
  /** CHECK_USER_IS_ACTIVE. Default true. */
  readonly checkUserIsActive: boolean;
  /**
   * Rewrite a password hash that is not current argon2id (a Django hash, older parameters) at the next successful
   * login. Default true. Turn it off when another system reads the same user table (a Django deployment sharing its
   * database): that system may not verify the new hash. `restjwt serve` turns it off for `django+…` databases.
   */
  readonly rehashPasswords: boolean;
  /** The user field login matches the `username` credential against (Django's USERNAME_FIELD). Default "username". */
  readonly usernameField: 'username' | 'email';
  /** Locales the error messages can be rendered in, picked by Accept-Language. Default ["en"]. */
  readonly locales: readonly string[];
  /** simplejwt release whose token messages are spoken. Default "5.5". */
  readonly messageVersion: MessageVersion;
  /** Largest accepted request body on token endpoints, bytes. Default 65536. */
  readonly maxBodyBytes: number;
  /**
   * Verified tokens remembered so that a repeated token skips the signature check (0 turns it off). Time claims
   * and revocation are still checked on every use. Default 1000.
   */
  readonly verifiedTokenCacheSize: number;
  /**
   * Cookie mode (the seed's "JWT and cookie-based auth combo"): `refresh` puts the refresh token in an HttpOnly
   * cookie (never in the body); `both` puts the access token in one too. Default `off`.
   */
  readonly cookieMode: 'off' | 'refresh' | 'both';
  /** Secure cookies with `__Host-`/`__Secure-` names. Default true; turn off only for plain-http development. */
  readonly cookieSecure: boolean;
  /** SameSite of the auth cookies. Default `Strict`. */
  readonly cookieSameSite: 'Strict' | 'Lax';
  /** Origins (scheme://host[:port]) allowed to make cookie-authenticated unsafe requests besides the API's own. */
  readonly csrfTrustedOrigins: readonly string[];
  /** Addresses or CIDR ranges of reverse proxies whose X-Forwarded-For is believed. Default none. */
  readonly trustedProxies: readonly string[];
  /**
   * Login throttling: failed logins counted per username+address, per username and per address; over a limit,
   * 429 with Retry-After (even for the right password). `false` turns it off (simplejwt has none). Default off
   * in the library, on in `restjwt serve`.
   */
  readonly loginThrottle: LoginThrottleSettings | false;
  /**
   * Write the audit log (logins, refusals, reuse, logouts, password and admin changes) where the store keeps one (the
   * `audit` capability: memory, SQLite, PostgreSQL, MariaDB). Default true.
   */
  readonly auditLog: boolean;
  /** How long audit events are kept: `restjwt flushaudit` deletes older ones. Default 90 days. */
  readonly auditRetention: number;
  /** Largest accepted token, characters; longer tokens are refused before any parsing. Default 8192. */
  readonly maxTokenLength: number;
}

/** What a user may pass: any subset, with durations in any accepted form. */
export type SettingsInput = {
  [K in keyof Settings]?: Settings[K] extends number
    ? K extends 'leeway' | 'refreshReuseInterval' | 'refreshFamilyMaxAge' | 'auditRetention' | `${string}Lifetime`
      ? Duration
      : number
    : Settings[K] extends readonly (infer E)[]
      ? readonly E[] | E[]
      : Settings[K];
};
