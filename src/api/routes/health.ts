// /health/live, /health/ready (PostgreSQL, Redis, storage within 1 s) and /metrics.
import { constants } from 'node:fs';
import fs from 'node:fs/promises';
import { Router } from 'express';
import { modeAllows } from '../../shared/domain/modes.js';
import type { ApiContext } from '../context.js';

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

export function healthRoutes(ctx: ApiContext): Router {
  const router = Router();
  router.get('/health/live', (_req, res) => {
    res.json({ status: 'ok' });
  });
  router.get('/health/ready', async (_req, res) => {
    const [database, redis, storage] = await Promise.all([
      check(() => ctx.db.$queryRaw`SELECT 1`),
      check(() => ctx.redis.ping()),
      check(async () => {
        const writable = modeAllows(await ctx.modes.current(), 'upload');
        const mode = writable ? constants.W_OK | constants.R_OK : constants.R_OK;
        await Promise.all([fs.access(ctx.config.storagePath, mode), fs.access(ctx.config.stagingPath, mode)]);
      }),
    ]);
    const checks = { database, redis, storage };
    const ok = Object.values(checks).every((c) => c === 'ok');
    res.status(ok ? 200 : 503).json({ status: ok ? 'ok' : 'unavailable', checks });
  });
  router.get('/metrics', async (_req, res) => {
    res.type(ctx.registry.contentType).send(await ctx.registry.metrics());
  });
  return router;
}
