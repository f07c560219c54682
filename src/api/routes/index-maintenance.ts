// Index maintenance over HTTP (SPEC §10; a service account or an admin): rebuild, consistency report and the
// cleanup of expired files, each a job with a result, one at a time (503 while another run holds the lock).
import type { Response } from 'express';
import {
  consistencyReportSchema,
  indexRebuildSchema,
  maintenanceQuerySchema,
  maintenanceResultSchema,
  maintenanceStartedSchema,
} from '../../contract/cluster.js';
import { runMaintenance, type MaintenanceTask } from '../../shared/domain/index-maintenance.js';
import { cleanupExpiredTask, consistencyTask, rebuildTask, type CleanupExpired } from '../../shared/domain/index-maintenance-tasks.js';
import { principalOf } from '../auth.js';
import type { ApiContext } from '../context.js';
import { defineRoute, type RouteSpec } from '../http/route-spec.js';
import { errors } from '../http/openapi-errors.js';

const started = { description: 'still running after `wait`: poll the job at Location (its `result` once it has ended)', schema: maintenanceStartedSchema };

export function indexMaintenanceRoutes(ctx: ApiContext, cleanupExpired: CleanupExpired): RouteSpec[] {
  const answer = async (res: Response, task: MaintenanceTask, waitSeconds: number) => {
    const principal = principalOf(res);
    const outcome = await runMaintenance(ctx, principal, task, waitSeconds * 1_000);
    ctx.logger.info({ jobId: outcome.jobId, actor: principal.sub, operation: task.operation, state: outcome.state }, 'index maintenance run');
    if (outcome.state === 'committed') {
      res.json({ ...outcome.result, jobId: outcome.jobId });
      return;
    }
    res.status(202).location(`/api/v1/jobs/${outcome.jobId}`).json({ jobId: outcome.jobId, state: outcome.state });
  };
  return [
    defineRoute({
      method: 'post',
      path: '/api/v1/index/rebuild',
      summary: 'Rebuild the file index from attr.json: full (every row rewritten, every count recomputed) or incremental (missing and older rows only)',
      tag: 'cluster',
      permission: 'cluster:index',
      query: maintenanceQuerySchema,
      body: indexRebuildSchema.optional(),
      responses: { 200: { description: 'the rebuild report', schema: maintenanceResultSchema }, 202: started, ...errors(400, 401, 403, 409, 503) },
      handler: async (_req, res, { query, body }) => {
        await answer(res, rebuildTask(ctx, body?.mode ?? 'full'), query.wait);
      },
    }),
    defineRoute({
      method: 'get',
      path: '/api/v1/index/consistency',
      summary: 'Compare attr.json files with file rows: counts, orphans on each side (up to 10 examples each), isConsistent',
      tag: 'cluster',
      permission: 'cluster:index',
      query: maintenanceQuerySchema,
      responses: {
        200: { description: 'the consistency report', schema: consistencyReportSchema.extend(maintenanceResultSchema.shape) },
        202: started,
        ...errors(400, 401, 403, 503),
      },
      handler: async (_req, res, { query }) => {
        await answer(res, consistencyTask(ctx), query.wait);
      },
    }),
    defineRoute({
      method: 'post',
      path: '/api/v1/index/cleanup-expired',
      summary: 'Delete the temporary files whose retention has expired (through the delete path)',
      tag: 'cluster',
      permission: 'cluster:index',
      query: maintenanceQuerySchema,
      responses: { 200: { description: 'what the cleanup did', schema: maintenanceResultSchema }, 202: started, ...errors(400, 401, 403, 503) },
      handler: async (_req, res, { query }) => {
        await answer(res, cleanupExpiredTask(cleanupExpired), query.wait);
      },
    }),
  ];
}
