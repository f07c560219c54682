// Readiness with BLOB_BACKEND=s3 (SPEC §8): the bucket must answer; an unreachable store is 503, not a 500 and
// not "ready" because STORAGE_PATH happens to exist.
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../helpers/processes.js';
import { s3EnvOf, startS3Server, type S3TestServer } from '../helpers/s3-server.js';
import { createWorld, type World } from '../helpers/world.js';

describe('readiness on an S3 blob store', () => {
  let server: S3TestServer;
  let up: World;
  let down: World;

  beforeAll(async () => {
    server = await startS3Server();
    up = await createWorld({ env: s3EnvOf(server) });
    down = await createWorld({ env: s3EnvOf(server, { endpoint: `http://127.0.0.1:${await freePort()}`, bucket: 'nowhere' }) });
  });
  afterAll(async () => {
    await up?.close();
    await down?.close();
    await server?.close();
  });

  it('is ready when the bucket answers', async () => {
    const res = await request(up.app).get('/health/ready');
    expect(res.status, res.text).toBe(200);
    expect(res.body.checks.storage).toBe('ok');
  });

  it('answers 503 with storage unavailable when the store cannot be reached', async () => {
    const res = await request(down.app).get('/health/ready');
    expect(res.status).toBe(503);
    expect(res.body).toMatchObject({ status: 'unavailable', checks: { storage: 'unavailable', database: 'ok', redis: 'ok' } });
  });

  it('answers 503 when the bucket is gone, for readiness and for an upload (nothing kept)', async () => {
    const gone = await createWorld({ env: s3EnvOf(server, { bucket: 'no-such-bucket' }) });
    try {
      expect((await request(gone.app).get('/health/ready')).status).toBe(503);
      const upload = await request(gone.app).post('/api/v1/files/upload').set('Authorization', `Bearer ${await gone.token('user')}`).attach('file', Buffer.from('bytes'), 'a.bin');
      expect(upload.status, upload.text).toBe(503);
      expect(upload.body.code).toBe('unavailable');
      expect(await gone.stagedFiles()).toEqual([]);
    } finally {
      await gone.close();
    }
  });
});
