/**
 * `@restjwt/core/adapter-kit`: the pieces an adapter author needs and an application does not — header and body
 * reading, the token route table and its matcher, response helpers, the JSON schemas, and loading optional packages
 * (the store capability checks are in `@restjwt/core/store-kit`). The root entry (`@restjwt/core`) keeps what an
 * application calls; this one keeps the plumbing the adapters (`@restjwt/{fastify,express,hono,nest}`) are built
 * from, so a new framework can be mounted the same way.
 *
 * @packageDocumentation
 */
export { ENDPOINTS } from './endpoints.js';
export { BASE_HEADERS } from './http/types.js';
export { mediaType } from './http/parse-body.js';
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

// What the reference server and the CLI (package `restjwt`) and social sign-in (`@restjwt/social`) build on besides
// the adapter plumbing.
export { type RequestMeta } from './endpoints.js';
export { clientAddress } from './http/client-ip.js';
export { tokensToCookies } from './http/cookie-mode.js';
export { parseCookies, serializeCookie } from './http/cookies.js';
export { parseBody } from './http/parse-body.js';
export { ALGORITHM_SPECS } from './jws/algorithms.js';
export { publicJwks } from './keys/jwks.js';
export { buildKeyset } from './keys/keyset.js';
export { parseDuration } from './settings/duration.js';
export { DEFAULT_LOGIN_THROTTLE } from './settings/resolve.js';
export { TokenService } from './tokens/token-service.js';
export { importOptional, requireOptional } from './optional-package.js';
