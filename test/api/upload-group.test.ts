// Group commit of uploads: concurrent uploads share one INSERT, each keeping its own owner, fields and outcome.
import { randomBytes, randomUUID } from 'node:crypto';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { recordUploadGroup, type PendingUpload } from '../../src/shared/domain/ingest-submit.js';
import { createDb } from '../../src/shared/records/database.js';
import type { FileJob } from '../../src/shared/records/file-jobs.js';
import { isOutageError } from '../../src/shared/outage.js';
import { freePort } from '../helpers/processes.js';
import { createWorld, type World } from '../helpers/world.js';

function pending(principal: string, files: number, extra: { fileId?: string; description?: string } = {}): PendingUpload {
  return {
    owner: { principal, principalName: `${principal} N.`, idempotencyKey: null, params: { description: extra.description ?? null, version: null, tags: [principal], metadata: { by: principal } } },
    jobs: Array.from({ length: files }, (_, i) => ({
      batchIndex: i,
      fileName: `${principal}-${i}.bin`,
      contentType: 'application/octet-stream',
      size: 10 + i,
      stagedPath: `/nowhere/${randomUUID()}.part`,
      fileId: extra.fileId ?? randomUUID(),
      declaredSha256: null,
    })),
  };
}

describe('uploads recorded in one group', () => {
  let world: World;

  beforeAll(async () => {
    world = await createWorld({ worker: false });
  });
  afterAll(async () => world?.close());

  it('gives each upload of a group its own principal, fields and jobs, in batch order', async () => {
    const uploads = [pending('ann', 3, { description: 'first' }), pending('bob', 1), pending('cy', 2, { description: 'third' })];
    const results = await recordUploadGroup(world.api.db, uploads, 100);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled', 'fulfilled']);
    results.forEach((r, u) => {
      const jobs = (r as PromiseFulfilledResult<FileJob[]>).value;
      const asked = uploads[u]!;
      expect(jobs.map((j) => [j.principal, j.principalName, j.batchIndex, j.fileName, j.stagedPath, j.fileId, j.state])).toEqual(
        asked.jobs.map((a) => [asked.owner.principal, asked.owner.principalName, a.batchIndex, a.fileName, a.stagedPath, a.fileId, 'queued']),
      );
      for (const j of jobs) expect(j.params).toEqual(asked.owner.params);
    });
    const rows = await world.api.db.fileJob.findMany({ where: { stagedPath: { in: uploads.flatMap((u) => u.jobs.map((j) => j.stagedPath)) } } });
    expect(rows).toHaveLength(6);
  });

  it('keeps one upload\'s fault its own: the others of its group are recorded', async () => {
    const [taken] = await recordUploadGroup(world.api.db, [pending('dan', 1)], 100);
    expect(taken!.status).toBe('fulfilled');
    const clash = pending('eve', 1, { fileId: (taken as PromiseFulfilledResult<FileJob[]>).value[0]!.fileId });
    const uploads = [pending('fay', 1), clash, pending('gus', 2)];
    const results = await recordUploadGroup(world.api.db, uploads, 100);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect((results[1] as PromiseRejectedResult).reason).toMatchObject({ code: '23505' });
    expect(await world.api.db.fileJob.count({ where: { principal: { in: ['fay', 'gus'] } } })).toBe(3);
    expect(await world.api.db.fileJob.count({ where: { principal: 'eve' } })).toBe(0);
  });

  it('fails every upload of a group with the outage when the database cannot be reached', async () => {
    const url = new URL(inject('testEnv').databaseUrl);
    url.port = String(await freePort());
    const dead = createDb({ databaseUrl: url.toString(), databasePoolSize: 1 });
    try {
      const err = await recordUploadGroup(dead, [pending('hal', 1), pending('ida', 1)], 100).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(isOutageError(err)).toBe(true);
    } finally {
      await dead.$disconnect();
    }
  });

  it('answers concurrent uploads of several principals each with its own jobs and fields', async () => {
    const principals = ['kim', 'lou', 'max', 'ned'];
    const tokens = await Promise.all(principals.map((p) => world.token('user', p)));
    const sent = Array.from({ length: 16 }, (_, i) => ({ i, who: i % principals.length, bytes: randomBytes(100 + i) }));
    const answers = await Promise.all(
      sent.map((s) =>
        request(world.app)
          .post('/api/v1/files/upload')
          .set('Authorization', `Bearer ${tokens[s.who]}`)
          .field('description', `upload ${s.i}`)
          .attach('file', s.bytes, `f${s.i}.bin`),
      ),
    );
    for (const [k, res] of answers.entries()) {
      expect(res.status).toBe(202);
      expect(res.body.jobs).toHaveLength(1);
      expect(res.body.jobs[0]).toMatchObject({ fileName: `f${k}.bin`, size: sent[k]!.bytes.length, state: 'queued' });
      const row = await world.api.db.fileJob.findUniqueOrThrow({ where: { id: res.body.jobs[0].id } });
      expect(row.principal).toBe(principals[sent[k]!.who]);
      expect(row.params).toMatchObject({ description: `upload ${k}` });
      // Small files of uploads recorded together share one 'ingest-batch' job, which reads its rows by its id.
      expect(row.queueJobId).toBeTruthy();
      expect(await world.api.queues.ingest.getJob(row.queueJobId!)).toMatchObject({ name: 'ingest-batch', data: { queueJobId: row.queueJobId } });
    }
  });
});
