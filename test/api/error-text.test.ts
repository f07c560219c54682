// A job that fails for an unexpected reason tells its client `internal` and a generic message: the error's own
// text (here a file system error naming the staged path) stays in the worker log, with the job id.
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import { Writable } from 'node:stream';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/shared/logger.js';
import { openWorkerContext, type WorkerContext } from '../../src/workers/context.js';
import { startWorkers, type RunningWorkers } from '../../src/workers/runner.js';
import { createWorld, type World } from '../helpers/world.js';

describe('error text of a failed job', () => {
  let world: World;
  let ctx: WorkerContext | undefined;
  let running: RunningWorkers | undefined;
  const logLines: Array<Record<string, unknown>> = [];

  beforeAll(async () => {
    world = await createWorld({ env: { JOB_ATTEMPTS: '2' } });
  });
  afterAll(async () => {
    await running?.close();
    await ctx?.close();
    await world?.close();
  });

  it('serves code internal and a generic message, and logs the real error with the job id', async () => {
    const token = await world.token('user', 'alice');
    const res = await request(world.app).post('/api/v1/files/upload').set('Authorization', `Bearer ${token}`).attach('file', randomBytes(300), 'x.bin');
    expect(res.status).toBe(202);
    const jobId = res.body.jobs[0].id as string;
    // No worker yet: the staged file becomes a symlink to itself, so hashing it fails with ELOOP and its path.
    const { stagedPath } = await world.api.db.fileJob.findUniqueOrThrow({ where: { id: jobId } });
    await fs.rm(stagedPath!);
    await fs.symlink(stagedPath!, stagedPath!);

    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        for (const line of chunk.toString().split('\n').filter(Boolean)) logLines.push(JSON.parse(line) as Record<string, unknown>);
        done();
      },
    });
    ctx = await openWorkerContext(world.config, createLogger({ logLevel: 'warn' }, 'worker', sink));
    running = await startWorkers(ctx);

    const job = await world.waitForJob(jobId, token, 20_000);
    expect(job.state).toBe('failed');
    const error = job.error as { code: string; message: string };
    expect(error.code).toBe('internal');
    expect(error.message).not.toContain(world.config.stagingPath);
    expect(error.message).not.toMatch(/ELOOP|\/|\bat\s/);
    const wal = await world.api.db.walEntry.findMany({ where: { jobId } });
    for (const entry of wal) expect(entry.error ?? '').not.toContain(world.config.stagingPath);

    const logged = logLines.find((l) => l.jobId === jobId && JSON.stringify(l.err ?? '').includes('ELOOP'));
    expect(logged, JSON.stringify(logLines)).toBeDefined();
    await fs.rm(stagedPath!, { force: true });
  });
});
