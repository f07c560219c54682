// With staging in a bucket (BLOB_BACKEND=s3) an upload cannot be appended in place: the resumable routes refuse with
// 501 resumable_unsupported and point at the multipart upload, which keeps working.
import { randomBytes } from 'node:crypto';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { s3EnvOf, startS3Server, type S3TestServer } from '../helpers/s3-server.js';
import { createWorld, type World } from '../helpers/world.js';

describe('resumable uploads on S3 staging', () => {
  let server: S3TestServer;
  let world: World;

  beforeAll(async () => {
    server = await startS3Server();
    world = await createWorld({ isolatedDatabase: true, env: s3EnvOf(server) });
  });
  afterAll(async () => {
    await world?.close();
    await server?.close();
  });

  it('answers 501 resumable_unsupported on both dialects; the multipart upload still works', async () => {
    const token = await world.token('user');
    const tus = await request(world.app).post('/api/v1/uploads/tus').set('Tus-Resumable', '1.0.0').set('Authorization', `Bearer ${token}`).set('Upload-Length', '10');
    expect(tus.status).toBe(501);
    expect(tus.body.code).toBe('resumable_unsupported');
    const ietf = await request(world.app).post('/api/v1/uploads').set('Authorization', `Bearer ${token}`).set('Upload-Complete', '?0');
    expect(ietf.status).toBe(501);
    expect(await world.api.db.resumableUpload.count()).toBe(0);
    const multipart = await request(world.app).post('/api/v1/files/upload').set('Authorization', `Bearer ${token}`).attach('file', randomBytes(100), 'a.bin');
    expect(multipart.status).toBe(202);
  });
});
