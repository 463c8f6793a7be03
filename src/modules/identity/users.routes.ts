import type { FastifyInstance } from 'fastify';
import type { IdentityDeps } from './deps.js';

export async function usersRoutes(_app: FastifyInstance, _options: { deps: IdentityDeps }) {}
