/**
 * JSON Schemas of the token endpoints' bodies and answers, for documentation (OpenAPI, @fastify/swagger). They
 * describe; they never validate: the core's own parsing and field rules decide every answer.
 */
import type { EndpointSpec } from '../endpoints.js';
import type { Settings } from '../settings/types.js';

export type JsonSchema = Readonly<Record<string, unknown>>;

/** An endpoint's request fields: the login endpoints ask for the configured username field. */
export function requestFields(spec: EndpointSpec, settings: Settings): readonly string[] {
  return spec.name === 'obtainPair' || spec.name === 'obtainSliding' ? [settings.usernameField, 'password'] : spec.fields;
}

/** Fields an endpoint accepts but does not require under these settings (blacklist's `access`, with revokeAccessTokens). */
export function optionalRequestFields(spec: EndpointSpec, settings: Settings): readonly string[] {
  return spec.name === 'blacklist' && settings.revokeAccessTokens ? (spec.optionalFields ?? []) : [];
}

const strings = (names: readonly string[]): Record<string, JsonSchema> =>
  Object.fromEntries(names.map((n) => [n, { type: 'string' }]));

/** `{"detail", "code"[, "messages"]}`: every error but field errors. */
export const ERROR_SCHEMA: JsonSchema = Object.freeze({
  type: 'object',
  properties: {
    detail: { type: 'string' },
    code: { type: 'string' },
    messages: {
      type: 'array',
      items: { type: 'object', properties: { token_class: { type: 'string' }, token_type: { type: ['string', 'null'] }, message: { type: 'string' } } },
    },
  },
  required: ['detail', 'code'],
});

/** DRF's field errors: `{"field": ["message", …]}`, `non_field_errors` included. */
export const FIELD_ERRORS_SCHEMA: JsonSchema = Object.freeze({
  type: 'object',
  additionalProperties: { type: 'array', items: { type: 'string' } },
});

/** The schemas of one token endpoint: its body (JSON or urlencoded) and its answers by status. */
export interface EndpointSchema {
  readonly summary: string;
  readonly consumes: readonly string[];
  readonly body: JsonSchema;
  readonly response: Readonly<Record<string, JsonSchema>>;
}

export function endpointSchema(spec: EndpointSpec, settings: Settings): EndpointSchema {
  const fields = requestFields(spec, settings);
  const cookies = settings.cookieMode !== 'off';
  // In cookie mode the refresh token may come from its cookie: the body field becomes optional.
  const required = cookies && spec.readsRefreshCookie === true ? fields.filter((f) => f !== 'refresh') : [...fields];
  // What goes into a cookie is not in the body: the refresh token in cookie mode, the access token too with `both`.
  const moved = (f: string) => spec.cookies === 'set' && cookies && (f === 'refresh' || (f === 'access' && settings.cookieMode === 'both'));
  const returns = spec.returns.filter((f) => !moved(f));
  // `refresh` comes back from the refresh endpoint only with rotation: it is never required there.
  const returned = spec.name === 'refresh' ? returns.filter((f) => f !== 'refresh') : returns;
  const errors: Record<string, JsonSchema> = {
    400: { oneOf: [FIELD_ERRORS_SCHEMA, ERROR_SCHEMA] },
    401: ERROR_SCHEMA,
    405: ERROR_SCHEMA,
    413: ERROR_SCHEMA,
    415: ERROR_SCHEMA,
    503: ERROR_SCHEMA,
  };
  // CSRF refusals of cookie-authenticated requests, and the login throttle.
  if (cookies && (spec.readsRefreshCookie === true || spec.name === 'logoutAll')) errors[403] = ERROR_SCHEMA;
  if (settings.loginThrottle !== false && (spec.name === 'obtainPair' || spec.name === 'obtainSliding')) errors[429] = ERROR_SCHEMA;
  return {
    summary: spec.title,
    consumes: ['application/json', 'application/x-www-form-urlencoded'],
    body: { type: 'object', properties: strings([...fields, ...optionalRequestFields(spec, settings)]), required },
    response: {
      200: { type: 'object', properties: strings(returns), required: returned },
      ...errors,
    },
  };
}
