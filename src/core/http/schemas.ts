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
  // `refresh` comes back from the refresh endpoint only with rotation: answers list their fields, require the first.
  const returns = spec.returns;
  return {
    summary: spec.title,
    consumes: ['application/json', 'application/x-www-form-urlencoded'],
    body: { type: 'object', properties: strings([...fields, ...optionalRequestFields(spec, settings)]), required: [...fields] },
    response: {
      200: { type: 'object', properties: strings(returns), required: returns.slice(0, 1) },
      400: { oneOf: [FIELD_ERRORS_SCHEMA, ERROR_SCHEMA] },
      401: ERROR_SCHEMA,
      405: ERROR_SCHEMA,
      413: ERROR_SCHEMA,
      415: ERROR_SCHEMA,
      503: ERROR_SCHEMA,
    },
  };
}
