import type { FastifyInstance } from 'fastify';
import type { IdentityDeps } from './deps.js';

export async function sessionRoutes(_app: FastifyInstance, _options: { deps: IdentityDeps }) {}
