import type { FastifyInstance } from 'fastify';
import type { RestJwt } from '../core/index.js';

/** Placeholder: filled in by the admin work. */
export async function registerAdmin(_app: FastifyInstance, _restjwt: RestJwt): Promise<void> {}
