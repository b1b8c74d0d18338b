import type {
  FastifyError,
  FastifyPluginAsync,
  FastifyReply,
  FastifyRequest,
  FastifySchema,
  HTTPMethods,
  preHandlerHookHandler,
} from 'fastify';
import fp from 'fastify-plugin';
import { accessPolicy, authenticationPolicy, MethodNotAllowed, ParseError, PayloadTooLarge, UnsupportedMediaType, type AccessPolicy, type Authentication, type Authorization, type CoreResponse, type GuardArgs, type RestJwt, type UserRecord } from '@restjwt/core';
import { endpointSchema, headerRecord, nodeHeaderMap, nodeHeaderRecord, mediaType, responseText, outgoingHeaders, slashRedirect, splitTarget, type TokenRoute } from '@restjwt/core/adapter-kit';

/**
 * Types `request.auth`'s user, as @fastify/jwt's `FastifyJWT` does. The default is the store's `UserRecord`; an app
 * that authenticates statelessly says so once:
 * `declare module '@restjwt/fastify' { interface RestJwtFastifyTypes { user: TokenUser } }`.
 */
export interface RestJwtFastifyTypes {}

/** The user type of `request.auth`: `RestJwtFastifyTypes['user']` when declared, else `UserRecord`. */
export type FastifyAuthUser = RestJwtFastifyTypes extends { user: infer U } ? U : UserRecord;

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by restjwt's authentication hook: the user and token, or null for an anonymous request. */
    auth: Authentication<FastifyAuthUser> | null;
  }
  interface FastifyInstance {
    restjwt: RestJwt;
  }
}

export interface RestJwtFastifyOptions {
  /** The service built by `createRestJwt`. */
  restjwt: RestJwt;
  /**
   * Where the token endpoints go. Default: the service's own (`createRestJwt({ prefix })`, `/api/` unless set: so
   * `/api/token/`, `/api/token/refresh/`, …). Another one only without cookie mode: see `RestJwt.routes`.
   */
  prefix?: string;
}

const OTHER_METHODS: HTTPMethods[] = ['GET', 'HEAD', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'];
const ALL_METHODS: HTTPMethods[] = ['POST', ...OTHER_METHODS];

/** Writes a core response. The body is serialised by the core, so it goes out exactly as the core wrote it. */
export function sendCore(reply: FastifyReply, res: CoreResponse): FastifyReply {
  return reply.code(res.status).headers(outgoingHeaders(res)).send(responseText(res));
}

const headersOf = (req: FastifyRequest) => headerRecord(req.headers);
/** The headers for a request the core authenticates: every copy of the auth header, which Node alone would drop. */
const authHeadersOf = (req: FastifyRequest, rj: RestJwt) => nodeHeaderRecord(req.headers, req.raw.rawHeaders, rj.settings.authHeaderName);

/** Fastify's own body errors, told in the core's words. */
function translateFastifyError(err: FastifyError, rj: RestJwt, req: FastifyRequest): unknown {
  switch (err.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new PayloadTooLarge(rj.settings.maxBodyBytes);
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new UnsupportedMediaType(mediaType(req.headers['content-type']));
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return new ParseError('the body does not match its Content-Length.');
    default:
      return err.statusCode !== undefined && err.statusCode < 500 && err.validation === undefined ? new ParseError('the request could not be read.') : err;
  }
}

/** An error handler that answers any error in the core's words: Fastify's body errors translated, others 500. */
export function errorHandler(restjwt: RestJwt) {
  return (err: FastifyError, req: FastifyRequest, reply: FastifyReply): FastifyReply => {
    const translated = translateFastifyError(err, restjwt, req);
    if (translated === err) req.log.error({ err: { name: err.name, code: err.code, message: err.message } }, 'request failed');
    return sendCore(reply, restjwt.errorResponse(translated, headersOf(req)));
  };
}

/** The route schema @fastify/swagger documents: the core's request fields and answers. */
function routeSchema(route: TokenRoute, restjwt: RestJwt): FastifySchema {
  const { summary, consumes, body, response } = endpointSchema(route.spec, restjwt.settings);
  const schema: FastifySchema & Record<string, unknown> = { summary, consumes, tags: ['token'], body, response };
  return schema;
}

/**
 * Token endpoints: raw bodies go to the core, which parses them exactly as simplejwt's DRF views do (JSON and
 * urlencoded, 415 for the rest). Encapsulated, so its parsers and compilers do not change the user's other routes.
 */
// `mount`, not `prefix`: Fastify would take `prefix` as the plugin's own route prefix.
const tokenRoutes: FastifyPluginAsync<{ restjwt: RestJwt; mount: string }> = async (app, { restjwt, mount }) => {
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'string', bodyLimit: restjwt.settings.maxBodyBytes }, (_req, body, done) => done(null, body));
  // The schemas document; they never validate or serialise: the core's field rules and bytes are the answer.
  app.setValidatorCompiler(() => () => true);
  app.setSerializerCompiler(() => (data) => JSON.stringify(data));
  app.setErrorHandler(errorHandler(restjwt));
  const hidden: FastifySchema & Record<string, unknown> = { hide: true };
  for (const route of restjwt.routes(mount)) {
    const handler = async (req: FastifyRequest, reply: FastifyReply) =>
      sendCore(
        reply,
        await restjwt.handle(route.name, { method: req.method, headers: authHeadersOf(req, restjwt), rawBody: typeof req.body === 'string' ? req.body : undefined, ip: req.ip }),
      );
    app.route({ method: 'POST', url: route.path, schema: routeSchema(route, restjwt), handler });
    // Fastify refuses a body schema on GET/HEAD: the other methods (405, OPTIONS) are a second, undocumented route.
    app.route({ method: OTHER_METHODS, url: route.path, schema: hidden, handler });
    app.route({
      method: ALL_METHODS,
      url: route.bare,
      schema: hidden,
      handler: async (req, reply) => {
        const { pathname, search } = splitTarget(req.url);
        return sendCore(reply, slashRedirect(pathname, search));
      },
    });
  }
};

/**
 * Runs a policy and attaches `request.auth`, or answers the core's refusal. A callback hook, not an async one:
 * Fastify runs an async hook through a promise of its own on top of the core's (an empty async preHandler cost 5–10 %
 * of a route's requests/s under wrk -c50 here, an empty callback one nothing measurable). With a store that answers
 * at once (memory, SQLite) `authorizeNow` decides synchronously and `done` is called without any promise.
 */
function hookFor<U>(restjwt: RestJwt, policy: AccessPolicy<U>): preHandlerHookHandler {
  const name = restjwt.settings.authHeaderName;
  return function restjwtHook(req, reply, done) {
    const settle = (result: Authorization<U>): void => {
      // A refusal is the answer: sent here, and the route never runs (no done()).
      if (result.response !== undefined) {
        sendCore(reply, result.response);
        return;
      }
      req.auth = result.auth as Authentication<FastifyAuthUser> | null;
      done();
    };
    const fail = (err: unknown): void => done(err instanceof Error ? err : new Error(String(err)));
    let decided;
    try {
      // Node's header object itself (no copy per request), unless the auth header came more than once.
      decided = restjwt.authorizeNow(nodeHeaderMap(req.headers, req.raw.rawHeaders, name), policy, req.method);
    } catch (err) {
      fail(err);
      return;
    }
    if (decided instanceof Promise) decided.then(settle, fail);
    else settle(decided);
  };
}

/**
 * The authentication hook: reads the Bearer header, attaches `request.auth` (null when anonymous) and answers
 * 401 with the core's body for a bad token. Use it as a `preHandler` (or `onRequest`) hook.
 * `{ stateless: true }` builds a `TokenUser` from the claims without reading the store.
 */
export function authenticate<S extends boolean = false>(restjwt: RestJwt, options: { stateless?: S } = {}): preHandlerHookHandler {
  return hookFor(restjwt, authenticationPolicy(options));
}

/**
 * A preHandler that authenticates, then applies the permissions (default: isAuthenticated):
 * `guard(restjwt)`, `guard(restjwt, isStaff)`, `guard(restjwt, { stateless: true, permissions: [isStaff] })`.
 */
export function guard<S extends boolean = false>(restjwt: RestJwt, ...args: GuardArgs<S>): preHandlerHookHandler {
  return hookFor(restjwt, accessPolicy(args));
}

/** Answers 405 in the core's words for methods a route does not serve. */
export function methodNotAllowed(restjwt: RestJwt, allow: readonly string[]) {
  return async (req: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> =>
    sendCore(reply, restjwt.errorResponse(new MethodNotAllowed(req.method, allow), headersOf(req)));
}

/**
 * The Fastify plugin: mounts the token endpoints under `prefix`, decorates `fastify.restjwt` and
 * `request.auth`. Protect a route with `{ preHandler: guard(restjwt) }`.
 */
export const restjwtPlugin = fp<RestJwtFastifyOptions>(
  async (app, options) => {
    app.decorate('restjwt', options.restjwt);
    app.decorateRequest('auth', null);
    await app.register(tokenRoutes, { restjwt: options.restjwt, mount: options.prefix ?? options.restjwt.prefix });
  },
  { name: 'restjwt', fastify: '5.x' },
);

export default restjwtPlugin;
