// A resumable upload whose bytes all come in one request is hashed by the API as it writes them (issue 12): its job
// records the digest and the worker does not read the file again. One whose bytes came in several requests has no
// recorded digest, and the worker hashes it, as before.
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getFileJob } from '../../src/shared/records/file-jobs.js';
import { serve, type Served } from '../helpers/serve.js';
import { createWorld, type World } from '../helpers/world.js';
import { sha256, uploadWithTusClient } from './resumable-harness.js';

describe('the digest of a resumable upload', () => {
  let world: World;
  let served: Served;
  let user: string;

  beforeAll(async () => {
    world = await createWorld({ worker: true });
    served = await serve(world.app);
    user = await world.token('user', 'alice');
  });
  afterAll(async () => {
    await served?.close();
    await world?.close();
  });

  const endpoint = () => `http://127.0.0.1:${served.port}/api/v1/uploads/tus`;

  it('is recorded with the job when one request brought every byte, and equals the bytes committed', async () => {
    const data = randomBytes(3 * 1024 * 1024 + 17);
    const { jobId } = await uploadWithTusClient(endpoint(), user, data);
    expect(jobId).toBeTruthy();
    expect((await getFileJob(world.api.db, jobId!)).stagedSha256).toBe(sha256(data));
    expect(await world.waitForJob(jobId!, user)).toMatchObject({ state: 'committed', sha256: sha256(data), size: data.length });
  });

  it('is of the bytes the file holds when a request from offset 0 follows one that wrote bytes it never recorded', async () => {
    const data = randomBytes(200_000);
    const tus = { 'Tus-Resumable': '1.0.0', Authorization: `Bearer ${user}` };
    const url = (await request(world.app).post('/api/v1/uploads/tus').set(tus).set('Upload-Length', String(data.length))).headers.location!;
    // A request that wrote past the recorded offset (0) and died before its fsync and record: other bytes, longer.
    await fs.writeFile(path.join(world.config.stagingPath, 'resumable', `${url.split('/').pop()}.upload`), randomBytes(data.length + 4_096));
    const done = await request(world.app)
      .patch(url)
      .set(tus)
      .set('Upload-Offset', '0')
      .set('Content-Type', 'application/offset+octet-stream')
      .send(data);
    expect(done.status, done.text).toBe(204);
    const jobId = done.headers['upload-job-id']!;
    expect((await getFileJob(world.api.db, jobId)).stagedSha256).toBe(sha256(data));
    expect(await world.waitForJob(jobId, user)).toMatchObject({ state: 'committed', sha256: sha256(data), size: data.length });
  });

  it('is left to the worker when the bytes came in several requests', async () => {
    const data = randomBytes(3 * 1024 * 1024 + 5);
    const { jobId, chunks } = await uploadWithTusClient(endpoint(), user, data, { chunkSize: 1024 * 1024 });
    expect(chunks).toBeGreaterThan(1);
    expect((await getFileJob(world.api.db, jobId!)).stagedSha256).toBeNull();
    expect(await world.waitForJob(jobId!, user)).toMatchObject({ state: 'committed', sha256: sha256(data), size: data.length });
  });
});
