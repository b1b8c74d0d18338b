/** The seed's example in Express 5. */
import express from 'express';
import { errorHandler, guard, restjwtRouter } from '@restjwt/express';
import { isMain, PORT, seedRestJwt, type ExampleOptions } from '../settings.js';

export async function buildApp(options: ExampleOptions = {}) {
  const restjwt = await seedRestJwt(options);
  const app = express();
  // urls.py: token/, token/refresh/, token/verify/, token/blacklist/, token/sliding/… (before any body parser)
  app.use(restjwtRouter({ restjwt, prefix: '/api/' }));
  // ProtectedView, permission_classes = [IsAuthenticated]
  app.get('/api/protected/', guard(restjwt), (_req, res) => {
    res.json({ message: 'Hello, authenticated user!' });
  });
  app.use(errorHandler(restjwt));
  return { app, restjwt };
}

if (isMain(import.meta.url)) (await buildApp()).app.listen(PORT);
