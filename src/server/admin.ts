/**
 * The admin for the reference server: the JSON API under `/api/admin/` (staff only, enforced by the API itself) and
 * the page at `/admin/` that uses it. The operations are the framework-neutral ones of `core/admin`; this file only
 * mounts them on Fastify with the adapter's guard, as any application could.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { FastifyInstance, FastifyPluginAsync, FastifyReply, FastifyRequest, FastifySchema, HTTPMethods } from 'fastify';
import { errorHandler, guard, methodNotAllowed, sendCore } from '../adapters/fastify/index.js';
import { pageAssetsDir, pageCsp, securePage } from './page-headers.js';
import {
  adminContext,
  adminErrorResponse,
  adminResponse,
  adminSettings,
  createUser,
  flushExpired,
  getUser,
  listIdentities,
  listSessions,
  listTokens,
  listUsers,
  pageBody,
  resetPassword,
  revokeAllSessions,
  revokeSession,
  setUserActive,
  unlinkIdentity,
  type AdminContext,
  type QueryValue,
} from '../core/admin/index.js';
import { ERROR_SCHEMA, FIELD_ERRORS_SCHEMA, headerRecord, isStaff, slashRedirect, splitTarget, type Authentication, type CoreResponse, type RestJwt, type UserRecord } from '../core/index.js';
import { parseBody } from '../core/http/parse-body.js';

/** Where the admin API is mounted. */
export const ADMIN_API_PREFIX = '/api/admin/';
/** Where the admin page is served. */
export const ADMIN_PAGE_PATH = '/admin/';

// --- the API ------------------------------------------------------------------------------------------------------

/** What an operation gets from the request, already read. */
interface AdminCall {
  params: Readonly<Record<string, string>>;
  query: Readonly<Record<string, QueryValue>>;
  /** The parsed body (POST), a null-prototype object; `{}` for GET. */
  data: Readonly<Record<string, unknown>>;
  pathname: string;
  search: string;
}

interface Operation {
  summary: string;
  description: string;
  /** For the audit log line; undefined for reads. */
  action?: string;
  querystring?: Record<string, unknown>;
  body?: Record<string, unknown>;
  /** Success status and body schema. */
  ok: [200 | 201, Record<string, unknown>];
  /** Error statuses this operation may answer besides 401/403/405/503. */
  errors: readonly (400 | 404 | 501)[];
  /** What this operation's errors mean where it differs from {@link ERROR_DESCRIPTIONS}; a 400 described here is never a field error. */
  errorText?: Readonly<Partial<Record<400 | 404 | 501, string>>>;
  run(ctx: AdminContext, call: AdminCall): Promise<unknown>;
}

interface AdminRoute {
  /** Below the prefix, with the trailing slash. */
  path: string;
  params?: readonly string[];
  get?: Operation;
  post?: Operation;
}

const str = { type: 'string' } as const;
const nullableStr = { type: ['string', 'null'] } as const;
const dateTime = { type: 'string', format: 'date-time' } as const;

const USER_SCHEMA = {
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
const SESSION_SCHEMA = {
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
const TOKEN_SCHEMA = {
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
const IDENTITY_SCHEMA = {
  type: 'object',
  properties: { provider: str, subject: str, email: nullableStr, created_at: dateTime, last_used_at: dateTime },
  required: ['provider', 'subject', 'email', 'created_at', 'last_used_at'],
};
const page = (item: Record<string, unknown>) => ({
  type: 'object',
  properties: { count: { type: ['integer', 'null'] }, next: nullableStr, previous: nullableStr, results: { type: 'array', items: item } },
  required: ['count', 'next', 'previous', 'results'],
});
const PAGING = {
  limit: { type: 'integer', minimum: 1, maximum: 500, default: 50, description: 'Page size.' },
  offset: { type: 'integer', minimum: 0, default: 0, description: 'Rows to skip.' },
};
const CHANGE_SCHEMA = { type: 'object', properties: { user: USER_SCHEMA, revoked: { type: 'integer' } }, required: ['user', 'revoked'] };
const REVOKED_SCHEMA = { type: 'object', properties: { revoked: { type: 'integer' } }, required: ['revoked'] };

const id = (call: AdminCall): string => call.params.id ?? '';

/** What the identity routes' 404 and 501 mean (the sessions' texts are {@link ERROR_DESCRIPTIONS}). */
const IDENTITY_ERRORS = {
  404: 'No such user, or the identity is not linked to that user (`not_found`)',
  501: 'The store does not record linked identities (`identities_unsupported`)',
} as const;

const ROUTES: readonly AdminRoute[] = [
  {
    path: 'users/',
    get: {
      summary: 'List users',
      description: 'Users in creation order, paged (`limit`, `offset`) as DRF\'s LimitOffsetPagination.',
      querystring: { type: 'object', properties: PAGING },
      ok: [200, page(USER_SCHEMA)],
      errors: [400],
      run: async (ctx, call) => pageBody(await listUsers(ctx, call.query), call.pathname, call.search),
    },
    post: {
      summary: 'Create a user',
      description:
        'Creates a user with an argon2id password hash. The username is stored in NFKC form, as Django does, and must be ' +
        'unique in that form: a look-alike of an existing one (`ａｌｉｃｅ` beside `alice`) is a 400 field error too.',
      action: 'create_user',
      body: {
        type: 'object',
        properties: {
          username: { type: 'string', maxLength: 150 },
          email: { type: 'string', maxLength: 254 },
          password: { type: 'string', minLength: 8, maxLength: 4096 },
          is_staff: { type: 'boolean', default: false },
          is_active: { type: 'boolean', default: true },
        },
        required: ['username', 'password'],
      },
      ok: [201, USER_SCHEMA],
      errors: [400],
      run: (ctx, call) => createUser(ctx, call.data),
    },
  },
  {
    path: 'users/:id/',
    params: ['id'],
    get: { summary: 'Get a user', description: 'One user, by id.', ok: [200, USER_SCHEMA], errors: [404], run: (ctx, call) => getUser(ctx, id(call)) },
  },
  {
    path: 'users/:id/deactivate/',
    params: ['id'],
    post: {
      summary: 'Deactivate a user',
      description:
        'Deactivates the user and ends every session: a new token version and every refresh/sliding token blacklisted. ' +
        'A staff user cannot deactivate themselves (400 `cannot_deactivate_self`).',
      action: 'deactivate_user',
      ok: [200, CHANGE_SCHEMA],
      errors: [400, 404],
      run: (ctx, call) => setUserActive(ctx, id(call), false),
    },
  },
  {
    path: 'users/:id/activate/',
    params: ['id'],
    post: {
      summary: 'Activate a user',
      description: 'Lets the user log in again. Sessions ended by the deactivation stay ended.',
      action: 'activate_user',
      ok: [200, CHANGE_SCHEMA],
      errors: [404],
      run: (ctx, call) => setUserActive(ctx, id(call), true),
    },
  },
  {
    path: 'users/:id/password/',
    params: ['id'],
    post: {
      summary: "Reset a user's password",
      description: 'Sets a new password (8 to 4096 characters) and ends every session of the user.',
      action: 'reset_password',
      body: { type: 'object', properties: { password: { type: 'string', minLength: 8, maxLength: 4096 } }, required: ['password'] },
      ok: [200, CHANGE_SCHEMA],
      errors: [400, 404],
      run: (ctx, call) => resetPassword(ctx, id(call), call.data),
    },
  },
  {
    path: 'users/:id/sessions/',
    params: ['id'],
    get: {
      summary: "List a user's sessions",
      description:
        'One session per login (a refresh-token family): created, last used, client address and user agent. Live ones only ' +
        'unless `include_ended=true`. 501 when the store does not record sessions.',
      querystring: { type: 'object', properties: { include_ended: { type: 'boolean', default: false } } },
      ok: [200, { type: 'object', properties: { count: { type: 'integer' }, results: { type: 'array', items: SESSION_SCHEMA } }, required: ['count', 'results'] }],
      errors: [400, 404, 501],
      run: (ctx, call) => listSessions(ctx, id(call), call.query),
    },
  },
  {
    path: 'users/:id/sessions/revoke-all/',
    params: ['id'],
    post: {
      summary: "Revoke all of a user's sessions",
      description: '"Log out everywhere" for the user: a new token version and every refresh/sliding token blacklisted.',
      action: 'revoke_all_sessions',
      ok: [200, REVOKED_SCHEMA],
      errors: [404],
      run: (ctx, call) => revokeAllSessions(ctx, id(call)),
    },
  },
  {
    path: 'users/:id/sessions/:familyId/revoke/',
    params: ['id', 'familyId'],
    post: {
      summary: 'Revoke one session',
      description:
        "Blacklists every token of the session's family, so its refresh token is refused. 404 unless the session belongs " +
        'to the user in the URL.',
      action: 'revoke_session',
      ok: [200, { type: 'object', properties: { family_id: str, revoked: { type: 'integer' } }, required: ['family_id', 'revoked'] }],
      errors: [404, 501],
      run: (ctx, call) => revokeSession(ctx, id(call), call.params.familyId ?? ''),
    },
  },
  {
    path: 'users/:id/identities/',
    params: ['id'],
    get: {
      summary: "List a user's linked identities",
      description:
        'The accounts at social-login providers the user signs in with: provider, subject, the email the provider last ' +
        'asserted, when it was linked and last used. `has_usable_password` false means the user signs in through these ' +
        'only. 501 when the store does not record linked identities.',
      ok: [
        200,
        {
          type: 'object',
          properties: { count: { type: 'integer' }, has_usable_password: { type: 'boolean' }, results: { type: 'array', items: IDENTITY_SCHEMA } },
          required: ['count', 'has_usable_password', 'results'],
        },
      ],
      errors: [404, 501],
      errorText: IDENTITY_ERRORS,
      run: (ctx, call) => listIdentities(ctx, id(call)),
    },
  },
  {
    path: 'users/:id/identities/:provider/:subject/unlink/',
    params: ['id', 'provider', 'subject'],
    post: {
      summary: "Unlink one of a user's identities",
      description:
        'Removes the link: the user can no longer sign in with that provider account. 404 unless the identity is linked ' +
        'to the user in the URL. Refused (400 `last_login_method`) when it is the last way to sign in: no usable ' +
        'password and no other identity (reset the password first). Sessions already started are not ended. Answers ' +
        'the unlinked identity.',
      action: 'unlink_identity',
      ok: [200, IDENTITY_SCHEMA],
      errors: [400, 404, 501],
      errorText: { ...IDENTITY_ERRORS, 400: "The user's last way to sign in (`last_login_method`), or an unreadable body" },
      run: (ctx, call) => unlinkIdentity(ctx, id(call), call.params.provider ?? '', call.params.subject ?? ''),
    },
  },
  {
    path: 'tokens/',
    get: {
      summary: 'List outstanding tokens',
      description: 'Refresh and sliding tokens, newest first: `blacklisted=true` for the blacklist, `user` for one user\'s.',
      querystring: { type: 'object', properties: { blacklisted: { type: 'boolean' }, user: { type: 'string', description: 'A user id.' }, ...PAGING } },
      ok: [200, page(TOKEN_SCHEMA)],
      errors: [400, 501],
      run: async (ctx, call) => pageBody(await listTokens(ctx, call.query), call.pathname, call.search),
    },
  },
  {
    path: 'settings/',
    get: {
      summary: 'Admin settings',
      description:
        'The server settings that change what the admin shows: `update_last_login` (simplejwt\'s `UPDATE_LAST_LOGIN`) ' +
        'says whether logins record `last_login`; when it is false a null `last_login` means "not recorded", not "never".',
      ok: [200, { type: 'object', properties: { update_last_login: { type: 'boolean' } }, required: ['update_last_login'] }],
      errors: [],
      run: async (ctx) => adminSettings(ctx),
    },
  },
  {
    path: 'flush/',
    post: {
      summary: 'Flush expired tokens',
      description: '`restjwt flushexpiredtokens` from the admin: deletes the rows of tokens that have expired.',
      action: 'flush_expired',
      ok: [200, { type: 'object', properties: { deleted: { type: 'integer' } }, required: ['deleted'] }],
      errors: [],
      run: (ctx) => flushExpired(ctx),
    },
  },
];

/**
 * Descriptions of the statuses the shared OpenAPI text does not cover. The others keep the bare shared schemas, which
 * the document generator turns into `$ref`s to its `Error` / `FieldErrors` components, with its own status texts.
 */
const ERROR_DESCRIPTIONS: Readonly<Record<number, string>> = {
  404: 'No such user or session (`not_found`)',
  501: 'The store does not record sessions (`sessions_unsupported`)',
};

function schemaFor(route: AdminRoute, op: Operation): FastifySchema {
  const response: Record<string, unknown> = { [op.ok[0]]: op.ok[1] };
  for (const status of [...op.errors, 401, 403, 503]) {
    const own = op.errorText?.[status as 400 | 404 | 501];
    const description = own ?? ERROR_DESCRIPTIONS[status];
    if (status === 400 && own === undefined) response[status] = { oneOf: [FIELD_ERRORS_SCHEMA, ERROR_SCHEMA] };
    else response[status] = description === undefined ? ERROR_SCHEMA : { description, ...ERROR_SCHEMA };
  }
  const schema: FastifySchema & Record<string, unknown> = {
    summary: op.summary,
    description: op.description,
    tags: ['admin'],
    // The scheme `registerOpenApi` declares (`BEARER_AUTH` in ./openapi.ts); the access cookie works too in cookie mode.
    security: [{ bearerAuth: [] }],
    response,
  };
  if (route.params !== undefined) {
    schema.params = { type: 'object', properties: Object.fromEntries(route.params.map((p) => [p, str])), required: [...route.params] };
  }
  if (op.querystring !== undefined) schema.querystring = op.querystring;
  if (op.body !== undefined) schema.body = op.body;
  return schema;
}

/** The query string as `QueryValue`s (Fastify gives repeated keys as arrays). */
function queryOf(req: FastifyRequest): Record<string, QueryValue> {
  const out: Record<string, QueryValue> = Object.create(null) as Record<string, QueryValue>;
  const raw = (req.query ?? {}) as Record<string, unknown>;
  for (const [k, v] of Object.entries(raw)) {
    if (typeof v === 'string') out[k] = v;
    else if (Array.isArray(v)) out[k] = v.filter((x): x is string => typeof x === 'string');
  }
  return out;
}

/**
 * The admin API, encapsulated (its own body parsing and error handler, as the token endpoints have): raw bodies are
 * parsed by the core (JSON or urlencoded, 415 otherwise, null-prototype objects), and every answer is a core response.
 * Each route runs `guard(restjwt, isStaff)` first — which also applies the cookie-mode CSRF check to POSTs
 * authenticated by the access cookie — and then builds its `AdminContext`, which checks staff status again.
 */
const adminApi: FastifyPluginAsync<{ restjwt: RestJwt }> = async (app, { restjwt }) => {
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'string', bodyLimit: restjwt.settings.maxBodyBytes }, (_req, body, done) => done(null, body));
  // Schemas document (OpenAPI); the core's field rules decide every answer, in DRF's words.
  app.setValidatorCompiler(() => () => true);
  app.setSerializerCompiler(() => (data) => JSON.stringify(data));
  app.setErrorHandler(errorHandler(restjwt));
  const staffOnly = guard(restjwt, isStaff);
  const hidden: FastifySchema & Record<string, unknown> = { hide: true };

  for (const route of ROUTES) {
    const url = `${ADMIN_API_PREFIX}${route.path}`;
    const served: HTTPMethods[] = [];
    if (route.get !== undefined) served.push('GET', 'HEAD');
    if (route.post !== undefined) served.push('POST');
    const allow = [...served, 'OPTIONS'];
    for (const [method, op] of [
      ['GET', route.get],
      ['POST', route.post],
    ] as const) {
      if (op === undefined) continue;
      app.route({ method, url, schema: schemaFor(route, op), preHandler: staffOnly, handler: handlerFor(restjwt, op, allow) });
    }
    // OPTIONS: DRF answers it for permitted users only; the body says what the route serves.
    app.route({
      method: 'OPTIONS',
      url,
      schema: hidden,
      preHandler: staffOnly,
      handler: async (req, reply) => {
        try {
          adminContext(restjwt, authOf(req));
          const name = (route.get ?? route.post)?.summary ?? '';
          return sendCore(reply, adminResponse(200, { name, renders: ['application/json'], parses: ['application/json', 'application/x-www-form-urlencoded'] }, allow));
        } catch (err) {
          return sendCore(reply, adminErrorResponse(restjwt, err, headerRecord(req.headers)));
        }
      },
    });
    const refused = (['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE'] as const).filter((m) => !served.includes(m));
    if (refused.length > 0) app.route({ method: refused, url, schema: hidden, handler: methodNotAllowed(restjwt, allow) });
    // Like the token endpoints: the path without its slash answers 308 to it (method and body kept).
    app.route({
      method: ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'],
      url: url.slice(0, -1),
      schema: hidden,
      handler: async (req, reply) => {
        const { pathname, search } = splitTarget(req.url);
        return sendCore(reply, slashRedirect(pathname, search));
      },
    });
  }
};

/** `request.auth` as the store's user: the guard is not stateless, so it is a `UserRecord` (or null). */
function authOf(req: FastifyRequest): Authentication<UserRecord> | null {
  return req.auth as Authentication<UserRecord> | null;
}

function handlerFor(restjwt: RestJwt, op: Operation, allow: readonly string[]) {
  return async (req: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> => {
    const headers = headerRecord(req.headers);
    let res: CoreResponse;
    try {
      const ctx = adminContext(restjwt, authOf(req));
      const { pathname, search } = splitTarget(req.url);
      const data =
        req.method === 'POST'
          ? parseBody(headers['content-type'], typeof req.body === 'string' ? req.body : undefined, restjwt.settings.maxBodyBytes)
          : (Object.create(null) as Record<string, unknown>);
      const params = (req.params ?? {}) as Record<string, string>;
      const body = await op.run(ctx, { params, query: queryOf(req), data, pathname, search });
      if (op.action !== undefined) {
        // An audit line per change: who did what to whom (never a password).
        req.log.info(
          { event: 'admin', action: op.action, actorId: ctx.actor.id, userId: params.id ?? null, familyId: params.familyId, provider: params.provider },
          'admin action',
        );
      }
      res = adminResponse(op.ok[0], body, allow);
    } catch (err) {
      res = adminErrorResponse(restjwt, err, headers);
    }
    return sendCore(reply, res);
  };
}

// --- the page -----------------------------------------------------------------------------------------------------

/** The page's files and their types. Nothing else under `/admin/` is served. */
const ASSET_TYPES: Readonly<Record<string, string>> = {
  'index.html': 'text/html; charset=utf-8',
  'admin.js': 'text/javascript; charset=utf-8',
  'admin.css': 'text/css; charset=utf-8',
};

/** The page allows only itself: no inline script or style, no other origin, no framing. */
export const ADMIN_PAGE_CSP = pageCsp();

interface Asset {
  body: Buffer;
  type: string;
  etag: string;
}

/** Where the page's files are (see {@link pageAssetsDir}). */
export const adminAssetsDir = (): string | null => pageAssetsDir('admin');

function loadAssets(dir: string): Map<string, Asset> {
  const assets = new Map<string, Asset>();
  for (const [name, type] of Object.entries(ASSET_TYPES)) {
    const body = readFileSync(`${dir}${name}`);
    assets.set(name, { body, type, etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"` });
  }
  return assets;
}

function registerPage(app: FastifyInstance, restjwt: RestJwt): void {
  const dir = adminAssetsDir();
  const assets = dir === null ? null : loadAssets(dir);
  if (assets === null) app.log.warn('admin page files not found (src/server/assets/admin/ or dist/server/assets/admin/): /admin/ answers 503');
  const serve = (name: string) => async (req: FastifyRequest, reply: FastifyReply) => {
    const asset = assets?.get(name);
    if (asset === undefined) {
      return reply.code(503).header('Content-Type', 'text/plain; charset=utf-8').header('Cache-Control', 'no-store').send('The admin page files are missing from this installation.\n');
    }
    securePage(reply, ADMIN_PAGE_CSP)
      .header('Content-Type', asset.type)
      .header('ETag', asset.etag)
      // Revalidated on every load, so an upgrade is picked up at once; 304 keeps that cheap.
      .header('Cache-Control', 'no-cache');
    if (req.headers['if-none-match'] === asset.etag) return reply.code(304).send();
    return reply.send(asset.body);
  };
  const refuse = methodNotAllowed(restjwt, ['GET', 'HEAD']);
  const files: Array<[string, string]> = [
    [ADMIN_PAGE_PATH, 'index.html'],
    [`${ADMIN_PAGE_PATH}admin.js`, 'admin.js'],
    [`${ADMIN_PAGE_PATH}admin.css`, 'admin.css'],
  ];
  for (const [url, name] of files) {
    app.get(url, { schema: { hide: true } as FastifySchema }, serve(name));
    app.route({ method: ['POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'], url, schema: { hide: true } as FastifySchema, handler: refuse });
  }
  app.route({
    method: ['GET', 'HEAD'],
    url: ADMIN_PAGE_PATH.slice(0, -1),
    schema: { hide: true } as FastifySchema,
    handler: async (req, reply) => {
      const { search } = splitTarget(req.url);
      return sendCore(reply, slashRedirect(ADMIN_PAGE_PATH.slice(0, -1), search));
    },
  });
}

/**
 * Mounts the admin: the API under {@link ADMIN_API_PREFIX} (staff only) and the page at {@link ADMIN_PAGE_PATH}.
 * Called by `buildServer`; an application built on the Fastify adapter may call it too.
 */
export async function registerAdmin(app: FastifyInstance, restjwt: RestJwt): Promise<void> {
  await app.register(adminApi, { restjwt });
  registerPage(app, restjwt);
}
