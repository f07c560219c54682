// /health/live, /health/ready (PostgreSQL, Redis, storage within 1 s) and /metrics (public, or METRICS_TOKEN).
import { createHash, timingSafeEqual } from 'node:crypto';
import { constants } from 'node:fs';
import fs from 'node:fs/promises';
import { z } from 'zod';
import { checkDatabase } from '../../shared/domain/element-status.js';
import { modeAllows } from '../../shared/domain/modes.js';
import { AppError } from '../../shared/errors.js';
import { probeRedis } from '../../shared/redis.js';
import { checkBlobStore } from '../../shared/storage/storage-backends.js';
import type { ApiContext } from '../context.js';
import { defineRoute, type RouteSpec } from '../http/route-spec.js';
import { errors } from '../http/openapi-errors.js';

const CHECK_TIMEOUT_MS = 1_000;

async function check(probe: () => Promise<unknown>): Promise<'ok' | 'unavailable'> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error('timeout')), CHECK_TIMEOUT_MS);
  });
  try {
    await Promise.race([probe(), timeout]);
    return 'ok';
  } catch {
    return 'unavailable';
  } finally {
    clearTimeout(timer);
  }
}

/** Whether an Authorization header carries exactly `Bearer <token>`; compared in constant time. */
function bearerIs(header: string | undefined, token: string): boolean {
  const presented = /^Bearer\s+(\S+)\s*$/i.exec(header ?? '')?.[1];
  if (!presented) return false;
  const digest = (text: string) => createHash('sha256').update(text).digest();
  return timingSafeEqual(digest(presented), digest(token));
}

const statusSchema = z.object({ status: z.literal('ok') });
const readySchema = z.object({
  status: z.enum(['ok', 'unavailable']),
  checks: z.object({ database: z.enum(['ok', 'unavailable']), redis: z.enum(['ok', 'unavailable']), storage: z.enum(['ok', 'unavailable']) }),
});

export function healthRoutes(ctx: ApiContext): RouteSpec[] {
  return [
    defineRoute({
      method: 'get',
      path: '/health/live',
      summary: 'Liveness: 200 while the process runs',
      tag: 'operations',
      permission: 'public',
      responses: { 200: { description: 'alive', schema: statusSchema } },
      handler: (_req, res) => {
        res.json({ status: 'ok' });
      },
    }),
    defineRoute({
      method: 'get',
      path: '/health/ready',
      summary: 'Readiness: PostgreSQL, Redis and the storage (paths, or the bucket with BLOB_BACKEND=s3) answer within 1 s',
      tag: 'operations',
      permission: 'public',
      responses: { 200: { description: 'ready', schema: readySchema }, 503: { description: 'not ready', schema: readySchema } },
      handler: async (_req, res) => {
        const [database, redis, storage] = await Promise.all([
          check(() => checkDatabase(ctx.db)),
          check(() => probeRedis(ctx.redis, ctx.config.queuePrefix)),
          check(async () => {
            const writable = modeAllows(await ctx.modes.current(), 'upload');
            const mode = writable ? constants.W_OK | constants.R_OK : constants.R_OK;
            // With the blobs in a bucket STORAGE_PATH holds nothing; the bucket must answer instead (HeadBucket).
            const local = ctx.blobStore.backend === 'local' ? [ctx.config.storagePath] : [];
            await Promise.all([...local, ctx.config.stagingPath].map((dir) => fs.access(dir, mode)));
            if (local.length === 0) {
              const store = await checkBlobStore(ctx.blobStore, ctx.config, { timeoutMs: 1_000 });
              if (!store.ok) throw new Error(`blob store ${store.backend}: ${store.detail}`);
            }
          }),
        ]);
        const checks = { database, redis, storage };
        const ok = Object.values(checks).every((c) => c === 'ok');
        res.status(ok ? 200 : 503).json({ status: ok ? 'ok' : 'unavailable', checks });
      },
    }),
    defineRoute({
      method: 'get',
      path: '/metrics',
      summary: 'Prometheus metrics of this API process (bearer METRICS_TOKEN when it is set)',
      tag: 'operations',
      permission: 'public',
      responses: { 200: { description: 'Prometheus text format', contentType: 'text/plain', schema: z.string() }, ...errors(401) },
      handler: async (req, res) => {
        const token = ctx.config.metricsToken;
        if (token && !bearerIs(req.headers.authorization, token)) {
          throw new AppError('unauthorized', 'GET /metrics needs "Authorization: Bearer <METRICS_TOKEN>"');
        }
        res.type(ctx.registry.contentType).send(await ctx.registry.metrics());
      },
    }),
  ];
}
