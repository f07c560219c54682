// Capacity with BLOB_BACKEND=s3: the API host's scratch disk only has to hold the upload in flight (it leaves for the
// bucket before the 202), so its free-space floor does not refuse uploads; STORAGE_MAX_BYTES still does.
import { randomBytes } from 'node:crypto';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { s3EnvOf, startS3Server, type S3TestServer } from '../helpers/s3-server.js';
import { createWorld, type World } from '../helpers/world.js';

describe('capacity on an S3 blob store', () => {
  let server: S3TestServer;
  const worlds: World[] = [];

  const open = async (extra: Record<string, string>) => {
    const world = await createWorld({
      isolatedDatabase: true,
      env: {
        ...s3EnvOf(server),
        // A floor no scratch disk here reaches: with local blobs every upload would answer 507.
        CAPACITY_FULL_BYTES: String(10 ** 15),
        ...extra,
      },
    });
    worlds.push(world);
    return world;
  };

  beforeAll(async () => {
    server = await startS3Server();
  });
  afterAll(async () => {
    for (const w of worlds) await w.close();
    await server?.close();
  });

  it('accepts uploads whatever the scratch disk has free beyond the upload itself, and reports an unbounded bucket', async () => {
    const world = await open({});
    const token = await world.token('user');
    const res = await request(world.app).post('/api/v1/files/upload').set('Authorization', `Bearer ${token}`).attach('file', randomBytes(2_000), 'a.bin');
    expect(res.status, res.text).toBe(202);
    const info = await request(world.app).get('/api/v1/info').set('Authorization', `Bearer ${token}`);
    expect(info.status, info.text).toBe(200);
    expect(info.body.capacity.status).toBe('ok');
  });

  it('still refuses past STORAGE_MAX_BYTES', async () => {
    const world = await open({ STORAGE_MAX_BYTES: '1000' });
    const token = await world.token('user');
    const res = await request(world.app).post('/api/v1/files/upload').set('Authorization', `Bearer ${token}`).attach('file', randomBytes(2_000), 'a.bin');
    expect(res.status).toBe(507);
    expect(res.body.code).toBe('insufficient_storage');
  });
});
