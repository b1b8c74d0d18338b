/** restjwt's Fastify adapter: `guard` on `/api/protected/`, the token endpoints, and the `/api/public/` baseline. */
import Fastify from 'fastify';
import { guard, restjwtPlugin } from '@restjwt/fastify';
import { announce, exitWithParent, PROTECTED_BODY, PUBLIC_BODY, setup, stateless } from './common.js';

const { restjwt, token } = await setup();
const app = Fastify({ logger: false });
await app.register(restjwtPlugin, { restjwt, prefix: '/api/' });
app.get('/api/protected/', { preHandler: guard(restjwt, { stateless }) }, async () => PROTECTED_BODY);
app.get('/api/public/', async () => PUBLIC_BODY);
await app.listen({ host: '127.0.0.1', port: 0 });
announce(app.server, token);
exitWithParent();
