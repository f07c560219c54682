// The integrity scrub on the S3 backend (s3rver): blobs are streamed from the bucket to a hash thread, so bytes
// changed or removed in the bucket are found, and restored ones cleared, as on the local store.
import { createHash, randomBytes } from 'node:crypto';
import { DeleteObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { scrubBlobs, scrubCheckpointKey } from '../../src/shared/domain/blob-scrub.js';
import { createS3Client } from '../../src/shared/storage/s3-client.js';
import { startS3Server, type S3TestServer } from '../helpers/s3-server.js';
import { createWorld, type World } from '../helpers/world.js';

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

describe('integrity scrub on the S3 backend', () => {
  let server: S3TestServer;
  let world: World;
  let alice: string;
  const files: Array<{ id: string; bytes: Buffer; sha256: string }> = [];

  beforeAll(async () => {
    server = await startS3Server();
    world = await createWorld({
      worker: true,
      isolatedDatabase: true,
      env: {
        BLOB_BACKEND: 's3',
        S3_ENDPOINT: server.endpoint,
        S3_BUCKET: server.bucket,
        S3_PREFIX: 'scrub/',
        S3_ACCESS_KEY_ID: server.accessKeyId,
        S3_SECRET_ACCESS_KEY: server.secretAccessKey,
      },
    });
    alice = await world.token('user', 'alice');
    for (const size of [3_000, 700_000]) {
      const bytes = randomBytes(size);
      const res = await request(world.app).post('/api/v1/files/upload?wait=20').set('Authorization', `Bearer ${alice}`).attach('file', bytes, `f${size}.bin`);
      expect(res.status).toBe(201);
      files.push({ id: String(res.body.jobs[0].fileId), bytes, sha256: sha(bytes) });
    }
  });
  afterAll(async () => {
    await world?.close();
    await server?.close();
  });

  const scrub = async () => {
    await world.worker!.connection.del(scrubCheckpointKey(world.config.queuePrefix));
    return scrubBlobs(world.worker!, { budgetMs: 60_000 });
  };
  const blobRow = (h: string) => world.api.db.blob.findUniqueOrThrow({ where: { sha256: h } });
  /** Writes bytes under a blob's key behind the element's back. */
  const overwrite = async (h: string, bytes: Buffer | null) => {
    const client = createS3Client(world.config.s3!);
    const Key = world.api.blobStore.keyFor(h);
    if (bytes) await client.send(new PutObjectCommand({ Bucket: server.bucket, Key, Body: bytes, ContentLength: bytes.length }));
    else await client.send(new DeleteObjectCommand({ Bucket: server.bucket, Key }));
    client.destroy();
  };

  it('finds a blob whose bytes changed in the bucket (same size) and clears the mark once they are restored', async () => {
    const target = files[1]!;
    const changed = Buffer.from(target.bytes);
    changed[500_000] = changed[500_000]! ^ 0xff;
    await overwrite(target.sha256, changed);
    expect(await scrub()).toEqual({ checked: 2, corrupt: 1, missing: 0, resumeAfter: null });
    expect(await blobRow(target.sha256)).toMatchObject({ corruptAt: expect.any(Date), corruptReason: 'mismatch' });
    const refused = await request(world.app).get(`/api/v1/files/${target.id}`).set('Authorization', `Bearer ${alice}`);
    expect(refused.status).toBe(409);

    await overwrite(target.sha256, target.bytes);
    expect(await scrub()).toEqual({ checked: 2, corrupt: 0, missing: 0, resumeAfter: null });
    expect(await blobRow(target.sha256)).toMatchObject({ corruptAt: null, lastVerifiedAt: expect.any(Date) });
  });

  it('finds a blob whose object is gone', async () => {
    const target = files[0]!;
    await overwrite(target.sha256, null);
    expect(await scrub()).toMatchObject({ checked: 2, missing: 1 });
    expect(await blobRow(target.sha256)).toMatchObject({ corruptReason: 'missing' });
  });
});
