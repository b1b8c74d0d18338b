/** Fastify + @fastify/jwt, as its README shows: `request.jwtVerify()` in an onRequest hook (stateless). */
import fastifyJwt from '@fastify/jwt';
import Fastify, { type FastifyReply, type FastifyRequest } from 'fastify';
import { announce, exitWithParent, PROTECTED_BODY, PUBLIC_BODY, SECRET, setup } from './common.js';

const { token } = await setup();
const app = Fastify({ logger: false });
await app.register(fastifyJwt, { secret: SECRET, verify: { algorithms: ['HS256'] } });
const authenticate = async (req: FastifyRequest, reply: FastifyReply) => {
  try {
    await req.jwtVerify();
  } catch {
    return reply.code(401).send({ detail: 'Given token not valid for any token type' });
  }
};
app.get('/api/protected/', { onRequest: authenticate }, async () => PROTECTED_BODY);
app.get('/api/public/', async () => PUBLIC_BODY);
await app.listen({ host: '127.0.0.1', port: 0 });
announce(app.server, token);
exitWithParent();
