import { createServer } from 'node:http';
import express from 'express';
import { describe, expect, it } from 'vitest';
import { buildApp } from '../../examples/express/app.js';
import { authenticate, errorHandler, guard, restjwtRouter, type RestJwtRequest } from '@restjwt/express';
import { ConfigurationError, createRestJwt, isStaff, type RestJwt } from '@restjwt/core';
import { createMemoryStore } from '@restjwt/core/memory';
import { PASSWORD, SECRET, fastHasher } from '../helpers/server.js';
import { listenNode, supertestClient } from './clients.js';
import { adapterSuite, views } from './suite.js';

function suiteApp(restjwt: RestJwt) {
  const app = express();
  app.use(restjwtRouter({ restjwt }));
  app.get('/api/protected/', guard(restjwt), (_req, res) => void res.json(views.protected()));
  app.get('/api/staff/', guard(restjwt, isStaff), (_req, res) => void res.json(views.staff()));
  app.get('/api/whoami/', authenticate(restjwt), (_req, res) => void res.json(views.whoami(res.locals.auth)));
  app.get('/api/stateless/', guard(restjwt, { stateless: true }), (_req, res) => void res.json(views.stateless(res.locals.auth)));
  app.get('/api/stateless/staff/', guard(restjwt, { stateless: true, permissions: [isStaff] }), (_req, res) => void res.json(views.stateless(res.locals.auth)));
  app.use(errorHandler(restjwt));
  return app;
}

adapterSuite('Express', {
  start: async (restjwt) => supertestClient(suiteApp(restjwt)),
  listen: async (restjwt) => listenNode(createServer(suiteApp(restjwt))),
  example: async (options) => supertestClient((await buildApp(options)).app),
});

describe('Express adapter: Express conventions', () => {
  const service = async () => {
    const store = createMemoryStore();
    await store.createUser({ username: 'alice', passwordHash: await fastHasher.hash(PASSWORD) });
    return createRestJwt({ store, hasher: fastHasher, settings: { signingKey: SECRET } });
  };
  const login = JSON.stringify({ username: 'alice', password: PASSWORD });

  it('mounts under a path with app.use(path, router); the 308 keeps the mount path', async () => {
    const restjwt = await service();
    const app = express();
    app.use('/v1', restjwtRouter({ restjwt, prefix: '/auth/' }));
    const c = supertestClient(app);
    expect((await c.request('POST', '/v1/auth/token/', { body: login, headers: { 'content-type': 'application/json' } })).status).toBe(200);
    const r = await c.request('POST', '/v1/auth/token/refresh');
    expect(r.status).toBe(308);
    expect(r.headers.get('location')).toBe('/v1/auth/token/refresh/');
  });

  it('serves the endpoints under createRestJwt’s prefix, with the cookies’ path below it; in cookie mode an adapter prefix that differs is refused', async () => {
    const store = createMemoryStore();
    await store.createUser({ username: 'alice', passwordHash: await fastHasher.hash(PASSWORD) });
    const settings = { signingKey: SECRET, cookieMode: 'refresh', cookieSecure: false, rotateRefreshTokens: true, blacklistAfterRotation: true } as const;
    const restjwt = createRestJwt({ store, hasher: fastHasher, prefix: '/auth/', settings });
    const app = express();
    app.use(restjwtRouter({ restjwt }));
    const server = await listenNode(createServer(app));
    try {
      const post = (path: string, headers: Record<string, string> = {}, body?: string) =>
        fetch(`${server.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: body ?? '{}' });
      const cookieOf = (res: Response, name: string) => res.headers.getSetCookie().find((c) => c.startsWith(`${name}=`)) ?? '';
      const valueOf = (setCookie: string) => setCookie.slice(setCookie.indexOf('=') + 1, setCookie.indexOf(';'));

      const pair = await post('/auth/token/', {}, login);
      expect(pair.status).toBe(200);
      expect(cookieOf(pair, 'restjwt-refresh')).toMatch(/; Path=\/auth\/token\/; /);
      const csrf = valueOf(cookieOf(pair, 'restjwt-csrf'));
      const jar = `restjwt-refresh=${valueOf(cookieOf(pair, 'restjwt-refresh'))}; restjwt-csrf=${csrf}`;

      const refreshed = await post('/auth/token/refresh/', { cookie: jar, 'x-csrf-token': csrf });
      expect(refreshed.status).toBe(200);
      expect(cookieOf(refreshed, 'restjwt-refresh')).toMatch(/; Path=\/auth\/token\/; /);
      const logout = await post('/auth/token/blacklist/', { cookie: `restjwt-refresh=${valueOf(cookieOf(refreshed, 'restjwt-refresh'))}; restjwt-csrf=${csrf}`, 'x-csrf-token': csrf });
      expect(logout.status).toBe(200);
      expect(cookieOf(logout, 'restjwt-refresh')).toMatch(/^restjwt-refresh=; Path=\/auth\/token\/; Max-Age=0/);
      expect((await post('/api/token/', {}, login)).status).toBe(404);
    } finally {
      await server.close();
    }

    // Mounting elsewhere would set cookies the browser never sends back to the refresh endpoint: said at mount.
    const mount = () => restjwtRouter({ restjwt, prefix: '/api/' });
    expect(mount).toThrow(ConfigurationError);
    expect(mount).toThrow(/"\/api\/".*"\/auth\/"/);
    // The same service without cookies mounts anywhere: the prefix only places the routes.
    const plain = createRestJwt({ store, hasher: fastHasher, prefix: '/auth/', settings: { signingKey: SECRET } });
    const c = supertestClient(express().use(restjwtRouter({ restjwt: plain, prefix: '/v2/' })));
    expect((await c.request('POST', '/v2/token/', { body: login, headers: { 'content-type': 'application/json' } })).status).toBe(200);
    expect(() => createRestJwt({ store, prefix: 'auth/' })).toThrow(/prefix must start and end with "\/"/);
  });

  it('leaves the app’s own body parser to its routes, and sets req.auth for RestJwtRequest handlers', async () => {
    const restjwt = await service();
    const app = express();
    app.use(restjwtRouter({ restjwt }));
    app.use(express.json());
    app.post('/api/echo/', guard(restjwt), (req: RestJwtRequest, res) => void res.json({ body: req.body, user: req.auth?.user.username }));
    const c = supertestClient(app);
    const { access } = (await c.request('POST', '/api/token/', { body: login, headers: { 'content-type': 'application/json' } })).json;
    const r = await c.request('POST', '/api/echo/', { body: '{"a":1}', headers: { 'content-type': 'application/json', authorization: `Bearer ${access}` } });
    expect(r.json).toEqual({ body: { a: 1 }, user: 'alice' });
  });

  it('says loudly when a body parser was mounted before the token router (forwarded to the error handler)', async () => {
    const restjwt = await service();
    const logged: string[] = [];
    const app = express();
    app.use(express.json());
    app.use(restjwtRouter({ restjwt }));
    app.use((err: Error, _req: express.Request, res: express.Response, _next: express.NextFunction) => {
      logged.push(err.message);
      res.status(500).json({ code: 'misconfigured' });
    });
    const r = await supertestClient(app).request('POST', '/api/token/', { body: login, headers: { 'content-type': 'application/json' } });
    expect(r.status).toBe(500);
    expect(logged[0]).toMatch(/already read by another body parser.*before express\.json\(\)/);
  });

  it('forwards errors that are not the core’s (a throwing permission) to next(err)', async () => {
    const restjwt = await service();
    const seen: unknown[] = [];
    const app = express();
    const broken = () => {
      throw new Error('permission bug');
    };
    app.get('/api/x/', guard(restjwt, broken), (_req, res) => void res.json({}));
    app.use((err: unknown, _req: express.Request, res: express.Response, _next: express.NextFunction) => {
      seen.push(err);
      res.status(500).end();
    });
    expect((await supertestClient(app).request('GET', '/api/x/')).status).toBe(500);
    expect((seen[0] as Error).message).toBe('permission bug');
  });

  it('errorHandler renders body-parser errors and unknown errors in the core words', async () => {
    const restjwt = await service();
    const app = express();
    app.post('/api/echo/', express.json({ limit: 10 }), (_req, res) => void res.json({}));
    app.get('/api/boom/', () => {
      throw new Error('boom');
    });
    app.use(errorHandler(restjwt));
    const c = supertestClient(app);
    const big = await c.request('POST', '/api/echo/', { body: '{"a":"0123456789"}', headers: { 'content-type': 'application/json' } });
    expect(big.status).toBe(413);
    expect(big.json).toEqual({ detail: 'Request body is larger than 10 bytes.', code: 'request_too_large' });
    const bad = await c.request('POST', '/api/echo/', { body: '{', headers: { 'content-type': 'application/json' } });
    expect(bad.status).toBe(400);
    expect(bad.json).toEqual({ detail: 'JSON parse error - the request could not be read.', code: 'parse_error' });
    const boom = await c.request('GET', '/api/boom/');
    expect(boom.status).toBe(500);
    expect(boom.json).toEqual({ detail: 'A server error occurred.', code: 'server_error' });
  });
});
