// GET /api/v1/jobs/{id} and GET /api/v1/jobs?ids=: job status from PostgreSQL.
import { z } from 'zod';
import { getJob, getJobs } from '../../shared/domain/job-queries.js';
import { toJobView } from '../../shared/domain/job-view.js';
import { principalOf } from '../auth.js';
import type { ApiContext } from '../context.js';
import { defineRoute, type RouteSpec } from '../http/route-spec.js';
import { errors, jobListSchema, jobSchema } from '../http/schemas.js';

const MAX_IDS = 100;

const idsQuery = z
  .object({
    ids: z
      .string()
      .transform((raw) => raw.split(',').map((s) => s.trim()).filter(Boolean))
      .refine((ids) => ids.length > 0, 'a comma-separated list of job ids')
      .refine((ids) => ids.length <= MAX_IDS, `at most ${MAX_IDS} ids`)
      .describe(`comma-separated job ids (at most ${MAX_IDS}); unknown ids are omitted`),
  })
  .strict();

export function jobRoutes(ctx: ApiContext): RouteSpec[] {
  return [
    defineRoute({
      method: 'get',
      path: '/api/v1/jobs/:jobId',
      summary: 'One job (own jobs; operators and admins see all)',
      tag: 'jobs',
      permission: 'job:read-own',
      params: z.object({ jobId: z.string() }),
      responses: { 200: { description: 'Job', schema: jobSchema }, ...errors(401, 403, 404) },
      handler: async (_req, res, { params }) => {
        res.json(toJobView(await getJob(ctx.db, principalOf(res), params.jobId)));
      },
    }),
    defineRoute({
      method: 'get',
      path: '/api/v1/jobs',
      summary: 'Several jobs at once',
      tag: 'jobs',
      permission: 'job:read-own',
      query: idsQuery,
      responses: { 200: { description: 'the visible jobs, in the order asked', schema: jobListSchema }, ...errors(400, 401, 403) },
      handler: async (_req, res, { query }) => {
        const jobs = await getJobs(ctx.db, principalOf(res), query.ids);
        res.json({ jobs: jobs.map(toJobView) });
      },
    }),
  ];
}
