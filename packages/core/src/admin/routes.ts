/**
 * The admin API as a framework-neutral route table, as social login's: each route answers a plain request
 * ({@link AdminRequest}) with the core's `CoreResponse`, so any adapter can mount it (the reference server does in
 * the `restjwt` package's `src/server/admin.ts`). Every handler authorizes the request itself — staff only, read from the store, with the
 * cookie-mode CSRF check on POSTs authenticated by the access cookie — exactly as `guard(restjwt, isStaff)` would.
 */
import { accessPolicy, isStaff } from '../auth/permissions.js';
import { auditOrigin } from '../audit/events.js';
import { clientAddress } from '../http/client-ip.js';
import { parseBody } from '../http/parse-body.js';
import { splitTarget } from '../http/transport.js';
import type { CoreRequest, CoreResponse } from '../http/types.js';
import type { Authorization, RestJwt } from '../restjwt.js';
import { AUDIT_EVENT_TYPES, type UserRecord } from '../store/types.js';
import { adminContext, type AdminContext } from './context.js';
import type { QueryValue } from './fields.js';
import { adminErrorResponse, adminResponse, pageBody } from './http.js';
import { listIdentities, unlinkIdentity } from './identities.js';
import { auditSummary, listAuditEvents } from './audit.js';
import { listFactors, resetFactors } from './factors.js';
import {
  AUDIT_PAGE_SCHEMA,
  AUDIT_SUMMARY_SCHEMA,
  CHANGE_SCHEMA,
  FACTOR_SCHEMA,
  IDENTITY_SCHEMA,
  operationSchema,
  pageSchema,
  PAGING,
  REVOKED_SCHEMA,
  SESSION_SCHEMA,
  TOKEN_SCHEMA,
  USER_SCHEMA,
  type OperationDoc,
} from './schemas.js';
import { listSessions, revokeAllSessions, revokeSession } from './sessions.js';
import { adminSettings } from './settings.js';
import { flushExpired, listTokens } from './tokens.js';
import { createUser, getUser, listUsers, resetPassword, setUserActive } from './users.js';

/** Where the reference server mounts the admin API. */
export const ADMIN_API_PREFIX = '/api/admin/';

/** One audit line: who changed what for whom (never a password). */
export interface AdminAuditEntry {
  event: 'admin';
  /** `create_user`, `deactivate_user`, `activate_user`, `reset_password`, `revoke_session`, `revoke_all_sessions`, `unlink_identity`, `flush_expired`. */
  action: string;
  /** The staff user acting. */
  actorId: string;
  /** The user acted upon, from the path; null for the routes without one. */
  userId: string | null;
  familyId?: string | undefined;
  provider?: string | undefined;
}

/** A request as the admin's handlers take it: the core's plain request plus its target (path and query). */
export interface AdminRequest extends CoreRequest {
  /** The request target, e.g. `/api/admin/users/?limit=50`: its query is read, its path makes the page links. */
  url: string;
  /**
   * Where the audit line of a change goes (e.g. the framework's request logger). Default: the service's log
   * (`RestJwt.log`, at level info).
   */
  audit?: (entry: AdminAuditEntry) => void;
}

/** One admin route, for an adapter to mount: `path` uses `:name` parameters (Fastify, Express, Hono). */
export interface AdminRoute {
  /** Stable name (`listUsers`, `createUser`, …; `options` for the OPTIONS answers), e.g. to attach docs. */
  name: string;
  method: 'GET' | 'POST' | 'OPTIONS';
  /** The full path, with its trailing slash, e.g. `/api/admin/users/:id/`. */
  path: string;
  /** Every method the path serves (GET implies HEAD): its `Allow` header, and the 405 for any other method. */
  allow: readonly string[];
  /** The JSON Schema documentation of the operation (OpenAPI); undefined for OPTIONS, which is not documented. */
  schema?: Readonly<Record<string, unknown>>;
  /** Answers the request; `params` are the path's parameters, decoded. */
  handle(params: Readonly<Record<string, string | undefined>>, req: AdminRequest): Promise<CoreResponse>;
}

/** What an operation gets from the request, already read. */
interface AdminCall {
  params: Readonly<Record<string, string | undefined>>;
  query: Readonly<Record<string, QueryValue>>;
  /** The parsed body (POST), a null-prototype object; `{}` for GET. */
  data: Readonly<Record<string, unknown>>;
  pathname: string;
  search: string;
}

interface Operation extends OperationDoc {
  /** Stable name of the route. */
  name: string;
  /** For the audit line; undefined for reads. */
  action?: string;
  run(ctx: AdminContext, call: AdminCall): Promise<unknown>;
}

interface PathSpec {
  /** Below the prefix, with the trailing slash. */
  path: string;
  params?: readonly string[];
  get?: Operation;
  post?: Operation;
}

const id = (call: AdminCall): string => call.params.id ?? '';

/** What the identity routes' 404 and 501 mean (the sessions' texts are the shared ones). */
const IDENTITY_ERRORS = {
  404: 'No such user, or the identity is not linked to that user (`not_found`)',
  501: 'The store does not record linked identities (`identities_unsupported`)',
} as const;

const PATHS: readonly PathSpec[] = [
  {
    path: 'users/',
    get: {
      name: 'listUsers',
      summary: 'List users',
      description: 'Users in creation order, paged (`limit`, `offset`) as DRF\'s LimitOffsetPagination.',
      querystring: { type: 'object', properties: PAGING },
      ok: [200, pageSchema(USER_SCHEMA)],
      errors: [400],
      run: async (ctx, call) => pageBody(await listUsers(ctx, call.query), call.pathname, call.search),
    },
    post: {
      name: 'createUser',
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
    get: { name: 'getUser', summary: 'Get a user', description: 'One user, by id.', ok: [200, USER_SCHEMA], errors: [404], run: (ctx, call) => getUser(ctx, id(call)) },
  },
  {
    path: 'users/:id/deactivate/',
    params: ['id'],
    post: {
      name: 'deactivateUser',
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
      name: 'activateUser',
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
      name: 'resetPassword',
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
      name: 'listSessions',
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
      name: 'revokeAllSessions',
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
      name: 'revokeSession',
      summary: 'Revoke one session',
      description:
        "Blacklists every token of the session's family, so its refresh token is refused. 404 unless the session belongs " +
        'to the user in the URL.',
      action: 'revoke_session',
      ok: [200, { type: 'object', properties: { family_id: { type: 'string' }, revoked: { type: 'integer' } }, required: ['family_id', 'revoked'] }],
      errors: [404, 501],
      run: (ctx, call) => revokeSession(ctx, id(call), call.params.familyId ?? ''),
    },
  },
  {
    path: 'users/:id/identities/',
    params: ['id'],
    get: {
      name: 'listIdentities',
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
      name: 'unlinkIdentity',
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
    path: 'users/:id/factors/',
    params: ['id'],
    get: {
      name: 'listFactors',
      summary: "List a user's second factors",
      description: 'TOTP apps and passkeys (never their secrets or keys), and how many recovery codes are left. 501 when the store keeps no second factors.',
      ok: [200, { type: 'object', properties: { results: { type: 'array', items: FACTOR_SCHEMA }, recovery_codes_left: { type: 'integer' } }, required: ['results', 'recovery_codes_left'] }],
      errors: [404, 501],
      errorText: { 501: 'The store keeps no second factors (`mfa_unsupported`)' },
      run: (ctx, call) => listFactors(ctx, id(call)),
    },
  },
  {
    path: 'users/:id/factors/reset/',
    params: ['id'],
    post: {
      name: 'resetFactors',
      summary: "Reset a user's second factors",
      description:
        'Removes every second factor and recovery code of the user (they sign in with the password alone, then enrol again) and ' +
        'ends every session of the user. Audited as `factors_reset`.',
      action: 'reset_factors',
      ok: [200, { type: 'object', properties: { removed: { type: 'integer' }, revoked: { type: 'integer' } }, required: ['removed', 'revoked'] }],
      errors: [404, 501],
      errorText: { 501: 'The store keeps no second factors (`mfa_unsupported`)' },
      run: (ctx, call) => resetFactors(ctx, id(call)),
    },
  },
  {
    path: 'tokens/',
    get: {
      name: 'listTokens',
      summary: 'List outstanding tokens',
      description: 'Refresh and sliding tokens, newest first: `blacklisted=true` for the blacklist, `user` for one user\'s.',
      querystring: { type: 'object', properties: { blacklisted: { type: 'boolean' }, user: { type: 'string', description: 'A user id.' }, ...PAGING } },
      ok: [200, pageSchema(TOKEN_SCHEMA)],
      errors: [400, 501],
      run: async (ctx, call) => pageBody(await listTokens(ctx, call.query), call.pathname, call.search),
    },
  },
  {
    path: 'audit/',
    get: {
      name: 'listAuditEvents',
      summary: 'List audit events',
      description:
        'The audit log, newest first: logins and refused logins, refresh-token reuse, logouts, password changes and admin ' +
        'actions. `user` (an id or a username), `type`, `since` and `until` (ISO 8601 with an offset) filter; follow `next` ' +
        'for older events. 501 when the store keeps no audit log.',
      querystring: {
        type: 'object',
        properties: {
          user: { type: 'string', description: 'A user id or a username (a refused login names one nobody has).' },
          type: { type: 'string', enum: [...AUDIT_EVENT_TYPES] },
          since: { type: 'string', format: 'date-time' },
          until: { type: 'string', format: 'date-time' },
          cursor: { type: 'string', description: 'From a `next` link.' },
          limit: PAGING.limit,
        },
      },
      ok: [200, AUDIT_PAGE_SCHEMA],
      errors: [400, 501],
      errorText: { 501: 'The store keeps no audit log (`audit_unsupported`)' },
      run: (ctx, call) => listAuditEvents(ctx, call.query, call.pathname, call.search),
    },
  },
  {
    path: 'audit/summary/',
    get: {
      name: 'auditSummary',
      summary: 'Audit event counts',
      description:
        'How many events of each type fell in each bucket of `bucket` seconds (default 60) over the last `minutes` ' +
        '(default 60): the admin dashboard. 501 when the store keeps no audit log.',
      querystring: {
        type: 'object',
        properties: {
          minutes: { type: 'integer', minimum: 1, maximum: 1440, default: 60 },
          bucket: { type: 'integer', minimum: 10, maximum: 3600, default: 60 },
        },
      },
      ok: [200, AUDIT_SUMMARY_SCHEMA],
      errors: [400, 501],
      errorText: { 501: 'The store keeps no audit log (`audit_unsupported`)' },
      run: (ctx, call) => auditSummary(ctx, call.query),
    },
  },
  {
    path: 'settings/',
    get: {
      name: 'settings',
      summary: 'Admin settings',
      description:
        'The server settings that change what the admin shows: `update_last_login` (simplejwt\'s `UPDATE_LAST_LOGIN`) ' +
        'says whether logins record `last_login`; when it is false a null `last_login` means "not recorded", not "never".',
      ok: [200, { type: 'object', properties: { update_last_login: { type: 'boolean' }, audit_log: { type: 'boolean' } }, required: ['update_last_login', 'audit_log'] }],
      errors: [],
      run: async (ctx) => adminSettings(ctx),
    },
  },
  {
    path: 'flush/',
    post: {
      name: 'flushExpired',
      summary: 'Flush expired tokens',
      description: '`restjwt flushexpiredtokens` from the admin: deletes the rows of tokens that have expired.',
      action: 'flush_expired',
      ok: [200, { type: 'object', properties: { deleted: { type: 'integer' } }, required: ['deleted'] }],
      errors: [],
      run: (ctx) => flushExpired(ctx),
    },
  },
];

/** Staff only, as `guard(restjwt, isStaff)`. */
const STAFF_ONLY = accessPolicy([isStaff]);

/** The query string of a request target as `QueryValue`s: repeated keys as arrays, as frameworks parse them. */
function queryOf(search: string): Record<string, QueryValue> {
  const out: Record<string, QueryValue> = Object.create(null) as Record<string, QueryValue>;
  for (const [k, v] of new URLSearchParams(search)) {
    const seen = out[k];
    out[k] = seen === undefined ? v : [...(typeof seen === 'string' ? [seen] : seen), v];
  }
  return out;
}

/**
 * Runs `answer` for a staff user only: the guard's refusal (401 with `WWW-Authenticate`, 403, 503) as the guard
 * renders it, else `answer`'s response, its errors rendered by the core with `Cache-Control: no-store`.
 */
async function asStaff(restjwt: RestJwt, req: AdminRequest, answer: (ctx: AdminContext) => Promise<CoreResponse>): Promise<CoreResponse> {
  let authorized: Authorization<UserRecord>;
  try {
    authorized = await restjwt.authorize<UserRecord>(req.headers, STAFF_ONLY, req.method);
  } catch (err) {
    // A bug in authentication, not a refusal: answered as a framework's error handler would (500).
    return restjwt.errorResponse(err, req.headers);
  }
  if (authorized.response !== undefined) return authorized.response;
  try {
    // The admin context checks staff status again: no operation runs without it.
    const address = clientAddress(req.ip, req.headers['x-forwarded-for'], restjwt.settings.trustedProxies);
    return await answer(adminContext(restjwt, authorized.auth, auditOrigin(address, req.headers)));
  } catch (err) {
    return adminErrorResponse(restjwt, err, req.headers);
  }
}

function operationRoute(restjwt: RestJwt, url: string, spec: PathSpec, method: 'GET' | 'POST', op: Operation, allow: readonly string[]): AdminRoute {
  return {
    name: op.name,
    method,
    path: url,
    allow,
    schema: operationSchema(op, spec.params),
    handle: (params, req) =>
      asStaff(restjwt, req, async (ctx) => {
        const { pathname, search } = splitTarget(req.url);
        const data =
          req.method === 'POST' ? parseBody(req.headers['content-type'], req.rawBody, restjwt.settings.maxBodyBytes) : (Object.create(null) as Record<string, unknown>);
        const body = await op.run(ctx, { params, query: queryOf(search), data, pathname, search });
        if (op.action !== undefined) {
          const entry: AdminAuditEntry = {
            event: 'admin',
            action: op.action,
            actorId: ctx.actor.id,
            userId: params.id ?? null,
            familyId: params.familyId,
            provider: params.provider,
          };
          if (req.audit !== undefined) req.audit(entry);
          else restjwt.log({ level: 'info', ...entry });
        }
        return adminResponse(op.ok[0], body, allow);
      }),
  };
}

/**
 * The admin API's routes under `prefix` (default {@link ADMIN_API_PREFIX}), for an adapter to mount: each
 * operation's GET or POST, and an OPTIONS answer per path (DRF's metadata, for staff only). The adapter adds what is
 * its own: HEAD for each GET, 405 with `allow` for the other methods, and the 308 from a path without its slash.
 */
export function adminRoutes(restjwt: RestJwt, prefix: string = ADMIN_API_PREFIX): AdminRoute[] {
  const routes: AdminRoute[] = [];
  for (const spec of PATHS) {
    const url = `${prefix}${spec.path}`;
    const allow = [...(spec.get === undefined ? [] : ['GET', 'HEAD']), ...(spec.post === undefined ? [] : ['POST']), 'OPTIONS'];
    if (spec.get !== undefined) routes.push(operationRoute(restjwt, url, spec, 'GET', spec.get, allow));
    if (spec.post !== undefined) routes.push(operationRoute(restjwt, url, spec, 'POST', spec.post, allow));
    // DRF answers OPTIONS for permitted users only; the body says what the route serves.
    const name = (spec.get ?? spec.post)?.summary ?? '';
    routes.push({
      name: 'options',
      method: 'OPTIONS',
      path: url,
      allow,
      handle: (_params, req) =>
        asStaff(restjwt, req, async () =>
          adminResponse(200, { name, renders: ['application/json'], parses: ['application/json', 'application/x-www-form-urlencoded'] }, allow),
        ),
    });
  }
  return routes;
}
