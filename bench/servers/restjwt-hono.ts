/** restjwt's Hono adapter on @hono/node-server: `guard` on `/api/protected/`, and the `/api/public/` baseline. */
import type { Server } from 'node:http';
import { serve } from '@hono/node-server';
import { Hono } from 'hono';
import { errorHandler, guard, restjwtRoutes } from '@restjwt/hono';
import { announce, exitWithParent, PROTECTED_BODY, PUBLIC_BODY, setup, stateless } from './common.js';

const { restjwt, token } = await setup();
const app = new Hono();
app.route('/', restjwtRoutes({ restjwt, prefix: '/api/' }));
app.get('/api/protected/', guard(restjwt, { stateless }), (c) => c.json(PROTECTED_BODY));
app.get('/api/public/', (c) => c.json(PUBLIC_BODY));
app.onError(errorHandler(restjwt));
const server = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, () => announce(server as Server, token));
exitWithParent();
