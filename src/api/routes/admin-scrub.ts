// POST /api/v1/admin/scrub (admin): queue an integrity scrub run now, beside the scheduled ones.
import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { enqueue } from '../../shared/queues.js';
import { principalOf } from '../auth.js';
import type { ApiContext } from '../context.js';
import { defineRoute, type RouteSpec } from '../http/route-spec.js';
import { errors } from '../http/openapi-errors.js';

const scrubBody = z
  .object({
    budgetSeconds: z.number().positive().max(86_400).optional().describe('how long this run may re-hash blobs (default SCRUB_BUDGET_SECONDS)'),
  })
  .strict()
  // The body may be left out altogether.
  .optional();

export function adminScrubRoutes(ctx: ApiContext): RouteSpec[] {
  return [
    defineRoute({
      method: 'post',
      path: '/api/v1/admin/scrub',
      summary: 'Start an integrity scrub run now: re-hash stored blobs from the last checkpoint within a time budget',
      tag: 'operations',
      permission: 'admin:scrub',
      body: scrubBody,
      responses: {
        202: { description: 'the run is queued; follow it in Bull Board', schema: z.object({ jobId: z.string().describe('BullMQ job id') }) },
        ...errors(400, 401, 403),
      },
      handler: async (_req, res, { body }) => {
        const jobId = `scrub-${randomUUID()}`;
        const budgetSeconds = body?.budgetSeconds;
        await enqueue(ctx.queues, ctx.config, 'scrub-blobs', [
          { id: jobId, payload: { reason: 'manual', ...(budgetSeconds !== undefined ? { budgetMs: Math.round(budgetSeconds * 1_000) } : {}) } },
        ]);
        ctx.logger.info({ jobId, actor: principalOf(res).sub, budgetSeconds }, 'scrub run requested');
        res.status(202).json({ jobId });
      },
    }),
  ];
}
