// A metadata patch accepted in `rw` is not applied once the element switched to `ro`: the job fails with
// mode_forbids and the file (row and attr.json) keeps its revision, whether the switch came before the worker
// took the job or while it was applying it (paused at its commit by a test hook).
import { randomBytes } from 'node:crypto';
import request from 'supertest';
import { afterEach, describe, expect, it } from 'vitest';
import type { FileJobDeps } from '../../src/shared/domain/file-jobs.js';
import { requestMetadataUpdate } from '../../src/shared/domain/file-requests.js';
import { createLogger } from '../../src/shared/logger.js';
import { openWorkerContext, type WorkerContext } from '../../src/workers/context.js';
import { startWorkers, type RunningWorkers } from '../../src/workers/runner.js';
import { createWorld, type World } from '../helpers/world.js';

describe('metadata update across a mode switch', () => {
  let world: World | undefined;
  const workers: Array<{ ctx: WorkerContext; running?: RunningWorkers }> = [];

  afterEach(async () => {
    for (const w of workers.splice(0)) {
      await w.running?.close();
      await w.ctx.close();
    }
    await world?.close();
    world = undefined;
  });

  async function openWorker(w: World, start: boolean): Promise<WorkerContext> {
    const ctx = await openWorkerContext(w.config, createLogger(w.config, 'test'));
    workers.push({ ctx, running: start ? await startWorkers(ctx) : undefined });
    return ctx;
  }

  /** An rw element with one committed file; no worker left running. */
  async function elementWithFile(): Promise<{ w: World; fileId: string; admin: string; user: string }> {
    const w = (world = await createWorld({ isolatedDatabase: true, env: { APP_MODE: 'rw' } }));
    const user = await w.token('user', 'alice');
    const admin = await w.token('admin', 'root');
    await openWorker(w, true);
    const up = await request(w.app).post('/api/v1/files/upload').query({ wait: '20' }).set('Authorization', `Bearer ${user}`).attach('file', randomBytes(500), 'm.bin');
    expect(up.status).toBe(201);
    const only = workers.splice(0)[0]!;
    await only.running!.close();
    await only.ctx.close();
    return { w, fileId: up.body.jobs[0].fileId as string, admin, user };
  }

  async function expectUnchanged(w: World, fileId: string): Promise<void> {
    const row = await w.api.db.file.findUniqueOrThrow({ where: { id: fileId } });
    expect(row.revision).toBe(1);
    expect(row.description).toBeNull();
    const attr = await workers[0]!.ctx.attrStore.read(row.attrPath);
    expect(attr).toMatchObject({ revision: 1, description: null });
  }

  it('fails a patch queued in rw with mode_forbids when the worker takes it after the switch to ro', async () => {
    const { w, fileId, admin, user } = await elementWithFile();
    const job = await requestMetadataUpdate(w.api, { sub: 'alice', role: 'user' }, fileId, { description: 'late' });
    const switched = await request(w.app).put('/api/v1/mode').set('Authorization', `Bearer ${admin}`).send({ mode: 'ro' });
    expect(switched.status).toBe(200);

    await openWorker(w, true);
    const done = await w.waitForJob(job.id, user, 20_000);
    expect(done).toMatchObject({ state: 'failed', error: { code: 'mode_forbids' } });
    await expectUnchanged(w, fileId);
  });

  it('fails a patch whose worker read rw but the element switched to ro before its commit', async () => {
    const { w, fileId, admin, user } = await elementWithFile();
    const job = await requestMetadataUpdate(w.api, { sub: 'alice', role: 'user' }, fileId, { description: 'raced' });
    const ctx = await openWorker(w, false);
    // Paused after the cached mode check passed (rw) and attr.json was written, just before the commit: the
    // admin switches to ro at that exact step.
    const hook: Pick<FileJobDeps, 'beforeUpdateCommit'> = {
      beforeUpdateCommit: async () => {
        expect(await ctx.modes.current()).toBe('rw');
        const res = await request(w.app).put('/api/v1/mode').set('Authorization', `Bearer ${admin}`).send({ mode: 'ro' });
        expect(res.status).toBe(200);
      },
    };
    Object.assign(ctx, hook);
    workers[0]!.running = await startWorkers(ctx);
    const done = await w.waitForJob(job.id, user, 20_000);
    expect(done).toMatchObject({ state: 'failed', error: { code: 'mode_forbids' } });
    await expectUnchanged(w, fileId);
  });
});
