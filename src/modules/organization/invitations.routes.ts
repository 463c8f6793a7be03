import type { FastifyInstance } from 'fastify';
import type { OrganizationDeps } from './deps.js';

export async function invitationRoutes(_app: FastifyInstance, _options: { deps: OrganizationDeps }) {}
