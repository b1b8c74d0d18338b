/** The seed's example in Hono 4 (web-standard: the same `app` runs on Bun, Deno and Workers). */
import { serve } from '@hono/node-server';
import { Hono } from 'hono';
import { errorHandler, guard, restjwtRoutes } from '@restjwt/hono';
import { isMain, PORT, seedRestJwt, type ExampleOptions } from '../settings.js';

export async function buildApp(options: ExampleOptions = {}) {
  const restjwt = await seedRestJwt(options);
  const app = new Hono();
  // urls.py: token/, token/refresh/, token/verify/, token/blacklist/, token/sliding/…
  app.route('/', restjwtRoutes({ restjwt, prefix: '/api/' }));
  // ProtectedView, permission_classes = [IsAuthenticated]
  app.get('/api/protected/', guard(restjwt), (c) => c.json({ message: 'Hello, authenticated user!' }));
  app.onError(errorHandler(restjwt));
  return { app, restjwt };
}

if (isMain(import.meta.url)) serve({ fetch: (await buildApp()).app.fetch, port: PORT });
