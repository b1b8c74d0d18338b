/** Fastify + fast-jwt as a hand-written preHandler (stateless; fast-jwt's own cache on, as its README suggests). */
import Fastify, { type FastifyReply, type FastifyRequest } from 'fastify';
import { createVerifier } from 'fast-jwt';
import { announce, exitWithParent, PROTECTED_BODY, PUBLIC_BODY, SECRET, setup } from './common.js';

const { token } = await setup();
const verify = createVerifier({ key: SECRET, algorithms: ['HS256'], cache: process.env.BENCH_CACHE !== '0' });
const app = Fastify({ logger: false });
app.decorateRequest('claims', null);
const preHandler = async (req: FastifyRequest, reply: FastifyReply) => {
  const h = req.headers.authorization;
  try {
    if (h === undefined || !h.startsWith('Bearer ')) throw new Error('no token');
    (req as unknown as { claims: unknown }).claims = verify(h.slice(7));
  } catch {
    return reply.code(401).send({ detail: 'Given token not valid for any token type' });
  }
};
app.get('/api/protected/', { preHandler }, async () => PROTECTED_BODY);
app.get('/api/public/', async () => PUBLIC_BODY);
await app.listen({ host: '127.0.0.1', port: 0 });
announce(app.server, token);
exitWithParent();
