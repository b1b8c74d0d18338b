/** The seed's example in Fastify 5. */
import Fastify from 'fastify';
import { guard, restjwtPlugin } from '@restjwt/fastify';
import { isMain, PORT, seedRestJwt, type ExampleOptions } from '../settings.js';

export async function buildApp(options: ExampleOptions = {}) {
  const restjwt = await seedRestJwt(options);
  const app = Fastify();
  // urls.py: token/, token/refresh/, token/verify/, token/blacklist/, token/sliding/…
  await app.register(restjwtPlugin, { restjwt, prefix: '/api/' });
  // ProtectedView, permission_classes = [IsAuthenticated]
  app.get('/api/protected/', { preHandler: guard(restjwt) }, async () => ({ message: 'Hello, authenticated user!' }));
  return { app, restjwt };
}

if (isMain(import.meta.url)) await (await buildApp()).app.listen({ port: PORT });
