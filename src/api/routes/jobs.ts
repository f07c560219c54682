// GET /api/v1/jobs/{id}, GET /api/v1/jobs?ids= and the SSE stream /api/v1/jobs/{id}/events: job status from PostgreSQL.
import type { Request, Response } from 'express';
import { decodeJwt } from 'jose';
import { z } from 'zod';
import { getJob, type FileJob } from '../../shared/domain/job-queries.js';
import { JobStatusReader } from '../../shared/domain/job-status.js';
import { toJobView } from '../../shared/domain/job-view.js';
import { AppError } from '../../shared/errors.js';
import { principalOf } from '../auth.js';
import type { ApiContext } from '../context.js';
import { defineRoute, type RouteSpec } from '../http/route-spec.js';
import { errors } from '../http/openapi-errors.js';
import { isFinalState, jobListSchema, jobSchema } from '../../contract/jobs.js';

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

const HEARTBEAT_MS = 15_000;
const SAFETY_POLL_MS = 2_000;
/** Longest a timer may be set for (setTimeout fires at once beyond it). */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** When the request's bearer token expires (ms since the epoch); requirePermission() has verified it already. */
function tokenExpiresAt(req: Request): number {
  const token = /^Bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? '')?.[1];
  const exp = token ? decodeJwt(token).exp : undefined;
  return exp === undefined ? Date.now() : exp * 1_000;
}

/**
 * Streams Job snapshots as server-sent events until the job is final, the client leaves, or the token expires (a
 * stream must not outlive the right to read it). One of the principal's MAX_STREAMS_PER_PRINCIPAL slots.
 */
async function streamJob(ctx: ApiContext, req: Request, res: Response, jobId: string): Promise<void> {
  const principal = principalOf(res);
  let last = await getJob(ctx.db, principal, jobId);
  ctx.streamSlots.take(res, principal.sub);
  // Heartbeats keep the connection inside UPLOAD_IDLE_TIMEOUT_MS, the server's inactivity limit for every socket.
  const heartbeatMs = Math.min(HEARTBEAT_MS, Math.floor(ctx.config.uploadIdleTimeoutMs / 3));
  const expiresInMs = tokenExpiresAt(req) - Date.now();
  res.status(200).set({
    'Content-Type': 'text/event-stream; charset=utf-8',
    'Cache-Control': 'no-cache, no-transform',
    Connection: 'keep-alive',
    'X-Accel-Buffering': 'no',
  });
  res.flushHeaders();
  let seq = 0;
  const send = (job: FileJob) => res.write(`id: ${++seq}\nevent: job\ndata: ${JSON.stringify(toJobView(job))}\n\n`);
  send(last);
  if (isFinalState(last.state)) {
    res.end();
    return;
  }
  await new Promise<void>((resolve) => {
    let done = false;
    let reading = false;
    const refresh = async () => {
      if (reading) return;
      reading = true;
      try {
        const job = await getJob(ctx.db, principal, jobId);
        if (job.updatedAt.getTime() !== last.updatedAt.getTime() || job.state !== last.state || job.progress !== last.progress) {
          last = job;
          send(job);
        }
        if (isFinalState(job.state)) finish();
      } catch {
        finish();
      } finally {
        reading = false;
      }
    };
    // The BullMQ job that carries the row: its own (id = row id), or the 'ingest-batch' job of its small file.
    const unsubscribe = ctx.jobEvents.subscribe(last.queueJobId ?? jobId, () => void refresh());
    // Events can be missed (a reconnect, another queue's job): a slow poll is the safety net.
    const poll = setInterval(() => void refresh(), SAFETY_POLL_MS);
    const heartbeat = setInterval(() => res.write(': heartbeat\n\n'), heartbeatMs);
    const expiry = setTimeout(() => {
      res.write('event: expired\ndata: {"code":"unauthorized","detail":"token expired"}\n\n');
      finish();
    }, Math.min(Math.max(0, expiresInMs), MAX_TIMER_MS));
    function finish() {
      if (done) return;
      done = true;
      unsubscribe();
      clearInterval(poll);
      clearInterval(heartbeat);
      clearTimeout(expiry);
      res.end();
      resolve();
    }
    req.once('close', finish);
    void refresh();
    // The first subscriber starts the listeners: read once more when they are up, in case the job moved meanwhile.
    void ctx.jobEvents.ready().then(() => (done ? undefined : refresh()), () => undefined);
  });
}

/** A JSON answer already serialised (res.json would parse nothing but still stringify again). */
function sendJsonText(res: Response, text: string): void {
  res.setHeader('Content-Type', 'application/json; charset=utf-8');
  res.end(text);
}

export function jobRoutes(ctx: ApiContext): RouteSpec[] {
  const statuses = new JobStatusReader(ctx.db);
  return [
    defineRoute({
      method: 'get',
      path: '/api/v1/jobs/:jobId/events',
      summary:
        'Server-sent events: a Job snapshot on every change, until the job is final or the token expires (then `event: expired`); heartbeats every 15 s',
      tag: 'jobs',
      permission: 'job:read-own',
      params: z.object({ jobId: z.string() }),
      responses: {
        200: { description: 'text/event-stream of `event: job` with a Job as data', contentType: 'text/event-stream', schema: z.string() },
        ...errors(401, 403, 404, 429),
      },
      handler: (req, res, { params }) => streamJob(ctx, req, res, params.jobId),
    }),
    defineRoute({
      method: 'get',
      path: '/api/v1/jobs/:jobId',
      summary: 'One job (own jobs; operators and admins see all)',
      tag: 'jobs',
      permission: 'job:read-own',
      params: z.object({ jobId: z.string() }),
      responses: { 200: { description: 'Job', schema: jobSchema }, ...errors(401, 403, 404) },
      quietSuccess: true,
      handler: async (_req, res, { params }) => {
        const [status] = await statuses.read(principalOf(res), [params.jobId]);
        if (!status) throw new AppError('not_found', `no job ${params.jobId}`);
        sendJsonText(res, status.json);
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
      quietSuccess: true,
      handler: async (_req, res, { query }) => {
        const found = await statuses.read(principalOf(res), query.ids);
        sendJsonText(res, `{"jobs":[${found.map((s) => s.json).join(',')}]}`);
      },
    }),
  ];
}
