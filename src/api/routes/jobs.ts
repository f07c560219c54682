// GET /api/v1/jobs/{id} and GET /api/v1/jobs?ids=: ingest job status from PostgreSQL.
import { Router } from 'express';
import { getJob, getJobs } from '../../shared/domain/job-queries.js';
import { toJobView } from '../../shared/domain/job-view.js';
import { AppError } from '../../shared/errors.js';
import { principalOf, requirePermission } from '../auth.js';
import type { ApiContext } from '../context.js';

const MAX_IDS = 100;

export function jobRoutes(ctx: ApiContext): Router {
  const router = Router();
  router.get('/api/v1/jobs/:jobId', requirePermission('job:read-own'), async (req, res) => {
    res.json(toJobView(await getJob(ctx.db, principalOf(res), String(req.params.jobId))));
  });
  router.get('/api/v1/jobs', requirePermission('job:read-own'), async (req, res) => {
    const raw = req.query.ids;
    if (typeof raw !== 'string' || raw.trim() === '') {
      throw new AppError('validation_failed', "query 'ids': a comma-separated list of job ids", { parameter: 'ids' });
    }
    const ids = raw.split(',').map((s) => s.trim()).filter(Boolean);
    if (ids.length > MAX_IDS) throw new AppError('validation_failed', `query 'ids': at most ${MAX_IDS} ids`, { parameter: 'ids' });
    const jobs = await getJobs(ctx.db, principalOf(res), ids);
    res.json({ jobs: jobs.map(toJobView) });
  });
  return router;
}
