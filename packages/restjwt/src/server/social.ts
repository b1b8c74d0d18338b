import type { FastifyInstance, FastifyReply, FastifyRequest, FastifySchema } from 'fastify';
import { sendCore } from '@restjwt/fastify';
import type { RestJwt } from '@restjwt/core';
import { ERROR_SCHEMA, nodeHeaderRecord } from '@restjwt/core/adapter-kit';
import type { SocialLogin, SocialRequest, SocialRoute } from '@restjwt/social';

/** The documentation of the routes (@fastify/swagger); they never validate: the handlers check their own input. */
const providerParam = { type: 'object', properties: { provider: { type: 'string', description: 'A configured provider name' } }, required: ['provider'] };
const pair = { type: 'object', properties: { refresh: { type: 'string' }, access: { type: 'string' } } };
/** The security scheme the OpenAPI document declares for Bearer tokens (src/server/openapi.ts). */
const signedIn = [{ bearerAuth: [] }];
const redirectAnswer = { description: 'Redirect (Location header)', type: 'null' };
const schemas: Record<SocialRoute['name'], FastifySchema & Record<string, unknown>> = {
  login: {
    summary: 'Start a browser sign-in with a provider (redirects to it)',
    tags: ['social'],
    params: providerParam,
    querystring: { type: 'object', properties: { next: { type: 'string', description: 'Where to land afterwards: an exact entry of allowedRedirects' } } },
    response: { 302: redirectAnswer, 400: ERROR_SCHEMA, 404: ERROR_SCHEMA },
  },
  callback: {
    summary: "The provider's redirect back: validates it and hands over a pair (cookies, or a one-time code in the fragment)",
    tags: ['social'],
    params: providerParam,
    querystring: { type: 'object', properties: { code: { type: 'string' }, state: { type: 'string' }, error: { type: 'string' } } },
    response: { 302: redirectAnswer, 400: ERROR_SCHEMA, 401: ERROR_SCHEMA, 403: ERROR_SCHEMA, 409: ERROR_SCHEMA, 502: ERROR_SCHEMA },
  },
  exchange: {
    summary: 'Exchange the one-time sign-in code for a pair',
    tags: ['social'],
    body: { type: 'object', properties: { code: { type: 'string' } }, required: ['code'] },
    response: { 200: pair, 400: ERROR_SCHEMA },
  },
  token: {
    summary: 'Native apps: an ID token (and nonce), or an authorization code with its PKCE verifier, for a pair',
    tags: ['social'],
    params: providerParam,
    body: {
      type: 'object',
      properties: {
        id_token: { type: 'string' },
        nonce: { type: 'string' },
        code: { type: 'string' },
        code_verifier: { type: 'string' },
        redirect_uri: { type: 'string' },
      },
    },
    response: { 200: pair, 400: ERROR_SCHEMA, 401: ERROR_SCHEMA, 403: ERROR_SCHEMA, 409: ERROR_SCHEMA, 429: ERROR_SCHEMA, 502: ERROR_SCHEMA },
  },
  link: {
    summary: 'Start linking a provider to the signed-in user (answers the URL to navigate to)',
    tags: ['social'],
    security: signedIn,
    params: providerParam,
    body: { type: 'object', properties: { next: { type: 'string' } } },
    response: { 200: { type: 'object', properties: { authorization_url: { type: 'string' } } }, 400: ERROR_SCHEMA, 401: ERROR_SCHEMA },
  },
  identities: {
    summary: "The signed-in user's linked identities",
    tags: ['social'],
    security: signedIn,
    response: {
      200: {
        type: 'object',
        properties: {
          identities: {
            type: 'array',
            items: {
              type: 'object',
              properties: {
                provider: { type: 'string' },
                subject: { type: 'string' },
                email: { type: ['string', 'null'] },
                created_at: { type: 'string', format: 'date-time' },
                last_used_at: { type: 'string', format: 'date-time' },
              },
            },
          },
          has_usable_password: { type: 'boolean' },
        },
      },
      401: ERROR_SCHEMA,
    },
  },
  unlink: {
    summary: "Unlink one of the signed-in user's identities (refused for the last way to sign in)",
    tags: ['social'],
    security: signedIn,
    params: { type: 'object', properties: { provider: { type: 'string' }, subject: { type: 'string' } }, required: ['provider', 'subject'] },
    response: { 204: { description: 'Unlinked', type: 'null' }, 401: ERROR_SCHEMA, 404: ERROR_SCHEMA, 409: ERROR_SCHEMA },
  },
};

function toSocialRequest(req: FastifyRequest, restjwt: RestJwt): SocialRequest {
  // Every copy of the auth header, which Node alone would drop (linking reads it).
  const headers = nodeHeaderRecord(req.headers, req.raw.rawHeaders, restjwt.settings.authHeaderName);
  return { method: req.method, headers, rawBody: typeof req.body === 'string' ? req.body : undefined, ip: req.ip, url: req.url };
}

/**
 * Mounts social login's routes (`SocialLogin.routes()`) under its prefix (default `/api/`): `auth/{provider}/login`,
 * `auth/{provider}/callback`, `auth/exchange/`, `auth/{provider}/token`, `auth/{provider}/link`, `auth/identities/`
 * and `auth/identities/{provider}/{subject}/`. Nothing is mounted without `social`.
 */
export async function registerSocial(app: FastifyInstance, restjwt: RestJwt, social?: SocialLogin): Promise<void> {
  if (social === undefined) return;
  await app.register(async (scope) => {
    // Raw bodies go to the core's parser (JSON and urlencoded as simplejwt's endpoints take them, 415 otherwise).
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('*', { parseAs: 'string', bodyLimit: restjwt.settings.maxBodyBytes }, (_req, body, done) => done(null, body));
    // The schemas document; they never validate or serialise.
    scope.setValidatorCompiler(() => () => true);
    scope.setSerializerCompiler(() => (data) => JSON.stringify(data));
    for (const route of social.routes()) {
      scope.route({
        method: route.method,
        url: route.path,
        schema: schemas[route.name],
        handler: async (req: FastifyRequest, reply: FastifyReply) =>
          sendCore(reply, await route.handle(req.params as Record<string, string>, toSocialRequest(req, restjwt))),
      });
    }
  });
}
