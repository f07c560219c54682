// A long append makes its bytes durable every CHECKPOINT_BYTES while the next bytes keep arriving: a checkpoint's
// sync and offset record run beside the receipt (one at a time), never ahead of the bytes they vouch for.
import { randomBytes } from 'node:crypto';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CHECKPOINT_BYTES } from '../../src/shared/domain/resumable-append.js';
import { until } from '../helpers/wait.js';
import { createWorld, type World } from '../helpers/world.js';
import { sha256 } from './resumable-harness.js';

const TUS = { 'Tus-Resumable': '1.0.0' };

describe('resumable append checkpoints', () => {
  let world: World;
  let alice: string;

  beforeAll(async () => {
    world = await createWorld({ worker: true });
    alice = await world.token('user', 'alice');
  });
  afterAll(async () => world?.close());

  it('reads on while a checkpoint syncs, records its offset only once synced, and commits every byte', async () => {
    const data = randomBytes(2 * CHECKPOINT_BYTES + 12_345);
    const created = await request(world.app)
      .post('/api/v1/uploads/tus')
      .set(TUS)
      .set('Authorization', `Bearer ${alice}`)
      .set('Upload-Length', String(data.length))
      .set('Upload-Metadata', `filename ${Buffer.from('checkpoints.bin').toString('base64')},sha256 ${Buffer.from(sha256(data)).toString('base64')}`);
    expect(created.status).toBe(201);
    const url = created.headers.location!;
    const id = url.split('/').pop()!;
    let received = 0;
    let heldAt: number | undefined;
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    world.api.resumableHooks = {
      afterChunk: (uploadId, offset) => {
        if (uploadId === id) received = offset;
      },
      beforeCheckpointSync: async (uploadId, offset) => {
        if (uploadId !== id || heldAt !== undefined) return;
        heldAt = offset;
        await held;
      },
    };
    try {
      const patch = request(world.app)
        .patch(url)
        .set(TUS)
        .set('Authorization', `Bearer ${alice}`)
        .set('Upload-Offset', '0')
        .set('Content-Type', 'application/offset+octet-stream')
        .send(data)
        .then((r) => r);
      // The first checkpoint is held before its sync, and the body still flows past it.
      await until('the append to read past the held checkpoint', () => heldAt !== undefined && received > heldAt);
      expect(heldAt).toBeGreaterThanOrEqual(CHECKPOINT_BYTES);
      // Nothing is recorded beyond what is durable: the row still says 0.
      expect(Number((await world.api.db.resumableUpload.findUniqueOrThrow({ where: { id } })).offset)).toBe(0);
      release();
      const res = await patch;
      expect(res.status).toBe(204);
      expect(res.headers['upload-offset']).toBe(String(data.length));
      const jobId = (await world.api.db.resumableUpload.findUniqueOrThrow({ where: { id } })).jobId!;
      const job = await world.waitForJob(jobId, alice, 60_000);
      expect(job).toMatchObject({ state: 'committed', sha256: sha256(data), size: data.length });
    } finally {
      release();
      world.api.resumableHooks = undefined;
    }
  }, 60_000);
});
