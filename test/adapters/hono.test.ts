import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createAdaptorServer, serve } from '@hono/node-server';
import { getConnInfo } from '@hono/node-server/conninfo';
import { Hono } from 'hono';
import { describe, expect, it } from 'vitest';
import { buildApp } from '../../examples/hono/app.js';
import { authenticate, errorHandler, guard, restjwtRoutes, type RestJwtEnv } from '@restjwt/hono';
import { createRestJwt, isStaff, type LogEvent, type RestJwt } from '@restjwt/core';
import { createMemoryStore } from '@restjwt/core/memory';
import { PASSWORD, SECRET, fastHasher } from '../helpers/server.js';
import { fetchClient, listenNode } from './clients.js';
import { adapterSuite, views } from './suite.js';

function suiteApp(restjwt: RestJwt): Hono {
  const app = new Hono();
  app.route('/', restjwtRoutes({ restjwt }));
  app.get('/api/protected/', guard(restjwt), (c) => c.json(views.protected()));
  app.get('/api/staff/', guard(restjwt, isStaff), (c) => c.json(views.staff()));
  app.get('/api/whoami/', authenticate(restjwt), (c) => c.json(views.whoami(c.get('auth'))));
  app.get('/api/stateless/', guard(restjwt, { stateless: true }), (c) => c.json(views.stateless(c.get('auth'))));
  app.get('/api/stateless/staff/', guard(restjwt, { stateless: true, permissions: [isStaff] }), (c) => c.json(views.stateless(c.get('auth'))));
  app.onError(errorHandler(restjwt));
  return app;
}

adapterSuite('Hono', {
  start: async (restjwt) => fetchClient((path, init) => suiteApp(restjwt).request(path, init)),
  // @hono/node-server: the web Request it builds joins repeated header lines with ", ", as Headers does.
  listen: async (restjwt) => listenNode(createAdaptorServer({ fetch: suiteApp(restjwt).fetch }) as Server),
  example: async (options) => {
    const { app } = await buildApp(options);
    return fetchClient((path, init) => app.request(path, init));
  },
});

describe('Hono adapter: Hono conventions', () => {
  const service = async (log?: (e: LogEvent) => void) => {
    const store = createMemoryStore();
    await store.createUser({ username: 'alice', passwordHash: await fastHasher.hash(PASSWORD) });
    return createRestJwt({ store, hasher: fastHasher, settings: { signingKey: SECRET }, ...(log === undefined ? {} : { log }) });
  };
  const login = { method: 'POST', body: JSON.stringify({ username: 'alice', password: PASSWORD }), headers: { 'content-type': 'application/json' } };

  it('runs on Node through @hono/node-server, raw body and client address included', async () => {
    const restjwt = await service();
    const seen: (string | undefined)[] = [];
    const app = new Hono();
    app.route('/', restjwtRoutes({ restjwt, ip: (c) => (seen.push(getConnInfo(c).remote.address), seen.at(-1)) }));
    app.get('/api/me/', guard(restjwt), (c) => c.json({ username: c.get('user').username }));
    const server = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' });
    await new Promise((resolve) => server.once('listening', resolve));
    try {
      const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      const r = await fetch(`${base}/api/token/`, login);
      expect(r.status).toBe(200);
      const { access } = (await r.json()) as { access: string };
      expect(seen[0]).toMatch(/127\.0\.0\.1/);
      expect(await (await fetch(`${base}/api/me/`, { headers: { authorization: `Bearer ${access}` } })).json()).toEqual({ username: 'alice' });
      // a streamed body without Content-Length over the limit: 413 as soon as the count passes it
      const big = new ReadableStream<Uint8Array>({
        start(controller) {
          for (let i = 0; i < 20; i++) controller.enqueue(new TextEncoder().encode('x'.repeat(4096)));
          controller.close();
        },
      });
      const tooBig = await fetch(`${base}/api/token/`, { method: 'POST', body: big, headers: { 'content-type': 'application/json' }, duplex: 'half' } as RequestInit);
      expect(tooBig.status).toBe(413);
      expect(await tooBig.json()).toEqual({ detail: 'Request body is larger than 65536 bytes.', code: 'request_too_large' });
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it('types c.get("auth") through the app Variables and lets the app read its own bodies', async () => {
    const restjwt = await service();
    const app = new Hono<RestJwtEnv>();
    app.route('/', restjwtRoutes({ restjwt }));
    app.use('/api/*', authenticate(restjwt));
    app.post('/api/echo/', async (c) => c.json({ body: await c.req.json(), user: c.get('auth')?.user.username ?? null }));
    const { access } = (await (await app.request('/api/token/', login)).json()) as { access: string };
    const r = await app.request('/api/echo/', { method: 'POST', body: '{"a":1}', headers: { 'content-type': 'application/json', authorization: `Bearer ${access}` } });
    expect(await r.json()).toEqual({ body: { a: 1 }, user: 'alice' });
    expect(await (await app.request('/api/echo/', { method: 'POST', body: '{}' })).json()).toEqual({ body: {}, user: null });
  });

  it('says loudly when a middleware read a token request body first; errorHandler renders it as a core 500', async () => {
    const events: LogEvent[] = [];
    const restjwt = await service((e) => events.push(e));
    const app = new Hono();
    app.use('/api/*', async (c, next) => {
      await c.req.raw.clone().text(); // harmless: a clone
      await c.req.raw.text(); // not harmless
      await next();
    });
    app.route('/', restjwtRoutes({ restjwt }));
    app.onError(errorHandler(restjwt));
    const r = await app.request('/api/token/', login);
    expect(r.status).toBe(500);
    expect(await r.json()).toEqual({ detail: 'A server error occurred.', code: 'server_error' });
    expect(events).toEqual([expect.objectContaining({ event: 'server_error', reason: expect.stringMatching(/was already read/) })]);
  });
});
