// GET /api/v1/info and STORAGE_MAX_BYTES: capacity is element-wide, so this world has its own database.
import { randomBytes } from 'node:crypto';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { capacityStatus } from '../../src/shared/domain/capacity.js';
import { loadConfig } from '../../src/shared/config.js';
import { serve } from '../helpers/serve.js';
import { startUpload } from '../helpers/streamed-upload.js';
import { until } from '../helpers/wait.js';
import { createWorld, type World } from '../helpers/world.js';

describe('element info and capacity', () => {
  let world: World;
  let user: string;

  beforeAll(async () => {
    world = await createWorld({
      worker: true,
      isolatedDatabase: true,
      // No scrub, lifecycle, upload expiry, audit checkpoint or WAL compaction schedule: each next run would show as a
      // delayed job in the queue depth asserted below.
      env: {
        SCRUB_INTERVAL_HOURS: '0', LIFECYCLE_INTERVAL_SECONDS: '0', UPLOAD_EXPIRY_INTERVAL_SECONDS: '0',
        AUDIT_CHECKPOINT_INTERVAL_MINUTES: '0', WAL_COMPACTION_INTERVAL_HOURS: '0',
        STORAGE_MAX_BYTES: '10000', CAPACITY_WARNING_BYTES: '0', CAPACITY_CRITICAL_BYTES: '0', CAPACITY_FULL_BYTES: '0',
      },
    });
    user = await world.token('readonly', 'reader');
  });
  afterAll(async () => world?.close());

  const info = async () => (await request(world.app).get('/api/v1/info').set('Authorization', `Bearer ${user}`)).body;
  const upload = async (size: number) => {
    const token = await world.token('user', 'alice');
    return request(world.app).post('/api/v1/files/upload?wait=20').set('Authorization', `Bearer ${token}`).attach('file', randomBytes(size), 'c.bin');
  };

  it('reports element, mode, version, capacity, files and queue', async () => {
    expect(await info()).toEqual({
      elementId: 'se-01',
      mode: 'edit',
      version: expect.stringMatching(/^\d+\.\d+\.\d+/),
      capacity: { totalBytes: 10000, usedBytes: 0, freeBytes: 10000, status: 'ok' },
      location: null,
      priority: 100,
      files: 0,
      queue: { waiting: 0, active: 0, failed: 0, delayed: 0 },
    });
  });

  it('counts stored bytes and files, and refuses uploads past STORAGE_MAX_BYTES with 507', async () => {
    expect((await upload(6000)).status).toBe(201);
    // GET /info reads capacity through a cache of up to a second: wait until it has taken the stored bytes in.
    await until('info to count the stored bytes', async () => (await info()).capacity.usedBytes > 0);
    const after = await info();
    expect(after.capacity).toMatchObject({ usedBytes: 6000, freeBytes: 4000 });
    expect(after.files).toBe(1);

    // Content-Length tells: refused before a byte is staged.
    const early = await upload(5000);
    expect(early.status).toBe(507);
    expect(early.body.code).toBe('insufficient_storage');
    expect(await world.stagedFiles()).toEqual([]);

    // Chunked (no Content-Length): cut off while staging, remains removed.
    const token = await world.token('user', 'alice');
    const api = await serve(world.app);
    // No Content-Length: Node sends the body chunked, so only staging can tell the size.
    const big = startUpload(api.port, token, { boundary: 'CAPBOUNDARY', fileName: 'big.bin' });
    big.finish(randomBytes(5000));
    const chunked = await big.answer;
    await api.close();
    expect(chunked.status).toBe(507);
    expect(chunked.body.code).toBe('insufficient_storage');
    expect(await world.stagedFiles()).toEqual([]);

    expect((await upload(3000)).status).toBe(201);
  });

  it('derives the status from the thresholds of SPEC §5', () => {
    const t = loadConfig({}).capacityThresholds;
    const tb = 1e12;
    expect(capacityStatus(tb, 0.5 * tb, t)).toBe('ok');
    expect(capacityStatus(tb, 0.1 * tb, t)).toBe('warning');
    expect(capacityStatus(tb, 0.05 * tb, t)).toBe('critical');
    expect(capacityStatus(tb, 0.01 * tb, t)).toBe('full');
    // On a small disk the absolute floor (150 GB) decides.
    expect(capacityStatus(200e9, 140e9, t)).toBe('warning');
  });
});
