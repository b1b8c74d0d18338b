/**
 * JSON Schemas of the admin API's answers and inputs, for documentation (OpenAPI, @fastify/swagger). They describe;
 * they never validate: the admin's own field rules (`./fields.ts`) decide every answer, in DRF's words.
 */
import { ERROR_SCHEMA, FIELD_ERRORS_SCHEMA, type JsonSchema } from '../http/schemas.js';
import { AUDIT_EVENT_TYPES } from '../store/types.js';

const str = { type: 'string' } as const;
const nullableStr = { type: ['string', 'null'] } as const;
const dateTime = { type: 'string', format: 'date-time' } as const;

export const USER_SCHEMA: JsonSchema = {
  type: 'object',
  properties: {
    id: str,
    username: str,
    email: str,
    is_active: { type: 'boolean' },
    is_staff: { type: 'boolean' },
    last_login: { type: ['string', 'null'], format: 'date-time' },
    date_joined: dateTime,
  },
  required: ['id', 'username', 'email', 'is_active', 'is_staff', 'last_login', 'date_joined'],
};
export const SESSION_SCHEMA: JsonSchema = {
  type: 'object',
  properties: {
    family_id: str,
    created_at: dateTime,
    last_used_at: dateTime,
    client_address: nullableStr,
    user_agent: nullableStr,
    expires_at: dateTime,
    active: { type: 'boolean' },
  },
};
export const TOKEN_SCHEMA: JsonSchema = {
  type: 'object',
  properties: {
    jti: str,
    user_id: nullableStr,
    username: nullableStr,
    token_type: { type: 'string', enum: ['refresh', 'sliding'] },
    family_id: nullableStr,
    created_at: dateTime,
    expires_at: dateTime,
    blacklisted_at: { type: ['string', 'null'], format: 'date-time' },
    replaced_by: nullableStr,
  },
};
export const FACTOR_SCHEMA: JsonSchema = {
  type: 'object',
  properties: {
    id: str,
    kind: { type: 'string', enum: ['totp', 'webauthn'] },
    label: str,
    confirmed: { type: 'boolean' },
    created_at: dateTime,
    last_used_at: { type: ['string', 'null'], format: 'date-time' },
  },
};
export const AUDIT_EVENT_SCHEMA: JsonSchema = {
  type: 'object',
  properties: {
    id: str,
    type: { type: 'string', enum: [...AUDIT_EVENT_TYPES] },
    at: dateTime,
    user_id: nullableStr,
    username: nullableStr,
    actor_id: nullableStr,
    family_id: nullableStr,
    client_address: nullableStr,
    user_agent: nullableStr,
    detail: { type: 'object', additionalProperties: { type: ['string', 'number', 'boolean', 'null'] } },
  },
};
export const AUDIT_PAGE_SCHEMA: JsonSchema = {
  type: 'object',
  properties: { next: { type: ['string', 'null'] }, results: { type: 'array', items: AUDIT_EVENT_SCHEMA } },
  required: ['next', 'results'],
};
export const AUDIT_SUMMARY_SCHEMA: JsonSchema = {
  type: 'object',
  properties: {
    since: dateTime,
    until: dateTime,
    bucket_seconds: { type: 'integer' },
    series: { type: 'object', additionalProperties: { type: 'array', items: { type: 'integer' } } },
  },
  required: ['since', 'until', 'bucket_seconds', 'series'],
};
export const IDENTITY_SCHEMA: JsonSchema = {
  type: 'object',
  properties: { provider: str, subject: str, email: nullableStr, created_at: dateTime, last_used_at: dateTime },
  required: ['provider', 'subject', 'email', 'created_at', 'last_used_at'],
};
/** DRF's LimitOffsetPagination body of `item`s. */
export const pageSchema = (item: JsonSchema): JsonSchema => ({
  type: 'object',
  properties: { count: { type: ['integer', 'null'] }, next: nullableStr, previous: nullableStr, results: { type: 'array', items: item } },
  required: ['count', 'next', 'previous', 'results'],
});
export const PAGING: JsonSchema = {
  limit: { type: 'integer', minimum: 1, maximum: 500, default: 50, description: 'Page size.' },
  offset: { type: 'integer', minimum: 0, default: 0, description: 'Rows to skip.' },
};
export const CHANGE_SCHEMA: JsonSchema = { type: 'object', properties: { user: USER_SCHEMA, revoked: { type: 'integer' } }, required: ['user', 'revoked'] };
export const REVOKED_SCHEMA: JsonSchema = { type: 'object', properties: { revoked: { type: 'integer' } }, required: ['revoked'] };

/** An error status an operation may answer besides 401/403/503. */
export type AdminErrorStatus = 400 | 404 | 501;

/** What documents one operation. */
export interface OperationDoc {
  summary: string;
  description: string;
  querystring?: JsonSchema;
  body?: JsonSchema;
  /** Success status and body schema. */
  ok: readonly [200 | 201, JsonSchema];
  /** Error statuses this operation may answer besides 401/403/405/503. */
  errors: readonly AdminErrorStatus[];
  /** What this operation's errors mean where it differs from {@link ERROR_DESCRIPTIONS}; a 400 described here is never a field error. */
  errorText?: Readonly<Partial<Record<AdminErrorStatus, string>>>;
}

/**
 * Descriptions of the statuses the shared OpenAPI text does not cover. The others keep the bare shared schemas, which
 * the reference server's document generator turns into `$ref`s to its `Error` / `FieldErrors` components, with its
 * own status texts.
 */
const ERROR_DESCRIPTIONS: Readonly<Record<number, string>> = {
  404: 'No such user or session (`not_found`)',
  501: 'The store does not record sessions (`sessions_unsupported`)',
};

/** The route schema @fastify/swagger (or another OpenAPI generator) documents for an operation under `params`. */
export function operationSchema(op: OperationDoc, params: readonly string[] | undefined): JsonSchema {
  const response: Record<string, unknown> = { [op.ok[0]]: op.ok[1] };
  for (const status of [...op.errors, 401, 403, 503]) {
    const own = op.errorText?.[status as AdminErrorStatus];
    const description = own ?? ERROR_DESCRIPTIONS[status];
    if (status === 400 && own === undefined) response[status] = { oneOf: [FIELD_ERRORS_SCHEMA, ERROR_SCHEMA] };
    else response[status] = description === undefined ? ERROR_SCHEMA : { description, ...ERROR_SCHEMA };
  }
  const schema: Record<string, unknown> = {
    summary: op.summary,
    description: op.description,
    tags: ['admin'],
    // The scheme the reference server's OpenAPI document declares (`BEARER_AUTH` in the restjwt package's src/server/openapi.ts); the
    // access cookie works too in cookie mode.
    security: [{ bearerAuth: [] }],
    response,
  };
  if (params !== undefined) {
    schema.params = { type: 'object', properties: Object.fromEntries(params.map((p) => [p, str])), required: [...params] };
  }
  if (op.querystring !== undefined) schema.querystring = op.querystring;
  if (op.body !== undefined) schema.body = op.body;
  return schema;
}
