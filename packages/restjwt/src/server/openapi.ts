/**
 * The OpenAPI 3.1 document (`GET /api/schema/`) and the interactive reference (`GET /api/docs/`), both generated
 * from the same Fastify route schemas the server is built with, and served without any external request.
 */
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import swagger from '@fastify/swagger';
import type { FastifyInstance, FastifyReply, FastifySchema } from 'fastify';
import type { RestJwt } from '@restjwt/core';
import { ERROR_SCHEMA, FIELD_ERRORS_SCHEMA } from '@restjwt/core/adapter-kit';
import { pageCsp, securePage } from './page-headers.js';
import { firstDirWith } from './static-files.js';

/** Where the document is served. */
export const SCHEMA_PATH = '/api/schema/';
/** Where the interactive reference is served; its assets are below `assets/`. */
export const DOCS_PATH = '/api/docs/';

/** The name of the security scheme protected routes declare (`security: [{ bearerAuth: [] }]`). */
export const BEARER_AUTH = 'bearerAuth';

/** A route schema plus Fastify's `hide` and OpenAPI's `security`, which FastifySchema does not type. */
export type DocumentedSchema = FastifySchema & { hide?: boolean; security?: Record<string, string[]>[]; description?: string };

/** Route options that document without changing behaviour: answers are serialised as before, never filtered by the schema. */
export interface DocumentedRoute {
  schema: DocumentedSchema;
  serializerCompiler: () => (data: unknown) => string;
}

const describeOnly = () => (data: unknown) => JSON.stringify(data);

const message = { type: 'object', properties: { message: { type: 'string' } }, required: ['message'] } as const;

/** `GET /api/me/`'s answer: see `publicUser`. */
const USER_SCHEMA = {
  type: 'object',
  properties: {
    id: { type: 'string' },
    username: { type: 'string' },
    email: { type: 'string' },
    is_active: { type: 'boolean' },
    is_staff: { type: 'boolean' },
    last_login: { type: ['string', 'null'], format: 'date-time' },
    date_joined: { type: 'string', format: 'date-time' },
  },
  required: ['id', 'username', 'email', 'is_active', 'is_staff', 'last_login', 'date_joined'],
} as const;

const protectedRoute = (summary: string, ok: Record<string, unknown>, description: string): DocumentedRoute => ({
  schema: {
    summary,
    description,
    tags: ['example'],
    security: [{ [BEARER_AUTH]: [] }],
    // 400: the Authorization header sent more than once (duplicate_authorization_header).
    response: { 200: ok, 400: ERROR_SCHEMA, 401: ERROR_SCHEMA, 403: ERROR_SCHEMA, 503: ERROR_SCHEMA },
  },
  serializerCompiler: describeOnly,
});

/** Schemas of the reference server's own routes, spread into their route options. */
export const routeDocs = {
  protected: protectedRoute('A protected view', message, 'The seed\'s protected view: any valid access token.'),
  protectedMfa: protectedRoute(
    'A view that needs a second factor',
    message,
    'An access token from a sign-in with a second factor (its `amr` claim holds `mfa`); any other valid token: 403 `mfa_required`.',
  ),
  me: protectedRoute('The current user', USER_SCHEMA, 'The authenticated user, without password hash or token version.'),
  public: {
    schema: { summary: 'A public view', description: 'No authentication: a baseline.', tags: ['example'], response: { 200: message } },
    serializerCompiler: describeOnly,
  } satisfies DocumentedRoute,
  /** Routes that only refuse (405 for other methods): not part of the API. */
  hidden: { hide: true } as DocumentedSchema,
} as const;

function packageVersion(): string {
  try {
    // `src/server/` and `dist/server/` both sit two levels below the package root.
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: unknown };
    return typeof pkg.version === 'string' ? pkg.version : '0.0.0';
  } catch {
    return '0.0.0';
  }
}

/**
 * Registers @fastify/swagger (it records routes as they are added, so this must run before any documented route),
 * `GET /api/schema/` and `GET /api/docs/`.
 */
export async function registerOpenApi(app: FastifyInstance, _restjwt: RestJwt): Promise<void> {
  const prefix = '/api/';
  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'restjwt reference server',
        version: packageVersion(),
        description:
          'JWT authentication endpoints (wire-compatible with djangorestframework-simplejwt) and example protected routes. ' +
          'Obtain a pair at `POST /api/token/`, then send `Authorization: Bearer <access>`.',
        license: { name: 'MIT', identifier: 'MIT' },
      },
      // Declared by `tidy`: the tags of TAGS that routes use (social login is mounted only when configured).
      tags: [],
      components: { securitySchemes: { [BEARER_AUTH]: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' } } },
    },
    transformObject: (input) => ('openapiObject' in input ? tidy(input.openapiObject as OpenApiDocument) : input.swaggerObject),
    transform: ({ schema, url }) => {
      // "Log out everywhere" is authenticated by the access token, not by a body field: say so.
      if (url === `${prefix}token/logout-all/` && schema !== undefined && !('security' in schema)) {
        return { schema: { ...schema, security: [{ [BEARER_AUTH]: [] }] } as typeof schema, url };
      }
      return { schema, url };
    },
  });

  // Built once, on first request: every route is registered by then, and the document never changes afterwards.
  let document: string | undefined;
  app.get(SCHEMA_PATH, { schema: { hide: true } as DocumentedSchema }, async (_req, reply) => {
    document ??= JSON.stringify(app.swagger());
    return reply.header('Content-Type', 'application/vnd.oai.openapi+json;version=3.1').header('Cache-Control', 'no-cache').send(document);
  });

  registerDocs(app);
}

/** The document's tags, in this order; `tidy` declares those the routes use. */
export const TAGS: readonly { name: string; description: string }[] = [
  { name: 'token', description: 'Obtain, refresh, verify and revoke tokens.' },
  {
    name: 'social',
    description:
      'Social login (OpenID Connect / OAuth 2.0 providers): browser sign-in with a redirect, the one-time code exchange, ' +
      'native apps\' ID tokens and codes, and the signed-in user\'s linked identities.',
  },
  {
    name: 'mfa',
    description:
      'Second factors (@restjwt/mfa): the signed-in user\'s authenticator apps (TOTP), passkeys and recovery codes, and passkey-only ' +
      'sign-in. A login of a user with a factor answers `mfa_required` and is finished at `POST /api/token/mfa/`.',
  },
  { name: 'admin', description: 'The admin API (staff only): users, their sessions and linked identities, the blacklist.' },
  { name: 'example', description: 'The reference server\'s example views.' },
];

/** The parts of the generated document {@link tidy} reads. */
interface OpenApiDocument {
  tags?: { name: string; description?: string }[];
  components?: { schemas?: Record<string, unknown> } & Record<string, unknown>;
  paths?: Record<
    string,
    Record<
      string,
      {
        tags?: string[];
        requestBody?: { required?: boolean; content?: Record<string, { schema?: { required?: readonly string[] } }> };
        responses?: Record<string, { description?: string; content?: Record<string, { schema?: unknown }> }>;
      }
    >
  >;
}

/** Shared schemas: the token endpoints' inline copies are replaced by references to these. */
const SHARED: readonly (readonly [name: string, schema: unknown])[] = [
  ['Error', ERROR_SCHEMA],
  ['FieldErrors', FIELD_ERRORS_SCHEMA],
];

/**
 * What each status means across this API, for responses a route left undescribed (@fastify/swagger's "Default
 * Response"). A description the route gave is kept.
 */
const STATUS_TEXT: Readonly<Record<string, string>> = {
  200: 'OK',
  201: 'Created',
  204: 'No content',
  302: 'Redirect (see Location)',
  400: 'Invalid body: field errors (`{"field": ["message"]}`) or a malformed body',
  401: 'Credentials or token refused (`code`: `no_active_account`, `token_not_valid`, `not_authenticated`, …)',
  403: 'Permission denied, or the CSRF check of a cookie-authenticated request failed',
  404: 'Not found',
  405: 'Method not allowed',
  409: 'Conflict',
  413: 'Body too large',
  415: 'Unsupported media type',
  429: 'Too many failed logins (see Retry-After)',
  501: 'Not supported by this server\'s store',
  502: 'An upstream service failed',
  503: 'The token store is unavailable (see Retry-After)',
};

/**
 * The same for the routes of one tag where the token endpoints' wording would mislead: social login answers its own
 * `social_…` codes (see docs/social-login.md), second factors their `mfa_…` codes.
 */
const TAG_STATUS_TEXT: Readonly<Record<string, Readonly<Record<string, string>>>> = {
  social: {
    400: 'Refused: a bad, expired or reused state or code, a post-login URL not allowed, or a bad field (`code`: `social_state_invalid`, `social_code_invalid`, `social_redirect_not_allowed`, `social_bad_request`, …)',
    401: 'The ID token was refused or the user is inactive (`social_id_token_invalid`, `social_nonce_mismatch`, `social_user_inactive`), or the request is not signed in (`not_authenticated`, `token_not_valid`)',
    403: 'No account is linked to this identity and none may be created or linked (`social_account_not_found`)',
    404: 'Unknown provider (`social_unknown_provider`) or identity (`social_identity_not_found`)',
    409: 'The email or identity belongs to another account (`social_email_in_use`, `social_identity_in_use`), or it is the last way to sign in (`social_last_login_method`)',
    429: 'Too many failed sign-ins from this address (see Retry-After)',
    502: 'The provider could not be reached or answered nonsense (`social_provider_unavailable`)',
  },
  mfa: {
    400: 'A field error (`{"field": ["message"]}`), or a refused code or registration (`mfa_code_rejected`, `mfa_code_required`, `mfa_registration_invalid`, `mfa_no_factor`)',
    401: 'Not signed in (`not_authenticated`, `token_not_valid`), or a passkey sign-in refused (`mfa_passkey_invalid`, `no_active_account`)',
    409: 'The passkey is already registered (`mfa_credential_exists`), or no recovery code is left to confirm a removal (`mfa_no_recovery_codes`)',
    429: 'Too many wrong codes or failed passkey sign-ins (see Retry-After)',
  },
};

const sameJson = (a: unknown, b: unknown): boolean => JSON.stringify(a) === JSON.stringify(b);

/** Replaces inline copies of the shared schemas by `$ref`s, everywhere below `node`. */
function useRefs(node: unknown): unknown {
  for (const [name, schema] of SHARED) if (sameJson(node, schema)) return { $ref: `#/components/schemas/${name}` };
  if (Array.isArray(node)) return node.map(useRefs);
  if (node !== null && typeof node === 'object') return Object.fromEntries(Object.entries(node).map(([k, v]) => [k, useRefs(v)]));
  return node;
}

/**
 * A route describes a response by a `description` in its schema; @fastify/swagger uses it as the response's and also
 * leaves it in the schema. Removed there, so that a described copy of a shared schema becomes a `$ref` as well.
 */
function liftDescriptions(paths: NonNullable<OpenApiDocument['paths']>): void {
  for (const item of Object.values(paths)) {
    for (const op of Object.values(item)) {
      for (const res of Object.values(op.responses ?? {})) {
        for (const media of Object.values(res.content ?? {})) {
          const schema = media.schema;
          if (schema === null || typeof schema !== 'object' || !('description' in schema)) continue;
          const { description, ...rest } = schema as Record<string, unknown>;
          if (description === res.description) media.schema = rest;
        }
      }
    }
  }
}

/**
 * Names the error schemas once in `components`, gives undescribed responses their meaning (keeping every description
 * a route gave), and declares the tags the routes use.
 */
function tidy(doc: OpenApiDocument): OpenApiDocument {
  const paths = structuredClone(doc.paths ?? {});
  liftDescriptions(paths);
  const out = { ...doc, paths: useRefs(paths) as NonNullable<OpenApiDocument['paths']> };
  out.components = { ...doc.components, schemas: { ...doc.components?.schemas, ...Object.fromEntries(SHARED.map(([n, s]) => [n, s])) } };
  const used = new Set<string>();
  for (const item of Object.values(out.paths)) {
    for (const op of Object.values(item)) {
      for (const tag of op.tags ?? []) used.add(tag);
      // A body with no required field may be left out (logout-all; refresh and logout in cookie mode).
      if (op.requestBody !== undefined) {
        op.requestBody.required = Object.values(op.requestBody.content ?? {}).some((c) => (c.schema?.required?.length ?? 0) > 0);
      }
      const byTag = (op.tags ?? []).map((tag) => TAG_STATUS_TEXT[tag]).find((texts) => texts !== undefined);
      for (const [status, res] of Object.entries(op.responses ?? {})) {
        if (res.description === undefined || res.description === '' || res.description === 'Default Response') {
          res.description = byTag?.[status] ?? STATUS_TEXT[status] ?? 'Response';
        }
      }
    }
  }
  const declared = [...(doc.tags ?? [])];
  for (const tag of TAGS) if (used.has(tag.name) && !declared.some((t) => t.name === tag.name)) declared.push({ ...tag });
  // A tag some route uses that is not in TAGS is still declared (without a description), so no operation is orphaned.
  for (const name of [...used].sort()) if (!declared.some((t) => t.name === name)) declared.push({ name });
  out.tags = declared;
  return out;
}

/** The reference page's Content-Security-Policy: own scripts only; Swagger UI sets inline styles and data: icons. */
export const DOCS_CSP = pageCsp({ inlineStyles: true });

/** The Swagger UI files the page needs (served as they are shipped). */
const SWAGGER_UI_FILES: Readonly<Record<string, string>> = {
  'swagger-ui.css': 'text/css; charset=utf-8',
  'swagger-ui-bundle.js': 'text/javascript; charset=utf-8',
  'favicon-32x32.png': 'image/png',
  'favicon-16x16.png': 'image/png',
};

/**
 * Swagger UI's files, copied into the build (`dist/server/assets/swagger-ui/`, scripts/copy-assets.mjs) rather than
 * installed with restjwt: swagger-ui-dist would bring its telemetry install script to every user. Under vitest the
 * sources find the same build output.
 */
function swaggerUiDir(): string | null {
  return firstDirWith([new URL('./assets/swagger-ui/', import.meta.url), new URL('../../dist/server/assets/swagger-ui/', import.meta.url)], 'swagger-ui-bundle.js');
}

const DOCS_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>restjwt API reference</title>
<link rel="stylesheet" href="assets/swagger-ui.css">
<link rel="icon" type="image/png" href="assets/favicon-32x32.png" sizes="32x32">
</head>
<body>
<main id="swagger-ui" aria-label="API reference"><noscript>The interactive reference needs JavaScript. The document itself is at <a href="${SCHEMA_PATH}">${SCHEMA_PATH}</a>.</noscript></main>
<script src="assets/swagger-ui-bundle.js"></script>
<script src="assets/init.js"></script>
</body>
</html>
`;

// validatorUrl null: Swagger UI would otherwise send the document to validator.swagger.io.
const DOCS_INIT = `'use strict';
window.ui = SwaggerUIBundle({
  url: new URL(${JSON.stringify(SCHEMA_PATH)}, window.location.href).href,
  dom_id: '#swagger-ui',
  validatorUrl: null,
  deepLinking: true,
  presets: [SwaggerUIBundle.presets.apis],
  layout: 'BaseLayout',
});
`;

function registerDocs(app: FastifyInstance): void {
  const dir = swaggerUiDir();
  const cache = new Map<string, Buffer>();
  const hidden = { schema: { hide: true } as DocumentedSchema };
  const security = (reply: FastifyReply) => securePage(reply, DOCS_CSP);

  app.get(DOCS_PATH, hidden, async (_req, reply) =>
    security(reply).header('Content-Type', 'text/html; charset=utf-8').header('Cache-Control', 'no-cache').send(DOCS_HTML),
  );
  app.get(`${DOCS_PATH}assets/init.js`, hidden, async (_req, reply) =>
    security(reply).header('Content-Type', 'text/javascript; charset=utf-8').header('Cache-Control', 'no-cache').send(DOCS_INIT),
  );
  app.get<{ Params: { file: string } }>(`${DOCS_PATH}assets/:file`, hidden, async (req, reply) => {
    const type = SWAGGER_UI_FILES[req.params.file];
    if (type === undefined || !Object.hasOwn(SWAGGER_UI_FILES, req.params.file) || dir === null) {
      return reply.code(404).header('Content-Type', 'text/plain; charset=utf-8').send(dir === null ? 'Swagger UI is not in this build: run npm run build.\n' : 'Not found.\n');
    }
    let body = cache.get(req.params.file);
    if (body === undefined) {
      body = await readFile(join(dir, req.params.file));
      cache.set(req.params.file, body);
    }
    return security(reply).header('Content-Type', type).header('Cache-Control', 'public, max-age=3600').send(body);
  });
}
