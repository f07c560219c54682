// The ArtStore cluster interfaces (SPEC §10) the Admin Module and the Ingester call: GET / (discovery),
// GET /api/v1/capacity (polled), and the GC interface DELETE /api/v1/gc/{fileId}, GET /api/v1/gc/{fileId}/exists.
import { z } from 'zod';
import {
  clusterCapacitySchema,
  gcDeleteAnswerSchema,
  gcDeleteSchema,
  gcExistsSchema,
  serviceRootSchema,
} from '../../contract/cluster.js';
import { readClusterCapacity, readServiceRoot } from '../../shared/domain/cluster-status.js';
import { gcFileExists, requestGcDelete } from '../../shared/domain/gc-requests.js';
import { actingPrincipalOf } from '../auth.js';
import type { ApiContext } from '../context.js';
import { defineRoute, type RouteSpec } from '../http/route-spec.js';
import { errors } from '../http/openapi-errors.js';

// Any string: an id that is no UUID is simply a file that does not exist here (404 / exists: false).
const fileIdParams = z.object({ fileId: z.string().max(100) });

export function clusterRoutes(ctx: ApiContext): RouteSpec[] {
  return [
    defineRoute({
      method: 'get',
      path: '/',
      summary: 'Discovery: which service this is, its version, mode and storage type',
      tag: 'cluster',
      permission: 'public',
      quietSuccess: true,
      responses: { 200: { description: 'ServiceRoot', schema: serviceRootSchema } },
      handler: async (_req, res) => {
        res.json(await readServiceRoot(ctx));
      },
    }),
    defineRoute({
      method: 'get',
      path: '/api/v1/capacity',
      summary: 'Capacity for the Ingester: total, used, available, health, location and priority (cheap; poll it)',
      tag: 'cluster',
      permission: 'public',
      quietSuccess: true,
      responses: { 200: { description: 'ClusterCapacity', schema: clusterCapacitySchema }, ...errors(503) },
      handler: async (_req, res) => {
        res.json(await readClusterCapacity(ctx));
      },
    }),
    defineRoute({
      method: 'delete',
      path: '/api/v1/gc/:fileId',
      summary: 'Garbage-collect a file (service account or admin; any mode; idempotent), through the WAL delete path',
      tag: 'cluster',
      permission: 'cluster:gc',
      params: fileIdParams,
      // The body may be left out altogether.
      body: gcDeleteSchema.optional(),
      responses: { 200: { description: 'deleted now, or deleted before', schema: gcDeleteAnswerSchema }, ...errors(400, 401, 403, 404, 409, 503) },
      handler: async (req, res, { params, body }) => {
        const principal = actingPrincipalOf(req, res);
        const answer = await requestGcDelete(ctx, principal, params.fileId, body ?? {});
        if (answer.status === 'deleted') ctx.logger.info({ fileId: answer.fileId, actor: principal.sub, ...body }, 'file garbage-collected');
        res.json(answer);
      },
    }),
    defineRoute({
      method: 'get',
      path: '/api/v1/gc/:fileId/exists',
      summary: 'Whether a file is stored here and not deleted (service account or admin)',
      tag: 'cluster',
      permission: 'cluster:gc',
      params: fileIdParams,
      responses: { 200: { description: 'GcExists', schema: gcExistsSchema }, ...errors(401, 403) },
      handler: async (_req, res, { params }) => {
        res.json({ exists: await gcFileExists(ctx, params.fileId), fileId: params.fileId.toLowerCase() });
      },
    }),
  ];
}
