import type { FastifyError, FastifyInstance, FastifyPluginAsync, FastifyReply, FastifyRequest, preHandlerAsyncHookHandler } from 'fastify';
import fp from 'fastify-plugin';
import {
  checkPermissions,
  isAuthenticated,
  MethodNotAllowed,
  ParseError,
  PayloadTooLarge,
  UnsupportedMediaType,
  mediaType,
  type Authentication,
  type CoreResponse,
  type Permission,
  type RestJwt,
} from '../../core/index.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by restjwt's authentication hook: the user and token, or null for an anonymous request. */
    auth: Authentication | null;
  }
  interface FastifyInstance {
    restjwt: RestJwt;
  }
}

export interface RestJwtFastifyOptions {
  /** The service built by `createRestJwt`. */
  restjwt: RestJwt;
  /** Where the token endpoints go. Default `/api/` (so `/api/token/`, `/api/token/refresh/`, …). */
  prefix?: string;
}

const ALL_METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'] as const;

/** Writes a core response. The body is serialised here so Content-Type stays exactly `application/json`. */
export function sendCore(reply: FastifyReply, res: CoreResponse): FastifyReply {
  reply.code(res.status).headers(res.headers);
  return reply.send(res.body === undefined ? '' : JSON.stringify(res.body));
}

function headersOf(req: FastifyRequest): Record<string, string | undefined> {
  const out: Record<string, string | undefined> = {};
  for (const [k, v] of Object.entries(req.headers)) out[k] = Array.isArray(v) ? v.join(', ') : v;
  return out;
}

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

/**
 * Token endpoints: raw bodies go to the core, which parses them exactly as simplejwt's DRF views do (JSON and
 * urlencoded, 415 for the rest). Encapsulated, so its parsers do not change the user's other routes.
 */
const tokenRoutes: FastifyPluginAsync<{ restjwt: RestJwt; mount: string }> = async (app, { restjwt, mount }) => {
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'string', bodyLimit: restjwt.settings.maxBodyBytes }, (_req, body, done) => done(null, body));
  app.setErrorHandler(errorHandler(restjwt));
  for (const endpoint of restjwt.endpoints) {
    const url = `${mount}${endpoint.path}`;
    app.route({
      method: [...ALL_METHODS],
      url,
      handler: async (req, reply) => {
        const res = await restjwt.handle(endpoint.name, {
          method: req.method,
          headers: headersOf(req),
          rawBody: typeof req.body === 'string' ? req.body : undefined,
          ip: req.ip,
        });
        return sendCore(reply, res);
      },
    });
    // Django's APPEND_SLASH answers 301, which turns a POST into a GET; 308 keeps the method and body.
    app.route({
      method: [...ALL_METHODS],
      url: url.slice(0, -1),
      handler: async (_req, reply) => reply.code(308).header('Location', url).send(''),
    });
  }
};

/**
 * The authentication hook: reads the Bearer header, attaches `request.auth` (null when anonymous) and answers
 * 401 with the core's body for a bad token. Use it as a `preHandler` (or `onRequest`) hook.
 */
export function authenticate(restjwt: RestJwt): preHandlerAsyncHookHandler {
  return async function restjwtAuthenticate(req, reply) {
    try {
      req.auth = await restjwt.authenticate(headersOf(req));
    } catch (err) {
      return sendCore(reply, restjwt.errorResponse(err, headersOf(req)));
    }
  };
}

/** A preHandler that authenticates, then applies the permissions (default: isAuthenticated). */
export function guard(restjwt: RestJwt, ...permissions: Permission[]): preHandlerAsyncHookHandler {
  const perms = permissions.length > 0 ? permissions : [isAuthenticated];
  const auth = authenticate(restjwt);
  return async function restjwtGuard(this: FastifyInstance, req, reply) {
    await auth.call(this, req, reply);
    if (reply.sent) return;
    try {
      checkPermissions(req.auth, perms);
    } catch (err) {
      return sendCore(reply, restjwt.errorResponse(err, headersOf(req)));
    }
  };
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
    const prefix = options.prefix ?? '/api/';
    if (!prefix.startsWith('/') || !prefix.endsWith('/')) throw new Error(`prefix must start and end with "/", got "${prefix}"`);
    app.decorate('restjwt', options.restjwt);
    app.decorateRequest('auth', null);
    await app.register(tokenRoutes, { restjwt: options.restjwt, mount: prefix });
  },
  { name: 'restjwt', fastify: '5.x' },
);

export default restjwtPlugin;
