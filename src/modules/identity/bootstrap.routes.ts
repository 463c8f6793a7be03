import type { FastifyInstance } from 'fastify';
import type { IdentityDeps } from './deps.js';

export async function bootstrapRoutes(_app: FastifyInstance, _options: { deps: IdentityDeps }) {}
