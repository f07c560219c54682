// Concurrency and crashes of resumable uploads: two PATCHes to one upload (the loser gets 423/409 and never
// reaches the file), an API process killed mid-PATCH (the next HEAD shows the durable offset, the lock expires,
// no byte lost or duplicated), and expiry removing bytes and rows.
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import http from 'node:http';
import path from 'node:path';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CHECKPOINT_BYTES } from '../../src/shared/domain/resumable-append.js';
import { envFor, freePort, startService } from '../helpers/processes.js';
import { pollUntil } from '../helpers/wait.js';
import { createWorld, type World } from '../helpers/world.js';
import { sha256 } from './resumable-harness.js';

const MiB = 1024 * 1024;
const TUS = { 'Tus-Resumable': '1.0.0' };

describe('resumable upload races and crashes', () => {
  let world: World;
  let alice: string;

  beforeAll(async () => {
    world = await createWorld({ worker: true });
    alice = await world.token('user', 'alice');
  });
  afterAll(async () => world?.close());

  const fileOf = (url: string) => path.join(world.config.stagingPath, 'resumable', `${url.split('/').pop()}.upload`);
  const tusPatch = (base: Parameters<typeof request>[0], url: string, offset: number, body: Buffer) =>
    request(base)
      .patch(url)
      .set(TUS)
      .set('Authorization', `Bearer ${alice}`)
      .set('Upload-Offset', String(offset))
      .set('Content-Type', 'application/offset+octet-stream')
      .send(body);

  for (const dialect of ['tus', 'ietf'] as const) {
    it(`${dialect}: a second PATCH while one streams is refused (${dialect === 'tus' ? 423 : 409}) and none of its bytes reach the file`, async () => {
      const data = randomBytes(2 * MiB);
      const created =
        dialect === 'tus'
          ? await request(world.app).post('/api/v1/uploads/tus').set(TUS).set('Authorization', `Bearer ${alice}`).set('Upload-Length', String(data.length))
          : await request(world.app).post('/api/v1/uploads').set('Authorization', `Bearer ${alice}`).set('Upload-Complete', '?0').set('Upload-Length', String(data.length));
      const url = created.headers.location!;
      const id = url.split('/').pop();
      let release!: () => void;
      let pausedOnce = false;
      let pausedAt!: (offset: number) => void;
      const paused = new Promise<number>((resolve) => (pausedAt = resolve));
      world.api.resumableHooks = {
        afterChunk: async (uploadId, offset) => {
          if (uploadId !== id || pausedOnce) return;
          pausedOnce = true;
          const resume = new Promise<void>((resolve) => (release = resolve));
          pausedAt(offset);
          await resume;
        },
      };
      const patch = (body: Buffer) =>
        dialect === 'tus'
          ? tusPatch(world.app, url, 0, body)
          : request(world.app)
              .patch(url)
              .set('Authorization', `Bearer ${alice}`)
              .set('Upload-Offset', '0')
              .set('Upload-Complete', '?1')
              .set('Content-Type', 'application/partial-upload')
              .send(body);
      try {
        const first = patch(data).then((r) => r);
        const offset = await paused;
        const second = await patch(Buffer.alloc(data.length, 0xee));
        expect(second.status).toBe(dialect === 'tus' ? 423 : 409);
        expect(second.body.code).toBe(dialect === 'tus' ? 'upload_locked' : 'upload_busy');
        // Only the first PATCH's bytes are in the file, exactly as far as it had come.
        const onDisk = await fs.readFile(fileOf(url));
        expect(onDisk.length).toBe(offset);
        expect(onDisk.equals(data.subarray(0, offset))).toBe(true);
        release();
        const done = await first;
        expect(done.status).toBe(dialect === 'tus' ? 204 : 200);
        expect(done.headers['upload-offset']).toBe(String(data.length));
        const job = await world.waitForJob(done.headers['upload-job-id']!, alice);
        expect(job).toMatchObject({ state: 'committed', sha256: sha256(data) });
      } finally {
        world.api.resumableHooks = undefined;
      }
    });
  }

  it('a writer paused past its lease (not noticed yet) cannot record its offset once another request took the upload', async () => {
    const data = randomBytes(2 * MiB);
    const url = (await request(world.app).post('/api/v1/uploads/tus').set(TUS).set('Authorization', `Bearer ${alice}`).set('Upload-Length', String(data.length))).headers.location!;
    const id = url.split('/').pop()!;
    const gates: Array<() => void> = [];
    const pauses: Array<(offset: number) => void> = [];
    const pausedAt = [0, 1].map((i) => new Promise<number>((resolve) => (pauses[i] = resolve)));
    let calls = 0;
    world.api.resumableHooks = {
      // The first PATCH (A) pauses after its first chunk, then the second (B) after its only chunk.
      afterChunk: async (uploadId, offset) => {
        if (uploadId !== id || calls >= 2) return;
        const i = calls++;
        pauses[i]!(offset);
        await new Promise<void>((resolve) => (gates[i] = resolve));
      },
    };
    try {
      const a = tusPatch(world.app, url, 0, data).then((r) => r);
      const aAt = await pausedAt[0]!;
      expect(aAt).toBeGreaterThan(10);
      // A's lease runs out while it is paused (UPLOAD_LOCK_MS 30 s: its renewal has not noticed yet).
      await world.api.redis.del(`${world.config.queuePrefix}:upload-lock:${id}`);
      const b = tusPatch(world.app, url, 0, data.subarray(0, 10)).then((r) => r);
      expect(await pausedAt[1]!).toBe(10);
      // B cut A's unrecorded bytes and wrote 10; A now writes the rest after a hole and must not vouch for it.
      gates[0]!();
      const aDone = await a;
      expect(aDone.status).toBe(423);
      expect(aDone.headers['upload-job-id']).toBeUndefined();
      gates[1]!();
      expect((await b).status).toBe(204);
      const head = await request(world.app).head(url).set(TUS).set('Authorization', `Bearer ${alice}`);
      expect(head.headers['upload-offset']).toBe('10');
      const rest = await tusPatch(world.app, url, 10, data.subarray(10));
      expect(rest.status).toBe(204);
      const job = await world.waitForJob(rest.headers['upload-job-id']!, alice);
      expect(job).toMatchObject({ state: 'committed', sha256: sha256(data) });
    } finally {
      world.api.resumableHooks = undefined;
    }
  });

  it('an API process killed mid-PATCH: HEAD shows the durable offset, its lock expires, no byte is lost or doubled', async () => {
    const port = await freePort();
    const api = await startService('api', envFor(world.config, { PORT: String(port), UPLOAD_LOCK_MS: '1000' }), 'api listening');
    const data = randomBytes(20 * MiB);
    const sent = 10 * MiB;
    try {
      const created = await request(world.app).post('/api/v1/uploads/tus').set(TUS).set('Authorization', `Bearer ${alice}`).set('Upload-Length', String(data.length));
      const url = created.headers.location!;
      // The PATCH announces all 20 MiB but sends 10: the child has passed one checkpoint and holds more unrecorded.
      const req = http.request({ host: '127.0.0.1', port, method: 'PATCH', path: url, headers: { ...TUS, Authorization: `Bearer ${alice}`, 'Upload-Offset': '0', 'Content-Type': 'application/offset+octet-stream', 'Content-Length': String(data.length) } });
      req.on('error', () => undefined);
      req.write(data.subarray(0, sent));
      await pollUntil('the child wrote every byte it was sent', 20_000, async () => (await fs.stat(fileOf(url))).size === sent);
      const head = () => request(world.app).head(url).set(TUS).set('Authorization', `Bearer ${alice}`);
      await pollUntil('a checkpoint was recorded', 20_000, async () => Number((await head()).headers['upload-offset']) >= CHECKPOINT_BYTES);
      api.child.kill('SIGKILL');
      await api.exited;
      req.destroy();

      const durable = Number((await head()).headers['upload-offset']);
      expect(durable).toBeGreaterThanOrEqual(CHECKPOINT_BYTES);
      expect(durable).toBeLessThan(sent);
      // The killed process's lease runs out by itself (UPLOAD_LOCK_MS); until then a resume is told 423.
      let resumed!: request.Response;
      await pollUntil('the dead lock expired', 20_000, async () => (resumed = await tusPatch(world.app, url, durable, data.subarray(durable))).status !== 423);
      expect(resumed.status).toBe(204);
      const job = await world.waitForJob(resumed.headers['upload-job-id']!, alice);
      expect(job).toMatchObject({ state: 'committed', size: data.length, sha256: sha256(data) });
    } finally {
      if (api.child.exitCode === null && api.child.signalCode === null) api.child.kill('SIGKILL');
    }
  }, 90_000);
});

describe('resumable upload lease', () => {
  it('is renewed while a PATCH streams: past UPLOAD_LOCK_MS a second PATCH is still refused', async () => {
    const world = await createWorld({ env: { UPLOAD_LOCK_MS: '500' } });
    try {
      const alice = await world.token('user', 'alice');
      const data = randomBytes(1024 * 1024);
      const url = (await request(world.app).post('/api/v1/uploads/tus').set(TUS).set('Authorization', `Bearer ${alice}`).set('Upload-Length', String(data.length))).headers.location!;
      const patch = (body: Buffer) =>
        request(world.app).patch(url).set(TUS).set('Authorization', `Bearer ${alice}`).set('Upload-Offset', '0').set('Content-Type', 'application/offset+octet-stream').send(body);
      let release!: () => void;
      let pausedOnce = false;
      let entered!: () => void;
      const paused = new Promise<void>((resolve) => (entered = resolve));
      world.api.resumableHooks = {
        afterChunk: async () => {
          if (pausedOnce) return;
          pausedOnce = true;
          entered();
          await new Promise<void>((resolve) => (release = resolve));
        },
      };
      const first = patch(data).then((r) => r);
      await paused;
      // Three lease lengths later the holder is still alive and renewing: the lock must still be held.
      const redisKey = `${world.config.queuePrefix}:upload-lock:${url.split('/').pop()}`;
      const pausedAt = Date.now();
      let lapses = 0;
      await pollUntil('the lock to outlive three lease lengths', 10_000, async () => {
        if ((await world.api.redis.pttl(redisKey)) <= 0) lapses++;
        return Date.now() - pausedAt > 1_500;
      });
      expect(lapses).toBe(0);
      expect((await patch(randomBytes(10))).status).toBe(423);
      release();
      expect((await first).status).toBe(204);
      // Released at the end: nothing holds it now.
      expect(await world.api.redis.exists(redisKey)).toBe(0);
    } finally {
      world.api.resumableHooks = undefined;
      await world.close();
    }
  });
});

describe('resumable upload expiry', () => {
  it('removes an expired upload’s bytes and row (BullMQ job scheduler); the client then gets 404', async () => {
    // 0.0005 h = 1.8 s; the job scheduler runs every second.
    const world = await createWorld({ worker: true, env: { UPLOAD_EXPIRY_HOURS: '0.0005', UPLOAD_EXPIRY_INTERVAL_SECONDS: '1' } });
    try {
      const alice = await world.token('user', 'alice');
      const created = await request(world.app).post('/api/v1/uploads/tus').set(TUS).set('Authorization', `Bearer ${alice}`).set('Upload-Length', '1000');
      const url = created.headers.location!;
      const id = url.split('/').pop()!;
      const patch = await request(world.app)
        .patch(url)
        .set(TUS)
        .set('Authorization', `Bearer ${alice}`)
        .set('Upload-Offset', '0')
        .set('Content-Type', 'application/offset+octet-stream')
        .send(randomBytes(500));
      expect(patch.status).toBe(204);
      const file = path.join(world.config.stagingPath, 'resumable', `${id}.upload`);
      expect((await fs.stat(file)).size).toBe(500);
      await pollUntil('the expiry job removed the upload', 20_000, async () => (await world.api.db.resumableUpload.findUnique({ where: { id } })) === null);
      await expect(fs.stat(file)).rejects.toThrow(/ENOENT/);
      expect((await request(world.app).head(url).set(TUS).set('Authorization', `Bearer ${alice}`)).status).toBe(404);
    } finally {
      await world.close();
    }
  }, 60_000);
});
