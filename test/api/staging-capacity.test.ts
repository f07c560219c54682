// STORAGE_MAX_BYTES counts more than committed blobs: bytes still arriving and staged files whose jobs are unfinished.
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serve, type Served } from '../helpers/serve.js';
import { startUpload } from '../helpers/streamed-upload.js';
import { createWorld, type World } from '../helpers/world.js';
import { until } from '../helpers/wait.js';

const KiB = 1024;
const MiB = 1024 * KiB;

/** An upload sent chunked (no Content-Length) whose end the test decides. */
function openUpload(port: number, token: string, fileName: string) {
  return startUpload(port, token, { boundary: `B${randomBytes(6).toString('hex')}`, fileName });
}

describe('STORAGE_MAX_BYTES and bytes not yet committed', () => {
  let world: World;
  let token: string;
  let api: Served;
  let port: number;

  beforeAll(async () => {
    // No worker: staged files stay staged, their jobs queued. Own database: the blob sum is element-wide.
    world = await createWorld({
      isolatedDatabase: true,
      env: { STORAGE_MAX_BYTES: String(1.5 * MiB), CAPACITY_FULL_PERCENT: '0', CAPACITY_FULL_BYTES: '0' },
    });
    token = await world.token('user', 'alice');
    api = await serve(world.app);
    port = api.port;
  });
  afterAll(async () => {
    await api?.close();
    await world?.close();
  });

  const upload = (bytes: Buffer) => request(world.app).post('/api/v1/files/upload').set('Authorization', `Bearer ${token}`).attach('file', bytes, 'f.bin');
  const stagedBytes = async () => {
    let n = 0;
    for (const f of await world.stagedFiles()) n += (await fs.stat(path.join(world.config.stagingPath, f))).size;
    return n;
  };

  it('counts the bytes of an upload still arriving against another upload', async () => {
    const first = openUpload(port, token, 'arriving.bin');
    first.write(randomBytes(MiB));
    // 30 s: it took more than the default 10 once, with a 10,000,000-row index build sharing the two cores.
    await until('the first upload to stage 1 MiB', async () => (await stagedBytes()) >= MiB, 30_000);

    const second = await upload(randomBytes(MiB));
    expect(second.status, second.text).toBe(507);
    expect(second.body.code).toBe('insufficient_storage');

    // A chunked upload is cut while staging, its remains removed.
    const chunked = openUpload(port, token, 'chunked.bin');
    chunked.write(randomBytes(MiB));
    chunked.finish();
    expect((await chunked.answer).status).toBe(507);

    first.finish();
    expect((await first.answer).status).toBe(202);
    expect(await stagedBytes()).toBe(MiB);
  });

  it('counts staged files whose jobs have not committed, and gives back what refused uploads took', async () => {
    const over = await upload(randomBytes(MiB));
    expect(over.status, over.text).toBe(507);
    const fits = await upload(randomBytes(256 * KiB));
    expect(fits.status, fits.text).toBe(202);
    expect(await world.api.db.fileJob.count({ where: { state: 'queued' } })).toBe(2);
  });
});
