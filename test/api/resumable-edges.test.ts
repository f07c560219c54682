// Edge cases of resumable uploads found in review: a HEAD that races a completing PATCH, a late IETF length below
// the stored offset, creation-with-upload refusals that must leave no upload behind, and HEAD in a read-only mode.
import { randomBytes } from 'node:crypto';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resumableDeps } from '../../src/api/http/resumable-append.js';
import { completeIfFull } from '../../src/shared/domain/resumable-append.js';
import { expireUploads } from '../../src/shared/domain/resumable-expiry.js';
import { findResumableUpload } from '../../src/shared/records/resumable-uploads.js';
import { AppError } from '../../src/shared/errors.js';
import { createWorld, type World } from '../helpers/world.js';
import { sha256 } from './resumable-harness.js';

const TUS = { 'Tus-Resumable': '1.0.0' };

describe('resumable upload edge cases', () => {
  let world: World;
  let alice: string;

  beforeAll(async () => {
    world = await createWorld({ worker: true, isolatedDatabase: true, env: { MAX_CONCURRENT_UPLOADS_PER_PRINCIPAL: '1', MAX_UPLOAD_BYTES: String(1024 * 1024) } });
    alice = await world.token('user', 'alice');
  });
  afterAll(async () => world?.close());

  const tusCreate = (length: number) =>
    request(world.app).post('/api/v1/uploads/tus').set(TUS).set('Authorization', `Bearer ${alice}`).set('Upload-Length', String(length));
  const tusPatch = (url: string, offset: number, body: Buffer) =>
    request(world.app)
      .patch(url)
      .set(TUS)
      .set('Authorization', `Bearer ${alice}`)
      .set('Upload-Offset', String(offset))
      .set('Content-Type', 'application/offset+octet-stream')
      .send(body);
  const uploads = () => world.api.db.resumableUpload.count();

  it('a HEAD that read the full upload just before a PATCH completed it answers the completed upload, not 409', async () => {
    const data = randomBytes(1000);
    const url = (await tusCreate(data.length)).headers.location!;
    const id = url.split('/').pop()!;
    const done = await tusPatch(url, 0, data);
    expect(done.status).toBe(204);
    // What the HEAD had read before the PATCH marked it complete: every byte durable, no job yet.
    const stale = { ...(await findResumableUpload(world.api.db, id))!, completedAt: null, jobId: null };
    const owner = { sub: stale.owner, role: 'user' as const };
    const seen = await completeIfFull(resumableDeps(world.api), owner, stale, 'upload_locked');
    expect(seen.completedAt).not.toBeNull();
    expect(seen.jobId).toBe(done.headers['upload-job-id']);
  });

  it('a PATCH whose upload is cancelled between its lookup and its lease answers 404, not 500', async () => {
    const url = (await tusCreate(100)).headers.location!;
    const id = url.split('/').pop()!;
    world.api.resumableHooks = {
      beforeLease: async (uploadId) => {
        if (uploadId !== id) return;
        world.api.resumableHooks = undefined;
        expect((await request(world.app).delete(url).set(TUS).set('Authorization', `Bearer ${alice}`)).status).toBe(204);
      },
    };
    try {
      const res = await tusPatch(url, 0, randomBytes(100));
      expect(res.status).toBe(404);
      expect(res.body.code).toBe('not_found');
    } finally {
      world.api.resumableHooks = undefined;
    }
  });

  it('expiry skips an upload whose append holds the lease, and a writer that lost its lease to expiry records nothing', async () => {
    const data = randomBytes(200_000);
    const url = (await tusCreate(data.length)).headers.location!;
    const id = url.split('/').pop()!;
    let release!: () => void;
    let entered!: () => void;
    const paused = new Promise<void>((resolve) => (entered = resolve));
    let pausedOnce = false;
    world.api.resumableHooks = {
      afterChunk: async (uploadId) => {
        if (uploadId !== id || pausedOnce) return;
        pausedOnce = true;
        entered();
        await new Promise<void>((resolve) => (release = resolve));
      },
    };
    const deps = { db: world.api.db, redis: world.api.redis, config: world.config, staging: world.api.staging, logger: world.api.logger };
    try {
      const patch = tusPatch(url, 0, data).then((r) => r);
      await paused;
      await world.api.db.resumableUpload.update({ where: { id }, data: { expiresAt: new Date(Date.now() - 1_000) } });
      expect(await expireUploads(deps)).toMatchObject({ busy: 1 });
      expect(await findResumableUpload(world.api.db, id)).not.toBeNull();
      // The lease lapses while the writer is paused: expiry now removes the upload under the writer's feet.
      await world.api.redis.del(`${world.config.queuePrefix}:upload-lock:${id}`);
      expect(await expireUploads(deps)).toMatchObject({ removed: 1, busy: 0 });
      release();
      const done = await patch;
      expect(done.status).toBe(423);
      expect(await findResumableUpload(world.api.db, id)).toBeNull();
    } finally {
      world.api.resumableHooks = undefined;
    }
  });

  it('IETF: a late Upload-Length below the stored offset is 400 inconsistent-upload-length and the upload stays usable', async () => {
    const data = randomBytes(3000);
    const created = await request(world.app).post('/api/v1/uploads').set('Authorization', `Bearer ${alice}`).set('Upload-Complete', '?0').set('Content-Type', 'application/partial-upload').send(data.subarray(0, 2000));
    expect(created.status).toBe(201);
    const url = created.headers.location!;
    const append = (offset: number, body: Buffer, length: number) =>
      request(world.app)
        .patch(url)
        .set('Authorization', `Bearer ${alice}`)
        .set('Upload-Offset', String(offset))
        .set('Upload-Complete', '?1')
        .set('Upload-Length', String(length))
        .set('Content-Type', 'application/partial-upload')
        .send(body);
    const short = await append(2000, Buffer.alloc(0), 1000);
    expect(short.status).toBe(400);
    expect(short.body.code).toBe('upload_length_mismatch');
    // Upload-Complete: ?1 on a body that stops short of the declared length: 400 as well; its bytes are kept.
    const early = await append(2000, data.subarray(2000, 2500), data.length);
    expect(early.status).toBe(400);
    expect(early.body.type).toBe('https://iana.org/assignments/http-problem-types#inconsistent-upload-length');
    const rest = await append(2500, data.subarray(2500), data.length);
    expect(rest.status).toBe(200);
    const job = await world.waitForJob(rest.headers['upload-job-id']!, alice);
    expect(job).toMatchObject({ state: 'committed', sha256: sha256(data) });
  });

  it('IETF length deferral: a body past MAX_UPLOAD_BYTES is 413 and removes the dead upload; so is a late Upload-Length over it', async () => {
    const max = 1024 * 1024;
    const before = await uploads();
    const over = await request(world.app).post('/api/v1/uploads').set('Authorization', `Bearer ${alice}`).set('Upload-Complete', '?1').set('Content-Type', 'application/partial-upload').send(randomBytes(max + 1));
    expect(over.status).toBe(413);
    expect(over.body.code).toBe('payload_too_large');
    // It could never complete: removed at once, holding no open-upload place until its expiry.
    expect(await uploads()).toBe(before);
    const created = await request(world.app).post('/api/v1/uploads').set('Authorization', `Bearer ${alice}`).set('Upload-Complete', '?0');
    const late = await request(world.app)
      .patch(created.headers.location!)
      .set('Authorization', `Bearer ${alice}`)
      .set('Upload-Offset', '0')
      .set('Upload-Complete', '?0')
      .set('Upload-Length', String(max + 1))
      .set('Content-Type', 'application/partial-upload')
      .send(randomBytes(10));
    expect(late.status).toBe(413);
    const head = await request(world.app).head(created.headers.location!).set('Authorization', `Bearer ${alice}`);
    expect(head.headers['upload-offset']).toBe('0');
    expect(head.headers['upload-length']).toBeUndefined();
  });

  it('tus creation-with-upload of the wrong Content-Type is 415 and creates no upload', async () => {
    const before = await uploads();
    const res = await request(world.app).post('/api/v1/uploads/tus').set(TUS).set('Authorization', `Bearer ${alice}`).set('Upload-Length', '10').set('Content-Type', 'text/plain').send('0123456789');
    expect(res.status).toBe(415);
    expect(await uploads()).toBe(before);
  });

  it('creation-with-upload refused 429 (MAX_CONCURRENT_UPLOADS_PER_PRINCIPAL) creates no upload', async () => {
    const a = (await tusCreate(100_000)).headers.location!;
    let release!: () => void;
    let entered!: () => void;
    const paused = new Promise<void>((resolve) => (entered = resolve));
    let pausedOnce = false;
    world.api.resumableHooks = {
      afterChunk: async (id) => {
        if (id !== a.split('/').pop() || pausedOnce) return;
        pausedOnce = true;
        entered();
        await new Promise<void>((resolve) => (release = resolve));
      },
    };
    try {
      const first = tusPatch(a, 0, randomBytes(100_000)).then((r) => r);
      await paused;
      const before = await uploads();
      const tus = await request(world.app).post('/api/v1/uploads/tus').set(TUS).set('Authorization', `Bearer ${alice}`).set('Upload-Length', '10').set('Content-Type', 'application/offset+octet-stream').send(randomBytes(10));
      expect(tus.status).toBe(429);
      const ietf = await request(world.app).post('/api/v1/uploads').set('Authorization', `Bearer ${alice}`).set('Upload-Complete', '?1').set('Content-Type', 'application/partial-upload').send(randomBytes(10));
      expect(ietf.status).toBe(429);
      expect(await uploads()).toBe(before);
      release();
      expect((await first).status).toBe(204);
    } finally {
      world.api.resumableHooks = undefined;
    }
  });

  it('a HEAD in a read-only element does not turn a full upload into an ingest job', async () => {
    const data = randomBytes(500);
    const url = (await tusCreate(data.length)).headers.location!;
    world.api.resumableHooks = {
      beforeComplete: () => {
        throw new AppError('unavailable', 'simulated outage while making the job');
      },
    };
    try {
      expect((await tusPatch(url, 0, data)).status).toBe(503);
    } finally {
      world.api.resumableHooks = undefined;
    }
    const jobs = await world.api.db.fileJob.count();
    await world.api.db.elementState.create({ data: { mode: 'ro', changedBy: 'test', reason: 'resumable HEAD in ro' } });
    world.api.modes.invalidate();
    const head = await request(world.app).head(url).set(TUS).set('Authorization', `Bearer ${alice}`);
    expect(head.status).toBe(200);
    expect(head.headers['upload-offset']).toBe(String(data.length));
    expect(head.headers['upload-job-id']).toBeUndefined();
    expect(await world.api.db.fileJob.count()).toBe(jobs);
  });
});
