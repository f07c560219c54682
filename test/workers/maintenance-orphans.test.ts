// A maintenance job (index rebuild, consistency report, cleanup over HTTP) whose API process stopped mid-run: its
// lock goes with the process's database session, and the worker's requeue sweep then closes the job as failed
// (without waiting for the next run), but never while a run holds the lock.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/shared/logger.js';
import { poolOf } from '../../src/shared/records/database.js';
import { MAINTENANCE_RUN_KEY } from '../../src/shared/records/maintenance-lock.js';
import { openWorkerContext, type WorkerContext } from '../../src/workers/context.js';
import { requeueStaleJobs } from '../../src/workers/requeue.js';
import { until } from '../helpers/wait.js';
import { createWorld, type World } from '../helpers/world.js';

describe('maintenance jobs of a process that stopped', () => {
  let world: World;
  let ctx: WorkerContext;

  beforeAll(async () => {
    world = await createWorld({ worker: false, isolatedDatabase: true });
    ctx = await openWorkerContext(world.config, createLogger({ logLevel: 'silent' }, 'test'));
  });
  afterAll(async () => {
    await ctx?.close();
    await world?.close();
  });

  it('stays open while its run holds the lock, and is closed as failed by the sweep once the lock is gone', async () => {
    const id = randomUUID();
    await world.api.db.$executeRaw`
      INSERT INTO file_jobs (id, kind, state, principal, file_name, content_type, size, file_id, params, attempts, created_at, updated_at)
      VALUES (${id}::uuid, 'maintenance', 'committing', 'admin-module', 'index rebuild (full)', 'application/json', 0, ${id}::uuid,
        '{"operation": "index_rebuild"}'::jsonb, 1, now() - interval '1 hour', now() - interval '1 hour')`;
    // The run's process: a session that holds the run key, as withMaintenanceLock does.
    const session = await poolOf(world.api.db).connect();
    await session.query(`SELECT pg_advisory_lock(${MAINTENANCE_RUN_KEY}::bigint)`);
    const state = async () => (await world.api.db.fileJob.findUniqueOrThrow({ where: { id } })).state;

    await requeueStaleJobs(ctx, ctx.queues, 0);
    expect(await state()).toBe('committing');

    // The process dies: its session ends, and its session locks with it.
    session.release(true);
    await until('the dead session to let go of the run key', async () => {
      const [row] = await world.api.db.$queryRawUnsafe<Array<{ n: number }>>(
        `SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'advisory' AND objid = ${Number(BigInt(MAINTENANCE_RUN_KEY) & 0xffffffffn)}`,
      );
      return row!.n === 0;
    });
    const report = await requeueStaleJobs(ctx, ctx.queues, 0);
    expect(report.failed).toBe(1);
    const job = await world.api.db.fileJob.findUniqueOrThrow({ where: { id } });
    expect(job).toMatchObject({ state: 'failed', errorCode: 'internal', errorMessage: expect.stringMatching(/interrupted/) });
    expect(job.finishedAt).not.toBeNull();
  });
});
