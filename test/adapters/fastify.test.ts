import Fastify, { type FastifyInstance, type RouteOptions } from 'fastify';
import { describe, expect, it } from 'vitest';
import { buildApp } from '../../examples/fastify/app.js';
import { authenticate, guard, restjwtPlugin } from '@restjwt/fastify';
import { createRestJwt, isStaff, type RestJwt } from '@restjwt/core';
import { createMemoryStore } from '@restjwt/core/memory';
import { PASSWORD, SECRET, fastHasher } from '../helpers/server.js';
import { adapterSuite, toAnswer, views, type Client } from './suite.js';

function injectClient(app: FastifyInstance): Client {
  return {
    async request(method, path, init = {}) {
      const res = await app.inject({ method: method as 'GET', url: path, headers: init.headers, payload: init.body });
      return toAnswer(res.statusCode, res.headers, res.body);
    },
    close: () => app.close(),
  };
}

async function suiteApp(restjwt: RestJwt): Promise<FastifyInstance> {
  const app = Fastify({ logger: false });
  await app.register(restjwtPlugin, { restjwt });
  app.get('/api/protected/', { preHandler: guard(restjwt) }, async () => views.protected());
  app.get('/api/staff/', { preHandler: guard(restjwt, isStaff) }, async () => views.staff());
  app.get('/api/whoami/', { preHandler: authenticate(restjwt) }, async (req) => views.whoami(req.auth));
  app.get('/api/stateless/', { preHandler: guard(restjwt, { stateless: true }) }, async (req) => views.stateless(req.auth));
  app.get('/api/stateless/staff/', { preHandler: guard(restjwt, { stateless: true, permissions: [isStaff] }) }, async (req) => views.stateless(req.auth));
  return app;
}

adapterSuite('Fastify', {
  start: async (restjwt) => injectClient(await suiteApp(restjwt)),
  listen: async (restjwt) => {
    const app = await suiteApp(restjwt);
    return { url: await app.listen({ host: '127.0.0.1', port: 0 }), close: () => app.close() };
  },
  example: async (options) => injectClient((await buildApp(options)).app),
});

describe('Fastify adapter: schemas for @fastify/swagger', () => {
  const service = async () => {
    const store = createMemoryStore();
    await store.createUser({ username: 'alice', passwordHash: await fastHasher.hash(PASSWORD) });
    return createRestJwt({ store, hasher: fastHasher, settings: { signingKey: SECRET, usernameField: 'email' } });
  };

  it('documents every token route (body and answers) and hides the 308 and non-POST routes', async () => {
    const routes: RouteOptions[] = [];
    const app = Fastify({ logger: false });
    app.addHook('onRoute', (r) => void routes.push(r));
    await app.register(restjwtPlugin, { restjwt: await service() });
    await app.ready();
    const documented = routes.filter((r) => r.schema !== undefined && !(r.schema as { hide?: boolean }).hide);
    expect(documented.map((r) => [r.method, r.url])).toEqual([
      ['POST', '/api/token/'],
      ['POST', '/api/token/refresh/'],
      ['POST', '/api/token/verify/'],
      ['POST', '/api/token/blacklist/'],
      ['POST', '/api/token/sliding/'],
      ['POST', '/api/token/sliding/refresh/'],
      ['POST', '/api/token/logout-all/'],
    ]);
    expect(documented[0]?.schema).toMatchObject({
      summary: 'Token Obtain Pair',
      consumes: ['application/json', 'application/x-www-form-urlencoded'],
      body: { type: 'object', properties: { email: { type: 'string' }, password: { type: 'string' } }, required: ['email', 'password'] },
      response: { 200: { properties: { refresh: { type: 'string' }, access: { type: 'string' } } }, 401: { required: ['detail', 'code'] } },
    });
    await app.close();
  });

  it('never lets Fastify validate: the core answers bodies the schema would refuse', async () => {
    const app = Fastify({ logger: false });
    await app.register(restjwtPlugin, { restjwt: await service() });
    const missing = await app.inject({ method: 'POST', url: '/api/token/', payload: { email: 5 } });
    expect(missing.statusCode).toBe(400);
    expect(missing.json()).toEqual({ password: ['This field is required.'] }); // DRF's CharField takes the number
    const ok = await app.inject({ method: 'POST', url: '/api/token/', payload: { email: '', password: PASSWORD } });
    expect(ok.json()).toEqual({ email: ['This field may not be blank.'] });
    await app.close();
  });

  it('keeps the user’s own routes validated and parsed by Fastify', async () => {
    const app = Fastify({ logger: false });
    await app.register(restjwtPlugin, { restjwt: await service() });
    app.post('/api/echo/', { schema: { body: { type: 'object', required: ['a'] } } }, async (req) => req.body);
    expect((await app.inject({ method: 'POST', url: '/api/echo/', payload: {} })).statusCode).toBe(400);
    expect((await app.inject({ method: 'POST', url: '/api/echo/', payload: { a: 1 } })).json()).toEqual({ a: 1 });
    await app.close();
  });
});
