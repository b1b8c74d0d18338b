/** Fastify + jose's `jwtVerify` as a hand-written preHandler (stateless). */
import Fastify, { type FastifyReply, type FastifyRequest } from 'fastify';
import { jwtVerify } from 'jose';
import { announce, exitWithParent, PROTECTED_BODY, PUBLIC_BODY, SECRET, setup } from './common.js';

const { token } = await setup();
const key = new TextEncoder().encode(SECRET);
const app = Fastify({ logger: false });
app.decorateRequest('claims', null);
const preHandler = async (req: FastifyRequest, reply: FastifyReply) => {
  const h = req.headers.authorization;
  try {
    if (h === undefined || !h.startsWith('Bearer ')) throw new Error('no token');
    (req as unknown as { claims: unknown }).claims = (await jwtVerify(h.slice(7), key, { algorithms: ['HS256'] })).payload;
  } catch {
    return reply.code(401).send({ detail: 'Given token not valid for any token type' });
  }
};
app.get('/api/protected/', { preHandler }, async () => PROTECTED_BODY);
app.get('/api/public/', async () => PUBLIC_BODY);
await app.listen({ host: '127.0.0.1', port: 0 });
announce(app.server, token);
exitWithParent();
