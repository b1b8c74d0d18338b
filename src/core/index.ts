/**
 * restjwt's framework-neutral core. Adapters (`restjwt/adapters/*`) and stores (`restjwt/stores/*`) build on it.
 */
export { createRestJwt, RestJwt, type RestJwtOptions, type StreamingRequest, type Authorization } from './restjwt.js';
export { ENDPOINTS, type EndpointName, type EndpointSpec } from './endpoints.js';
export type { CoreRequest, CoreResponse } from './http/types.js';
export { BASE_HEADERS } from './http/types.js';
export { mediaType } from './http/parse-body.js';
export * from './errors.js';
export type { Authentication, AuthenticateOptions, AuthUser } from './auth/authenticate.js';
export { tokenUser, isTokenUser, type TokenUser } from './auth/token-user.js';
export {
  isAuthenticated,
  isStaff,
  checkPermissions,
  accessPolicy,
  authenticationPolicy,
  type Permission,
  type GuardOptions,
  type GuardArgs,
  type AccessPolicy,
} from './auth/permissions.js';
export {
  headerRecord,
  readRawBody,
  nodeHeaderMap,
  nodeHeaderRecord,
  repeatedHeader,
  tokenRoutes,
  matchTokenRoute,
  slashRedirect,
  splitTarget,
  responseText,
  outgoingHeaders,
  type HeaderMap,
  type HeaderInput,
  type NodeHeaders,
  type BodySource,
  type TokenRoute,
  type RouteMatch,
} from './http/transport.js';
export { endpointSchema, requestFields, ERROR_SCHEMA, FIELD_ERRORS_SCHEMA, type EndpointSchema, type JsonSchema } from './http/schemas.js';
export type { Hooks, LogEvent } from './handlers/context.js';
export type { Settings, SettingsInput, Algorithm, Duration, AuthTokenType } from './settings/types.js';
export { ALGORITHMS } from './settings/types.js';
export { resolveSettings, DEFAULT_SETTINGS } from './settings/resolve.js';
export type { Token, Clock } from './tokens/token-service.js';
export type { TokenKind } from './tokens/kinds.js';
export type { Keyset, ExtraVerifyKey } from './keys/keyset.js';
export * from './store/types.js';
export { UserExistsError, StoreUnavailableError } from './store/errors.js';
export { createPasswordHasher, type PasswordHasher } from './passwords/index.js';
export { changePassword, deactivateUser, type UserAdmin } from './users/change-password.js';
export { publicIdentity, publicUser, type PublicIdentity, type PublicUser } from './users/public-user.js';
export { createUserNormalized, findUserByUsername, normalizeUsername } from './users/username.js';
export { builtinCatalogues, type MessageKey, type Catalogue } from './i18n/catalogue.js';
