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

  it('an upload enqueues { ingestJobId, size } under the job id', async () => {
    const res = await request(world.app)
      .post('/api/v1/files/upload')
      .set('Authorization', `Bearer ${user}`)
      .attach('file', randomBytes(1_000), 'wire.bin');
    expect(res.status).toBe(202);
    const id = res.body.jobs[0].id as string;
    const queued = await world.api.queues.ingest.getJob(id);
    expect(queued?.name).toBe('ingest-file');
    // size (added in issue 12, optional: payloads of earlier versions lack it) lets a worker run large files alone.
    expect(queued?.data).toEqual({ ingestJobId: id, size: 1_000 });
  });
});
