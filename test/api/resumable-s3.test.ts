// Resumable uploads with staging in a bucket (BLOB_BACKEND=s3): each durable step of an append is its own part
// object, so a second API process with its own STAGING_PATH continues the upload; completion concatenates the
// recorded parts into one staged upload; parts never recorded, cancel and expiry leave nothing in the bucket.
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../src/api/app.js';
import { openApiContext, type ApiContext } from '../../src/api/context.js';
import { expireUploads } from '../../src/shared/domain/resumable-expiry.js';
import { createLogger } from '../../src/shared/logger.js';
import { createS3Client } from '../../src/shared/storage/s3-client.js';
import { listObjects } from '../../src/shared/storage/s3-objects.js';
import { binaryParser } from '../helpers/http.js';
import { s3EnvOf, startS3Server, type S3TestServer } from '../helpers/s3-server.js';
import { serve, type Served } from '../helpers/serve.js';
import { createWorld, type World } from '../helpers/world.js';
import { sha256, uploadWithTusClient } from './resumable-harness.js';
import { TcpProxy } from '../helpers/tcp-proxy.js';

const MiB = 1024 * 1024;

describe('resumable uploads on S3 staging', () => {
  let server: S3TestServer;
  let world: World;
  let apiB: ApiContext;
  let servedA: Served;
  let servedB: Served;
  let s3: S3Client;
  let scratchB: string;
  let user: string;

  beforeAll(async () => {
    server = await startS3Server();
    world = await createWorld({ worker: true, isolatedDatabase: true, env: s3EnvOf(server) });
    // A second API process on another host: same database, Redis and bucket, its own STAGING_PATH.
    scratchB = await fs.mkdtemp(path.join(os.tmpdir(), 'artstore-staging-b-'));
    apiB = await openApiContext({ ...world.config, stagingPath: scratchB }, createLogger(world.config, 'test'));
    servedA = await serve(world.app);
    servedB = await serve(createApp(apiB));
    s3 = createS3Client(world.config.s3!);
    user = await world.token('user', 'alice');
  }, 60_000);
  afterAll(async () => {
    s3?.destroy();
    await servedA?.close();
    await servedB?.close();
    await apiB?.close();
    await world?.close();
    await server?.close();
    if (scratchB) await fs.rm(scratchB, { recursive: true, force: true });
  });

  const partsOf = async (id: string): Promise<string[]> => {
    const keys: string[] = [];
    for await (const o of listObjects(s3, server.bucket, `${world.config.s3!.prefix}staging/resumable/${id}/`)) keys.push(o.key);
    return keys;
  };
  const partKey = (id: string, start: number) => `${world.config.s3!.prefix}staging/resumable/${id}/${String(start).padStart(20, '0')}`;
  const auth = { Authorization: '' };
  beforeAll(() => void (auth.Authorization = `Bearer ${user}`));

  for (const [protocol, endpoint] of [
    ['tus-v1', '/api/v1/uploads/tus'],
    ['ietf-draft-05', '/api/v1/uploads'],
  ] as const) {
    it(`${protocol}: cut mid-upload and resumed on the other API process, committed with its sha256`, async () => {
      const data = randomBytes(12 * MiB + 5);
      const proxy = await TcpProxy.open({ host: '127.0.0.1', port: servedA.port });
      let cut = false;
      world.api.resumableHooks = {
        afterChunk: (_id, offset) => {
          if (!cut && offset >= 6 * MiB) {
            cut = true;
            proxy.switchTo(servedB.port);
            proxy.resetConnections();
          }
        },
      };
      const fileName = `s3-${protocol}.bin`;
      try {
        const result = await uploadWithTusClient(proxy.url + endpoint, user, data, {
          protocol,
          chunkSize: 8 * MiB,
          metadata: { filename: fileName, filetype: 'application/octet-stream', sha256: sha256(data) },
        });
        expect(cut).toBe(true);
        expect(await world.api.db.resumableUpload.count({ where: { fileName } })).toBe(1);
        const job = await world.waitForJob(result.jobId!, user, 60_000);
        expect(job).toMatchObject({ state: 'committed', sha256: sha256(data), size: data.length });
        const dl = await request(world.app).get(`/api/v1/files/${job.fileId}`).set(auth).buffer(true).parse(binaryParser);
        expect(sha256(dl.body as Buffer)).toBe(sha256(data));
        // The parts went once the job held the bytes; nothing of it waits on either host.
        expect(await partsOf(result.url.split('/').pop()!)).toEqual([]);
        expect(await fs.readdir(scratchB).then((names) => names.filter((n) => n.endsWith('.part')))).toEqual([]);
      } finally {
        world.api.resumableHooks = undefined;
        await proxy.close();
      }
    }, 120_000);
  }

  const create = async (length: number): Promise<string> => {
    const res = await request(world.app).post('/api/v1/uploads/tus').set(auth).set('Tus-Resumable', '1.0.0').set('Upload-Length', String(length));
    expect(res.status).toBe(201);
    return res.headers.location!.split('/').pop()!;
  };
  const patch = (app: Parameters<typeof request>[0], id: string, offset: number, body: Buffer) =>
    request(app).patch(`/api/v1/uploads/tus/${id}`).set(auth).set('Tus-Resumable', '1.0.0').set('Upload-Offset', String(offset)).set('Content-Type', 'application/offset+octet-stream').send(body);

  it('ignores and removes parts that were put but never recorded', async () => {
    const data = randomBytes(3000);
    const id = await create(data.length);
    expect((await patch(world.app, id, 0, data.subarray(0, 1000))).status).toBe(204);
    // A writer that died after its put and before its record, twice: at the durable offset and past it.
    await s3.send(new PutObjectCommand({ Bucket: server.bucket, Key: partKey(id, 1000), Body: randomBytes(500) }));
    await s3.send(new PutObjectCommand({ Bucket: server.bucket, Key: partKey(id, 1500), Body: randomBytes(1500) }));
    const head = await request(servedB.server).head(`/api/v1/uploads/tus/${id}`).set(auth).set('Tus-Resumable', '1.0.0');
    expect(head.headers['upload-offset']).toBe('1000');
    const done = await patch(servedB.server, id, 1000, data.subarray(1000));
    expect(done.status).toBe(204);
    const job = await world.waitForJob(done.headers['upload-job-id']!, user, 60_000);
    expect(job).toMatchObject({ state: 'committed', sha256: sha256(data), size: data.length });
    expect(await partsOf(id)).toEqual([]);
  }, 60_000);

  it('a writer paused past its lease puts no part over the one its successor recorded', async () => {
    const data = randomBytes(2 * MiB);
    const id = await create(data.length);
    let release: (() => void) | undefined;
    let paused!: () => void;
    const pausedA = new Promise<void>((resolve) => (paused = resolve));
    world.api.resumableHooks = {
      afterChunk: async (uploadId) => {
        if (uploadId !== id || release) return;
        const gate = new Promise<void>((resolve) => (release = resolve));
        paused();
        await gate;
      },
    };
    try {
      const a = patch(world.app, id, 0, data).then((r) => r);
      await pausedA;
      // A's lease runs out while it is paused (its renewal has not noticed yet); B, on the other process, takes it.
      await world.api.redis.del(`${world.config.queuePrefix}:upload-lock:${id}`);
      expect((await patch(servedB.server, id, 0, data.subarray(0, 10))).status).toBe(204);
      release!();
      expect((await a).status).toBe(423);
      const sizes: number[] = [];
      for await (const o of listObjects(s3, server.bucket, partKey(id, 0))) sizes.push(o.size);
      expect(sizes).toEqual([10]);
      const rest = await patch(world.app, id, 10, data.subarray(10));
      expect(rest.status).toBe(204);
      const job = await world.waitForJob(rest.headers['upload-job-id']!, user, 60_000);
      expect(job).toMatchObject({ state: 'committed', sha256: sha256(data), size: data.length });
    } finally {
      world.api.resumableHooks = undefined;
    }
  }, 60_000);

  it('cancel and expiry remove the parts from the bucket', async () => {
    const cancelled = await create(5000);
    expect((await patch(world.app, cancelled, 0, randomBytes(2000))).status).toBe(204);
    expect(await partsOf(cancelled)).toEqual([partKey(cancelled, 0)]);
    const del = await request(servedB.server).delete(`/api/v1/uploads/tus/${cancelled}`).set(auth).set('Tus-Resumable', '1.0.0');
    expect(del.status).toBe(204);
    expect(await partsOf(cancelled)).toEqual([]);

    const expired = await create(5000);
    expect((await patch(world.app, expired, 0, randomBytes(2000))).status).toBe(204);
    await world.api.db.resumableUpload.update({ where: { id: expired }, data: { expiresAt: new Date(Date.now() - 1_000) } });
    const deps = { db: world.api.db, redis: world.api.redis, config: world.config, staging: world.api.staging, logger: world.api.logger };
    expect(await expireUploads(deps)).toMatchObject({ removed: 1 });
    expect(await partsOf(expired)).toEqual([]);
  }, 60_000);
});
