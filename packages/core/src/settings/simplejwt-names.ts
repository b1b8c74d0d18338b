/**
 * SIMPLE_JWT names → restjwt names, so a Django settings dict can be pasted into a JSON config unchanged.
 * Names that have no meaning outside Django map to `null`: they are accepted and reported as ignored.
 */
export const SIMPLE_JWT_NAMES: Readonly<Record<string, string | null>> = {
  ACCESS_TOKEN_LIFETIME: 'accessTokenLifetime',
  REFRESH_TOKEN_LIFETIME: 'refreshTokenLifetime',
  SLIDING_TOKEN_LIFETIME: 'slidingTokenLifetime',
  SLIDING_TOKEN_REFRESH_LIFETIME: 'slidingTokenRefreshLifetime',
  ROTATE_REFRESH_TOKENS: 'rotateRefreshTokens',
  BLACKLIST_AFTER_ROTATION: 'blacklistAfterRotation',
  UPDATE_LAST_LOGIN: 'updateLastLogin',
  ALGORITHM: 'algorithm',
  SIGNING_KEY: 'signingKey',
  VERIFYING_KEY: 'verifyingKey',
  AUDIENCE: 'audience',
  ISSUER: 'issuer',
  JWK_URL: 'jwkUrl',
  LEEWAY: 'leeway',
  AUTH_HEADER_TYPES: 'authHeaderTypes',
  AUTH_HEADER_NAME: 'authHeaderName',
  USER_ID_FIELD: 'userIdField',
  USER_ID_CLAIM: 'userIdClaim',
  USER_AUTHENTICATION_RULE: null,
  AUTH_TOKEN_CLASSES: 'authTokenClasses',
  TOKEN_TYPE_CLAIM: 'tokenTypeClaim',
  JTI_CLAIM: 'jtiClaim',
  SLIDING_TOKEN_REFRESH_EXP_CLAIM: 'slidingTokenRefreshExpClaim',
  CHECK_REVOKE_TOKEN: 'checkRevokeToken',
  REVOKE_TOKEN_CLAIM: 'revokeTokenClaim',
  CHECK_USER_IS_ACTIVE: 'checkUserIsActive',
  JSON_ENCODER: null,
  TOKEN_USER_CLASS: null,
  TOKEN_OBTAIN_SERIALIZER: null,
  TOKEN_REFRESH_SERIALIZER: null,
  TOKEN_VERIFY_SERIALIZER: null,
  TOKEN_BLACKLIST_SERIALIZER: null,
  SLIDING_TOKEN_OBTAIN_SERIALIZER: null,
  SLIDING_TOKEN_REFRESH_SERIALIZER: null,
};

/** `HTTP_AUTHORIZATION` (Django's META key) → `authorization` (an HTTP header name). */
export function headerNameFromDjango(name: string): string {
  return name.replace(/^HTTP_/, '').replace(/_/g, '-').toLowerCase();
}

/** `rest_framework_simplejwt.tokens.AccessToken` → `access`; `SlidingToken` → `sliding`; other strings unchanged. */
export function tokenTypeFromDjangoClass(name: string): string {
  const last = name.split('.').pop() ?? name;
  const m = /^(Access|Sliding)Token$/.exec(last);
  return m?.[1] !== undefined ? m[1].toLowerCase() : name;
}
