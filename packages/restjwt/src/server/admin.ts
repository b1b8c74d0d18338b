/**
 * The admin for the reference server: the JSON API under `/api/admin/` (staff only, enforced by the API itself) and
 * the page at `/admin/` that uses it. The API is the framework-neutral route table of `@restjwt/core/admin` (`adminRoutes`);
 * this file only mounts it on Fastify, as any application could, and serves the page.
 */
import type { FastifyInstance, FastifyPluginAsync, FastifyReply, FastifyRequest, FastifySchema, HTTPMethods } from 'fastify';
import { errorHandler, methodNotAllowed, sendCore } from '@restjwt/fastify';
import { ADMIN_API_PREFIX, adminRoutes, type AdminRequest, type AdminRoute } from '@restjwt/core/admin';
import type { RestJwt } from '@restjwt/core';
import { nodeHeaderRecord, slashRedirect, splitTarget } from '@restjwt/core/adapter-kit';
import { pageCsp, securePage } from './page-headers.js';
import { loadStaticFile, pageAssetsDir, sendStatic, sendText, type StaticFile } from './static-files.js';

export { ADMIN_API_PREFIX } from '@restjwt/core/admin';
/** Where the admin page is served. */
export const ADMIN_PAGE_PATH = '/admin/';

// --- the API ------------------------------------------------------------------------------------------------------

const HIDDEN: FastifySchema & Record<string, unknown> = { hide: true };

function adminRequest(req: FastifyRequest, restjwt: RestJwt): AdminRequest {
  return {
    method: req.method,
    // Every copy of the auth header, which Node alone would drop: a repeated one is refused, never half-read.
    headers: nodeHeaderRecord(req.headers, req.raw.rawHeaders, restjwt.settings.authHeaderName),
    rawBody: typeof req.body === 'string' ? req.body : undefined,
    ip: req.ip,
    url: req.url,
    // The audit line goes to the request's log, beside its access line.
    audit: (entry) => req.log.info(entry, 'admin action'),
  };
}

/**
 * The admin API, encapsulated (its own body parsing and error handler, as the token endpoints have): raw bodies are
 * parsed by the core (JSON or urlencoded, 415 otherwise, null-prototype objects), and every answer is a core response.
 * Besides the table's routes, each path answers 405 with `Allow` for the methods it does not serve and 308 from the
 * path without its slash, like the token endpoints.
 */
const adminApi: FastifyPluginAsync<{ restjwt: RestJwt }> = async (app, { restjwt }) => {
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'string', bodyLimit: restjwt.settings.maxBodyBytes }, (_req, body, done) => done(null, body));
  // Schemas document (OpenAPI); the admin's field rules decide every answer, in DRF's words.
  app.setValidatorCompiler(() => () => true);
  app.setSerializerCompiler(() => (data) => JSON.stringify(data));
  app.setErrorHandler(errorHandler(restjwt));

  const byPath = new Map<string, AdminRoute[]>();
  for (const route of adminRoutes(restjwt, ADMIN_API_PREFIX)) {
    byPath.set(route.path, [...(byPath.get(route.path) ?? []), route]);
    app.route({
      method: route.method,
      url: route.path,
      schema: route.schema ?? HIDDEN,
      handler: async (req: FastifyRequest, reply: FastifyReply) => sendCore(reply, await route.handle(req.params as Record<string, string>, adminRequest(req, restjwt))),
    });
  }
  for (const [url, routes] of byPath) {
    const allow = routes[0]?.allow ?? [];
    const refused = (['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE'] as const).filter((m) => !allow.includes(m));
    if (refused.length > 0) app.route({ method: refused, url, schema: HIDDEN, handler: methodNotAllowed(restjwt, allow) });
    app.route({
      method: ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'] satisfies HTTPMethods[],
      url: url.slice(0, -1),
      schema: HIDDEN,
      handler: async (req, reply) => {
        const { pathname, search } = splitTarget(req.url);
        return sendCore(reply, slashRedirect(pathname, search));
      },
    });
  }
};

// --- the page -----------------------------------------------------------------------------------------------------

/** The page's files. Nothing else under `/admin/` is served. */
const PAGE_FILES = ['index.html', 'admin.js', 'admin.css'] as const;

/** The page allows only itself: no inline script or style, no other origin, no framing. */
export const ADMIN_PAGE_CSP = pageCsp();

/** Where the page's files are (see {@link pageAssetsDir}). */
export const adminAssetsDir = (): string | null => pageAssetsDir('admin');

function registerPage(app: FastifyInstance, restjwt: RestJwt): void {
  const dir = adminAssetsDir();
  // Loaded once: the page is the installed version's.
  const files = dir === null ? null : new Map<string, StaticFile>(PAGE_FILES.map((name) => [name, loadStaticFile(dir, name)]));
  if (files === null) app.log.warn('admin page files not found (src/server/assets/admin/ or dist/server/assets/admin/): /admin/ answers 503');
  const serve = (name: string) => async (req: FastifyRequest, reply: FastifyReply) => {
    const file = files?.get(name);
    if (file === undefined) return sendText(reply, 503, 'The admin page files are missing from this installation.');
    return sendStatic(req, securePage(reply, ADMIN_PAGE_CSP), file);
  };
  const refuse = methodNotAllowed(restjwt, ['GET', 'HEAD']);
  for (const name of PAGE_FILES) {
    const url = name === 'index.html' ? ADMIN_PAGE_PATH : `${ADMIN_PAGE_PATH}${name}`;
    app.get(url, { schema: HIDDEN }, serve(name));
    app.route({ method: ['POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'], url, schema: HIDDEN, handler: refuse });
  }
  app.route({
    method: ['GET', 'HEAD'],
    url: ADMIN_PAGE_PATH.slice(0, -1),
    schema: HIDDEN,
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
