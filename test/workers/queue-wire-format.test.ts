// The payload of the file jobs in Redis is wire format: jobs queued by an earlier version are taken by the next one
// after an upgrade, so the key that names the job row (`ingestJobId`) must not change with the code's names.
import { randomBytes } from 'node:crypto';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createWorld, type World } from '../helpers/world.js';

describe('queued file jobs (wire format)', () => {
  let world: World;
  let user: string;

  beforeAll(async () => {
    // No worker: the jobs stay in Redis exactly as the API wrote them.
    world = await createWorld({ worker: false });
    user = await world.token('user', 'wire-alice');
  });
  afterAll(async () => world?.close());

  it('a small file is carried by an ingest-batch job { queueJobId } under the id its row names', async () => {
    const res = await request(world.app)
      .post('/api/v1/files/upload')
      .set('Authorization', `Bearer ${user}`)
      .attach('file', randomBytes(1_000), 'wire.bin');
    expect(res.status).toBe(202);
    const id = res.body.jobs[0].id as string;
    const row = await world.api.db.fileJob.findUniqueOrThrow({ where: { id } });
    expect(row.queueJobId).toMatch(/^[0-9a-f-]{36}$/);
    // The worker reads the rows by the id (issue 12), so the payload holds only that.
    const queued = await world.api.queues.ingest.getJob(row.queueJobId!);
    expect(queued?.name).toBe('ingest-batch');
    expect(queued?.data).toEqual({ queueJobId: row.queueJobId });
    expect(await world.api.queues.ingest.getJob(id)).toBeUndefined();
  });

  it('a large file enqueues ingest-file { ingestJobId, size } under the job id', async () => {
    const size = 8 * 1024 * 1024;
    const res = await request(world.app)
      .post('/api/v1/files/upload')
      .set('Authorization', `Bearer ${user}`)
      .attach('file', Buffer.alloc(size, 7), 'large.bin');
    expect(res.status).toBe(202);
    const id = res.body.jobs[0].id as string;
    expect((await world.api.db.fileJob.findUniqueOrThrow({ where: { id } })).queueJobId).toBeNull();
    const queued = await world.api.queues.ingest.getJob(id);
    expect(queued?.name).toBe('ingest-file');
    // size (added in issue 12, optional: payloads of earlier versions lack it) lets a worker run large files alone.
    expect(queued?.data).toEqual({ ingestJobId: id, size });
  });

  it('a mixed upload: its small files share one ingest-batch job, its large file has an ingest-file job of its own', async () => {
    const large = 8 * 1024 * 1024;
    const res = await request(world.app)
      .post('/api/v1/files/upload')
      .set('Authorization', `Bearer ${user}`)
      .attach('file', randomBytes(700), 'a.bin')
      .attach('file', Buffer.alloc(large, 3), 'big.bin')
      .attach('file', randomBytes(800), 'b.bin');
    expect(res.status).toBe(202);
    const ids = (res.body.jobs as Array<{ id: string }>).map((j) => j.id);
    const rows = await Promise.all(ids.map((id) => world.api.db.fileJob.findUniqueOrThrow({ where: { id } })));
    expect(rows[1]!.queueJobId).toBeNull();
    expect(rows[0]!.queueJobId).toBeTruthy();
    expect(rows[2]!.queueJobId).toBe(rows[0]!.queueJobId);
    expect((await world.api.queues.ingest.getJob(rows[0]!.queueJobId!))?.data).toEqual({ queueJobId: rows[0]!.queueJobId });
    expect((await world.api.queues.ingest.getJob(ids[1]!))?.data).toEqual({ ingestJobId: ids[1], size: large });
    for (const id of [ids[0]!, ids[2]!]) expect(await world.api.queues.ingest.getJob(id)).toBeUndefined();
  });
});
