import type { FastifyInstance } from 'fastify';
import type { RestJwt } from '../core/index.js';

/** Placeholder: filled in by the pages work. */
export async function registerPages(_app: FastifyInstance, _restjwt: RestJwt): Promise<void> {}
