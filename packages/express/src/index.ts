/**
 * The Express 5 adapter: a `Router` answering the token endpoints, and `authenticate` / `guard` middleware.
 *
 * ```ts
 * app.use(restjwtRouter({ restjwt, prefix: '/api/' }));          // before express.json(): the core reads the body
 * app.get('/api/protected/', guard(restjwt), (req, res) => { res.json({ message: 'Hello, authenticated user!' }) });
 * ```
 *
 * The authentication is attached twice, for both Express habits: `res.locals.auth` / `res.locals.user` (typed by
 * inference from the middleware) and `req.auth` (type the handler's `req` as `RestJwtRequest<U>`).
 */
import express, { type ErrorRequestHandler, type Request, type RequestHandler, type Router } from 'express';
import { accessPolicy, authenticationPolicy, ParseError, PayloadTooLarge, type AccessPolicy, type Authentication, type AuthUser, type Authorization, type GuardArgs, type RestJwt, type UserRecord } from '@restjwt/core';
import { nodeHeaderMap } from '@restjwt/core/adapter-kit';
import { handleNode, nodeHeaders, redirectNode, sendNode } from '@restjwt/core/node';

export interface RestJwtExpressOptions {
  /** The service built by `createRestJwt`. */
  restjwt: RestJwt;
  /**
   * Where the token endpoints go. Default: the service's own (`createRestJwt({ prefix })`, `/api/` unless set: so
   * `/api/token/`, `/api/token/refresh/`, …). Another one only without cookie mode: see `RestJwt.routes`.
   */
  prefix?: string;
}

/** `res.locals` after `authenticate`: the authentication and its user, null when anonymous. */
export interface RestJwtLocals<U = UserRecord> extends Record<string, unknown> {
  auth: Authentication<U> | null;
  user: U | null;
}

/** `res.locals` after `guard`: never anonymous. */
export interface GuardedLocals<U = UserRecord> extends Record<string, unknown> {
  auth: Authentication<U>;
  user: U;
}

/** A request that went through `authenticate` or `guard` (express-jwt's convention: `req.auth`). */
export type RestJwtRequest<U = UserRecord> = Request & { auth?: Authentication<U> | null };

/**
 * Middleware that fills `res.locals` with `L`: Express infers `L` for the handlers after it. The other type
 * arguments are Express's own defaults, so the middleware narrows nothing else of the route.
 */
// (The two `any`s are Express's own defaults for the bodies, kept on purpose.)
export type RestJwtMiddleware<L extends Record<string, unknown>> = RequestHandler<Request['params'], any, any, Request['query'], L>;

/**
 * The token endpoints as an Express `Router`: strict (a missing trailing slash answers 308 to the slashed URL) and
 * case-sensitive, as Django's URLs. Each route hands the raw body stream to the core, so mount the router before any
 * body parser: `app.use(restjwtRouter({ restjwt }))`, then `app.use(express.json())`.
 */
export function restjwtRouter(options: RestJwtExpressOptions): Router {
  const { restjwt } = options;
  const router = express.Router({ strict: true, caseSensitive: true });
  for (const route of restjwt.routes(options.prefix)) {
    router.all(route.path, async (req, res) => sendNode(res, await handleNode(restjwt, route.name, req, req.ip)));
    router.all(route.bare, (req, res) => redirectNode(res, req.originalUrl));
  }
  return router;
}

/**
 * Runs a policy: attaches the authentication, or answers the core's refusal. Other errors go to `next(err)`. Not an
 * async function: with a store that answers at once (memory, SQLite) `authorizeNow` decides synchronously and the
 * request goes on without any promise.
 */
function middlewareFor<U, L extends Record<string, unknown>>(restjwt: RestJwt, policy: AccessPolicy<U>): RestJwtMiddleware<L> {
  const name = restjwt.settings.authHeaderName;
  return (req, res, next) => {
    const settle = (result: Authorization<U>): void => {
      if (result.response !== undefined) {
        sendNode(res, result.response);
        return;
      }
      (req as RestJwtRequest<U>).auth = result.auth;
      const locals = res.locals as Record<string, unknown>;
      locals.auth = result.auth;
      locals.user = result.auth?.user ?? null;
      next();
    };
    // Node's header object itself (no copy per request), unless the auth header came more than once. A throw here
    // or in `settle` reaches Express, which passes it to next(err), as it does a rejection of the promise below.
    const decided = restjwt.authorizeNow(nodeHeaderMap(req.headers, req.rawHeaders, name), policy, req.method);
    if (decided instanceof Promise) return decided.then(settle);
    settle(decided);
  };
}

/**
 * Authentication middleware: reads the Bearer header, attaches the user and token (null when anonymous) and
 * answers 401 with the core's body for a bad token. `{ stateless: true }` builds a `TokenUser` from the claims
 * without reading the store.
 */
export function authenticate<S extends boolean = false>(
  restjwt: RestJwt,
  options: { stateless?: S } = {},
): RestJwtMiddleware<RestJwtLocals<AuthUser<S>>> {
  return middlewareFor(restjwt, authenticationPolicy(options));
}

/**
 * Authenticates, then applies the permissions (default: isAuthenticated), answering 401 or 403 in the core's
 * words: `guard(restjwt)`, `guard(restjwt, isStaff)`, `guard(restjwt, { stateless: true, permissions: [isStaff] })`.
 */
export function guard<S extends boolean = false>(restjwt: RestJwt, ...args: GuardArgs<S>): RestJwtMiddleware<GuardedLocals<AuthUser<S>>> {
  return middlewareFor(restjwt, accessPolicy(args));
}

/** body-parser's errors (on the app's other routes), told in the core's words. */
function translateExpressError(err: unknown, restjwt: RestJwt): unknown {
  const e = err as { type?: unknown; status?: unknown; limit?: unknown } | null;
  if (e?.type === 'entity.too.large') return new PayloadTooLarge(typeof e.limit === 'number' ? e.limit : restjwt.settings.maxBodyBytes);
  return typeof e?.status === 'number' && e.status >= 400 && e.status < 500 ? new ParseError('the request could not be read.') : err;
}

/**
 * An error-handling middleware (`app.use(errorHandler(restjwt))`, last) that answers any error in the core's words:
 * body-parser's 4xx translated, anything else a logged 500 without details.
 */
export function errorHandler(restjwt: RestJwt): ErrorRequestHandler {
  return (err, req, res, next) => {
    if (res.headersSent) return next(err);
    sendNode(res, restjwt.errorResponse(translateExpressError(err, restjwt), nodeHeaders(req, restjwt)));
  };
}
