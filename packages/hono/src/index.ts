/**
 * The Hono 4 adapter, on web-standard `Request`/`Response` only: it runs wherever Hono runs (Bun, Deno, Cloudflare
 * Workers, and Node through @hono/node-server).
 *
 * ```ts
 * const app = new Hono();
 * app.route('/', restjwtRoutes({ restjwt, prefix: '/api/' }));
 * app.get('/api/protected/', guard(restjwt), (c) => c.json({ message: 'Hello, authenticated user!' }));
 * ```
 *
 * `c.get('auth')` and `c.get('user')` are typed by the middleware on the route (non-null after `guard`), or by the
 * app's `Variables`: `new Hono<RestJwtEnv>()`.
 *
 * A web `Request` cannot tell two `Authorization` lines from one: `Headers` joins them with ", ". The core refuses a
 * joined value (400 `duplicate_authorization_header`) when a comma follows `Bearer <token>` or a configured type
 * follows a comma, which no single Bearer credential can contain (a token68 has no comma, nor any whitespace).
 */
import { Hono, type Context, type ErrorHandler, type MiddlewareHandler } from 'hono';
import { HTTPException } from 'hono/http-exception';
import { accessPolicy, authenticationPolicy, type AccessPolicy, type Authentication, type AuthUser, type CoreResponse, type GuardArgs, type RestJwt, type UserRecord } from '@restjwt/core';
import { headerRecord, responseText, slashRedirect } from '@restjwt/core/adapter-kit';

/** The variables `authenticate` sets: the authentication and its user, null when anonymous. */
export interface RestJwtEnv<U = UserRecord> {
  Variables: { auth: Authentication<U> | null; user: U | null };
}

/** The variables after `guard`: never anonymous. */
export interface GuardedEnv<U = UserRecord> {
  Variables: { auth: Authentication<U>; user: U };
}

export interface RestJwtHonoOptions {
  /** The service built by `createRestJwt`. */
  restjwt: RestJwt;
  /**
   * Where the token endpoints go. Default: the service's own (`createRestJwt({ prefix })`, `/api/` unless set: so
   * `/api/token/`, `/api/token/refresh/`, …). Another one only without cookie mode: see `RestJwt.routes`.
   */
  prefix?: string;
  /**
   * The client address for the core's request (the runtime knows it, not the `Request`): with @hono/node-server,
   * `(c) => getConnInfo(c).remote.address`. Default: none.
   */
  ip?: (c: Context) => string | undefined;
}

/** A core response as a web `Response`, byte for byte. */
export function toResponse(res: CoreResponse): Response {
  const headers = new Headers(res.headers);
  for (const cookie of res.cookies ?? []) headers.append('Set-Cookie', cookie);
  return new Response(res.body === undefined ? null : responseText(res), { status: res.status, headers });
}

const headersOf = (c: Context) => headerRecord(c.req.raw.headers);

/** What a {@link lazyHeaders} proxy reads from: the web headers, and their record once someone asks for all of it. */
class HeaderSource {
  record: Record<string, string | undefined> | undefined;
  constructor(readonly headers: Headers) {}
}

const all = (t: HeaderSource) => (t.record ??= headerRecord(t.headers));

/** A header name in lowercase: the only keys headerRecord's object can have. */
const LOWERCASE_NAME = /^[!#$%&'*+\-.^_`|~0-9a-z]+$/;

const lazyHandler: ProxyHandler<HeaderSource> = {
  get(t, name) {
    if (typeof name !== 'string') return undefined;
    if (t.record !== undefined) return t.record[name];
    // headerRecord's keys are the lowercase names, and each value is what `get` answers (values joined by ", ").
    return LOWERCASE_NAME.test(name) ? (t.headers.get(name) ?? undefined) : undefined;
  },
  has: (t, name) => typeof name === 'string' && lazyHandler.get!(t, name, t) !== undefined,
  ownKeys: (t) => Reflect.ownKeys(all(t)),
  getOwnPropertyDescriptor: (t, name) => Reflect.getOwnPropertyDescriptor(all(t), name),
  getPrototypeOf: () => null,
  // Writes go to the record, as they would on headerRecord's object; reads then come from it.
  set: (t, name, value) => Reflect.set(all(t), name, value),
  defineProperty: (t, name, descriptor) => Reflect.defineProperty(all(t), name, descriptor),
  deleteProperty: (t, name) => Reflect.deleteProperty(all(t), name),
};

/**
 * `headerRecord(c.req.raw.headers)` read one name at a time: the guard reads two or three headers, and building the
 * whole record first copies every header into a new `Headers` (@hono/node-server keeps Node's raw headers until
 * someone iterates them) and sorts it — ~2.5 µs per request measured alone, ten times a cached verification. Iterating the proxy
 * (keys, spread) builds that record once, so it reads the same either way.
 */
const lazyHeaders = (c: Context): Readonly<Record<string, string | undefined>> =>
  new Proxy(new HeaderSource(c.req.raw.headers), lazyHandler) as unknown as Readonly<Record<string, string | undefined>>;

/**
 * The token endpoints as a Hono sub-app, mounted with `app.route('/', restjwtRoutes({ restjwt }))`. Each route
 * hands the raw body stream to the core; a missing trailing slash answers 308 to the slashed URL.
 */
export function restjwtRoutes(options: RestJwtHonoOptions): Hono {
  const { restjwt } = options;
  const app = new Hono({ strict: true });
  for (const route of restjwt.routes(options.prefix)) {
    app.all(route.path, async (c) => {
      const req = c.req.raw;
      if (req.bodyUsed) throw new Error(`restjwt: the body of ${req.method} ${c.req.path} was already read; do not read token requests' bodies before restjwtRoutes`);
      return toResponse(await restjwt.handleStream(route.name, { method: req.method, headers: headersOf(c), body: req.body, ip: options.ip?.(c) }));
    });
    app.all(route.bare, (c) => {
      const url = new URL(c.req.url);
      return toResponse(slashRedirect(url.pathname, url.search));
    });
  }
  return app;
}

/** Runs a policy: sets `auth` and `user`, or answers the core's refusal. Other errors reach `app.onError`. */
function middlewareFor<U, E extends RestJwtEnv<U> | GuardedEnv<U>>(restjwt: RestJwt, policy: AccessPolicy<U>): MiddlewareHandler<E> {
  return async (c, next) => {
    const result = await restjwt.authorize(lazyHeaders(c), policy, c.req.method);
    if (result.response !== undefined) return toResponse(result.response);
    const ctx = c as unknown as Context<RestJwtEnv<U>>;
    ctx.set('auth', result.auth);
    ctx.set('user', result.auth?.user ?? null);
    await next();
  };
}

/**
 * Authentication middleware: reads the Bearer header, sets `auth` and `user` (null when anonymous) and answers
 * 401 with the core's body for a bad token. `{ stateless: true }` builds a `TokenUser` from the claims without
 * reading the store.
 */
export function authenticate<S extends boolean = false>(restjwt: RestJwt, options: { stateless?: S } = {}): MiddlewareHandler<RestJwtEnv<AuthUser<S>>> {
  return middlewareFor(restjwt, authenticationPolicy(options));
}

/**
 * Authenticates, then applies the permissions (default: isAuthenticated), answering 401 or 403 in the core's
 * words: `guard(restjwt)`, `guard(restjwt, isStaff)`, `guard(restjwt, { stateless: true, permissions: [isStaff] })`.
 */
export function guard<S extends boolean = false>(restjwt: RestJwt, ...args: GuardArgs<S>): MiddlewareHandler<GuardedEnv<AuthUser<S>>> {
  return middlewareFor(restjwt, accessPolicy(args));
}

/**
 * `app.onError(errorHandler(restjwt))`: any error in the core's words (a logged 500 without details); Hono's own
 * `HTTPException`s keep their answer.
 */
export function errorHandler(restjwt: RestJwt): ErrorHandler {
  return (err, c) => (err instanceof HTTPException ? err.getResponse() : toResponse(restjwt.errorResponse(err, headersOf(c))));
}
