import type { FastifyInstance } from 'fastify';
import type { RestJwt } from '../core/index.js';

/** Placeholder: filled in by the social work. */
export async function registerSocial(_app: FastifyInstance, _restjwt: RestJwt): Promise<void> {}
