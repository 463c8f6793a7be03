import type { FastifyInstance } from 'fastify';
import type { OrganizationDeps } from './deps.js';

export async function memberRoutes(_app: FastifyInstance, _options: { deps: OrganizationDeps }) {}
