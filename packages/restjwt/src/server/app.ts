import { maxHeaderSize, STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify';
import { errorHandler, guard, methodNotAllowed, restjwtPlugin, sendCore } from '@restjwt/fastify';
import { HeadersTooLarge, MalformedRequest, NotFound, publicUser, requireMfa, type RestJwt } from '@restjwt/core';
import { publicJwks } from '@restjwt/core/adapter-kit';
import { registerAdmin } from './admin.js';
import { AccessLog, accessLines, DEFAULT_LOGGER, WithoutRequestLines } from './logging.js';
import { registerOpenApi, routeDocs } from './openapi.js';
import { registerPages } from './pages.js';
import { registerMfa } from './mfa.js';
import { registerSocial } from './social.js';

export { DEFAULT_LOGGER } from './logging.js';

export interface ServerOptions {
  restjwt: RestJwt;
  /** Fastify logger options; false for none. Defaults to {@link DEFAULT_LOGGER}: JSON lines at info, secrets redacted. */
  logger?: FastifyServerOptions['logger'];
  /** Social login (`createSocialLogin` from `@restjwt/social`): mounts `/api/auth/…` when given. */
  social?: import('@restjwt/social').SocialLogin;
  /**
   * Second factors (`createMfa` from `@restjwt/mfa`, whose `secondFactor` `restjwt` was built with): mounts
   * `/api/mfa/…` and passkey sign-in at `/api/token/passkey/…` when given.
   */
  mfa?: import('@restjwt/mfa').Mfa;
  /**
   * Leaves out the access line logged for every request (`"msg":"request"`: method, route, status, ms), as an access
   * log that is off. Errors are still logged (a failed request, a response that errored), and so is start-up.
   * Default `false`: one line per request. `restjwt serve --no-request-log` sets it.
   */
  disableRequestLogging?: boolean;
}

/**
 * Node's HTTP parser refused a request before any route saw it (headers over `maxHeaderSize`, a malformed request
 * line): the answer still has the core's body and code, in English (no header was read to choose a language), and the
 * connection closes, since the parser cannot find where the next request would start.
 */
function clientErrorHandler(restjwt: RestJwt) {
  return (error: Error & { code?: string }, socket: Socket): void => {
    if (error.code === 'ECONNRESET' || !socket.writable) {
      socket.destroy();
      return;
    }
    const refusal = error.code === 'HPE_HEADER_OVERFLOW' ? new HeadersTooLarge(maxHeaderSize) : new MalformedRequest();
    const res = restjwt.errorResponse(refusal, {});
    const body = JSON.stringify(res.body);
    const headers = Object.entries({ ...res.headers, 'Content-Length': String(Buffer.byteLength(body)), Connection: 'close' })
      .map(([name, value]) => `${name}: ${value}\r\n`)
      .join('');
    socket.end(`HTTP/1.1 ${res.status} ${STATUS_CODES[res.status] ?? ''}\r\n${headers}\r\n${body}`);
  };
}

/**
 * The reference server: the token endpoints, the seed's protected view, `/api/protected/mfa/` (a second factor
 * required), `/api/me/`, the unauthenticated `/api/public/` baseline and `/healthz`. Built on the Fastify adapter: no
 * HTTP logic of its own.
 */
export async function buildServer(options: ServerOptions): Promise<FastifyInstance> {
  const { restjwt } = options;
  const logger = options.logger ?? DEFAULT_LOGGER;
  const app = Fastify({
    logger,
    logController: options.disableRequestLogging === true ? new WithoutRequestLines() : new AccessLog(accessLines(logger)),
    bodyLimit: restjwt.settings.maxBodyBytes,
    trustProxy: false,
    clientErrorHandler: clientErrorHandler(restjwt),
  });
  // DRF's response headers on every answer, not only the token endpoints'.
  // A callback hook, not an async one: no promise per response for two constant headers.
  app.addHook('onSend', (_req, reply, payload, done) => {
    reply.header('X-Content-Type-Options', 'nosniff').header('Referrer-Policy', 'same-origin');
    done(null, payload);
  });
  // Before any route: @fastify/swagger documents routes as they are added.
  await registerOpenApi(app, restjwt);
  await app.register(restjwtPlugin, { restjwt, prefix: '/api/' });

  const protectedRoute = guard(restjwt);
  const readOnly = ['GET', 'HEAD', 'OPTIONS'];
  const refuse = methodNotAllowed(restjwt, readOnly);
  app.get('/api/protected/', { preHandler: protectedRoute, ...routeDocs.protected }, async () => ({ message: 'Hello, authenticated user!' }));
  app.get('/api/me/', { preHandler: protectedRoute, ...routeDocs.me }, async (req) => publicUser((req.auth as NonNullable<typeof req.auth>).user));
  app.get('/api/public/', routeDocs.public, async () => ({ message: 'Hello, anonymous user!' }));
  // requireMfa: only a token from a sign-in with a second factor (its amr holds "mfa"); others get 403 mfa_required.
  app.get('/api/protected/mfa/', { preHandler: guard(restjwt, requireMfa), ...routeDocs.protectedMfa }, async () => ({ message: 'Hello, user signed in with a second factor!' }));
  for (const url of ['/api/protected/', '/api/protected/mfa/', '/api/me/', '/api/public/']) {
    app.route({ method: ['POST', 'PUT', 'PATCH', 'DELETE'], url, handler: refuse, schema: routeDocs.hidden });
  }

  // Public keys for other services (asymmetric algorithms only; empty for HMAC). Cached briefly so that a rotated key
  // is picked up within minutes.
  const jwks = JSON.stringify(publicJwks(restjwt.keys));
  app.get('/.well-known/jwks.json', async (_req, reply) =>
    reply.header('Content-Type', 'application/jwk-set+json').header('Cache-Control', 'public, max-age=300').send(jwks),
  );

  app.get('/healthz', async (_req, reply) => {
    try {
      await restjwt.store.ping();
      return { status: 'ok' };
    } catch {
      return reply.code(503).send({ status: 'unavailable', detail: 'The store does not answer.' });
    }
  });

  await registerPages(app, restjwt);
  await registerAdmin(app, restjwt);
  await registerSocial(app, restjwt, options.social);
  await registerMfa(app, restjwt, options.mfa);

  app.setNotFoundHandler((req, reply) => sendCore(reply, restjwt.errorResponse(new NotFound(), req.headers as Record<string, string>)));
  app.setErrorHandler(errorHandler(restjwt));
  return app;
}
