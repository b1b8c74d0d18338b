/**
 * restjwt's framework-neutral core, as an application uses it: the `RestJwt` instance, settings, errors, permission
 * guards, the store contract's types and the user helpers (`@restjwt/core`). Adapters
 * (`@restjwt/{fastify,express,hono,nest}`) and stores (`@restjwt/{sqlite,sql,redis}`, `@restjwt/core/memory`) build on
 * it; the plumbing they share is in `adapter-kit.ts` (`@restjwt/core/adapter-kit`) and `store-kit.ts`
 * (`@restjwt/core/store-kit`).
 */
export { createRestJwt, RestJwt, type RestJwtOptions, type StreamingRequest, type Authorization } from './restjwt.js';
export type { AuthenticationObservation, EndpointObservation, Observer } from './observe.js';
export { combineObservers } from './observe.js';
export type { EndpointName, EndpointSpec } from './endpoints.js';
export type { CoreRequest, CoreResponse } from './http/types.js';
export * from './errors.js';
export { MissingPackageError } from './optional-package.js';
export type { Authentication, AuthenticateOptions, AuthUser } from './auth/authenticate.js';
export { tokenUser, isTokenUser, type TokenUser } from './auth/token-user.js';
export {
  isAuthenticated,
  isStaff,
  requireMfa,
  checkPermissions,
  accessPolicy,
  authenticationPolicy,
  type Permission,
  type GuardOptions,
  type GuardArgs,
  type AccessPolicy,
} from './auth/permissions.js';
export type { Hooks, LogEvent } from './handlers/context.js';
export type { MfaMethod, PendingLogin, SecondFactor } from './mfa/second-factor.js';
export { MFA_MAX_ATTEMPTS, MFA_TOKEN_LIFETIME_SECONDS } from './mfa/second-factor.js';
export type { Settings, SettingsInput, Algorithm, Duration, AuthTokenType } from './settings/types.js';
export { ALGORITHMS } from './settings/types.js';
export { resolveSettings, DEFAULT_SETTINGS } from './settings/resolve.js';
export type { Token, Clock } from './tokens/token-service.js';
export type { TokenKind } from './tokens/kinds.js';
export type { Keyset, ExtraVerifyKey } from './keys/keyset.js';
export type * from './store/types.js';
export { AUDIT_EVENT_TYPES } from './store/types.js';
export { appendAudit, audited, auditEvent, auditing, auditOrigin, type AuditFields, type AuditOrigin, type AuditSource } from './audit/events.js';
export type { StoreCapability, StoreCapabilityInterfaces, WithCapabilities } from './store/capabilities.js';
export { UserExistsError, StoreUnavailableError } from './store/errors.js';
export { createPasswordHasher, type PasswordAlgorithm, type PasswordHasher, type PasswordHasherOptions } from './passwords/index.js';
export { changePassword, deactivateUser, type UserAdmin } from './users/change-password.js';
export { publicFactor, publicIdentity, publicUser, type PublicFactor, type PublicIdentity, type PublicUser } from './users/public-user.js';
export { createUserNormalized, findUserByUsername, normalizeUsername } from './users/username.js';
export { builtinCatalogues, type MessageKey, type Catalogue } from './i18n/catalogue.js';
