/** restjwt's Express adapter: `guard` on `/api/protected/`, the token endpoints, and the `/api/public/` baseline. */
import express from 'express';
import { errorHandler, guard, restjwtRouter } from '@restjwt/express';
import { announce, exitWithParent, PROTECTED_BODY, PUBLIC_BODY, setup, stateless } from './common.js';

const { restjwt, token } = await setup();
const app = express();
app.use(restjwtRouter({ restjwt, prefix: '/api/' }));
app.get('/api/protected/', guard(restjwt, { stateless }), (_req, res) => {
  res.json(PROTECTED_BODY);
});
app.get('/api/public/', (_req, res) => {
  res.json(PUBLIC_BODY);
});
app.use(errorHandler(restjwt));
const server = app.listen(0, '127.0.0.1', () => announce(server, token));
exitWithParent();
