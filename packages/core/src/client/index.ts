/**
 * `@restjwt/core/client`: a typed, dependency-free client for restjwt and simplejwt servers (browsers and Node).
 *
 * @packageDocumentation
 */
export { RestJwtClient, type RestJwtClientOptions, type ClientEventName, type ClientEventMap, type LoginResult, type MfaMethodName } from './client.js';
export { RestJwtClientError } from './errors.js';
export {
  memoryStorage,
  webStorage,
  cookieStorage,
  isCookieStorage,
  readCookie,
  type TokenPair,
  type TokenStorage,
  type WebStorageLike,
  type CookieModeStorage,
  type CookieStorageOptions,
} from './storage.js';
export { inProcessLock, defaultLock, type LockFn } from './lock.js';
export { decodeClaims, expiresAt } from './claims.js';
