/**
 * `restjwt/adapter-kit`: the pieces an adapter or store author needs and an application does not — header and body
 * reading, the token route table and its matcher, response helpers, the JSON schemas, and the store capability
 * checks. The root entry (`restjwt`) keeps what an application calls; this one keeps the plumbing the adapters
 * (`restjwt/adapters/*`) are built from, so a new framework can be mounted the same way.
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
export {
  ALL_CAPABILITIES,
  CAPABILITY_METHODS,
  canImportUsers,
  hasCapability,
  hasIdentities,
  hasSessions,
  isBlacklistSource,
} from './store/capabilities.js';
