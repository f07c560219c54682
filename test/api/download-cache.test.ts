// The download cache (file rows, kept-open blobs) sees every change at once: a corrupt mark, a deletion, a patch,
// a repaired blob. Its lifetime is lengthened here, so only the invalidation, never expiry, can explain a change seen.
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import request from 'supertest';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { scrubBlobs } from '../../src/shared/domain/blob-scrub.js';
import { binaryParser } from '../helpers/http.js';
import { createWorld, type World } from '../helpers/world.js';

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
/** The bound on seeing a change: the cache's own lifetime is at most this; announcements beat it. */
const BOUND_MS = 1_000;

describe('download cache invalidation', () => {
  let world: World;
  let alice: string;
  let operator: string;

  beforeAll(async () => {
    world = await createWorld({ worker: true, isolatedDatabase: true, env: { APP_MODE: 'edit' } });
    alice = await world.token('user', 'alice');
    operator = await world.token('operator', 'olga');
  });
  beforeEach(() => {
    world.api.servableFiles.ttlMs = 60 * 60_000;
    world.api.servableFiles.beforeFill = undefined;
  });
  afterAll(async () => world?.close());

  async function upload(bytes: Buffer, name = 'f.bin'): Promise<string> {
    const res = await request(world.app).post('/api/v1/files/upload?wait=20').set('Authorization', `Bearer ${alice}`).attach('file', bytes, name);
    expect(res.status).toBe(201);
    return res.body.jobs[0].fileId as string;
  }
  const range = (fileId: string, start: number, end: number) =>
    request(world.app).get(`/api/v1/files/${fileId}`).set('Authorization', `Bearer ${alice}`).set('Range', `bytes=${start}-${end}`).buffer(true).parse(binaryParser);
  const blobFile = (h: string) => path.join(world.config.storagePath, 'blobs', h.slice(0, 2), h.slice(2, 4), h);

  /** Repeats the request until it answers `status`, up to the bound; returns the last answer. */
  async function untilStatus(send: () => Promise<request.Response>, status: number): Promise<request.Response> {
    const deadline = Date.now() + BOUND_MS;
    while (true) {
      const res = await send();
      if (res.status === status || Date.now() > deadline) return res;
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  async function flipByte(h: string, offset: number): Promise<void> {
    const file = blobFile(h);
    await fs.chmod(file, 0o640);
    const handle = await fs.open(file, 'r+');
    const one = Buffer.alloc(1);
    await handle.read(one, 0, 1, offset);
    one[0] = one[0]! ^ 0xff;
    await handle.write(one, 0, 1, offset);
    await handle.close();
    await fs.chmod(file, 0o440);
  }

  it('answers 409 for a cached file once the scrub marks its blob corrupt, and 206 again once it is intact', async () => {
    const bytes = randomBytes(8_000);
    const id = await upload(bytes);
    expect((await range(id, 0, 1023)).status).toBe(206);
    expect(world.api.servableFiles.peek(id)).toBeDefined();

    await flipByte(sha(bytes), 10);
    expect(await scrubBlobs(world.worker!, { budgetMs: 60_000 })).toMatchObject({ corrupt: 1 });
    const refused = await untilStatus(() => range(id, 0, 1023), 409);
    expect(refused.status).toBe(409);
    expect(JSON.parse(refused.body.toString()).code).toBe('corrupt');

    await flipByte(sha(bytes), 10);
    expect(await scrubBlobs(world.worker!, { budgetMs: 60_000 })).toMatchObject({ corrupt: 0 });
    const served = await untilStatus(() => range(id, 0, 1023), 206);
    expect(served.status).toBe(206);
    expect(Buffer.compare(served.body, bytes.subarray(0, 1024))).toBe(0);
  });

  it('answers 404 for a cached file as soon as its deletion is accepted', async () => {
    const id = await upload(randomBytes(3_000));
    expect((await range(id, 0, 99)).status).toBe(206);
    const del = await request(world.app).delete(`/api/v1/files/${id}`).set('Authorization', `Bearer ${operator}`);
    expect(del.status).toBe(202);
    expect((await range(id, 0, 99)).status).toBe(404);
    expect((await request(world.app).head(`/api/v1/files/${id}`).set('Authorization', `Bearer ${alice}`)).status).toBe(404);
  });

  it('does not cache a row read before a deletion that lands while the read is under way', async () => {
    const id = await upload(randomBytes(3_000));
    let release!: () => void;
    let paused!: () => void;
    const atFill = new Promise<void>((r) => (paused = r));
    world.api.servableFiles.beforeFill = async (fileId) => {
      if (fileId !== id) return;
      paused();
      await new Promise<void>((r) => (release = r));
    };
    // The row is read (live) and the request pauses before caching it...
    const first = range(id, 0, 99).then((r) => r);
    await atFill;
    world.api.servableFiles.beforeFill = undefined;
    // ...the file is deleted meanwhile...
    expect((await request(world.app).delete(`/api/v1/files/${id}`).set('Authorization', `Bearer ${operator}`)).status).toBe(202);
    release();
    // ...the overlapping request may still be served, but nothing after the deletion is.
    expect([206, 404]).toContain((await first).status);
    expect((await range(id, 0, 99)).status).toBe(404);
  });

  it('drops a cached file once a patch commits: downloads are served from the patched row', async () => {
    const bytes = randomBytes(5_000);
    const id = await upload(bytes, 'report.pdf');
    expect((await range(id, 0, 99)).status).toBe(206);
    expect(world.api.servableFiles.peek(id)?.metadata.revision).toBe(1);

    const patch = await request(world.app).patch(`/api/v1/files/${id}/metadata`).set('Authorization', `Bearer ${alice}`).send({ description: 'v2', tags: ['x'] });
    expect(patch.status).toBe(200);
    expect(patch.body.revision).toBe(2);
    // The worker announces after its commit: the old entry goes within the bound.
    const deadline = Date.now() + BOUND_MS;
    while (world.api.servableFiles.peek(id) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(world.api.servableFiles.peek(id)).toBeUndefined();

    const res = await range(id, 0, 99);
    expect(res.status).toBe(206);
    expect(res.headers).toMatchObject({ etag: `"${sha(bytes)}"`, 'content-disposition': "attachment; filename*=UTF-8''report.pdf" });
    expect(world.api.servableFiles.peek(id)?.metadata).toMatchObject({ revision: 2, description: 'v2', tags: ['x'] });
  });

  it('serves a repaired blob from its new bytes, not from the handle kept open on the corrupt ones', async () => {
    const bytes = randomBytes(8_000);
    const h = sha(bytes);
    const id = await upload(bytes, 'first.bin');
    // A small range keeps the blob open; the corruption happens in place, under that handle.
    expect(Buffer.compare((await range(id, 0, 1023)).body, bytes.subarray(0, 1024))).toBe(0);
    await flipByte(h, 10);
    expect(await scrubBlobs(world.worker!, { budgetMs: 60_000 })).toMatchObject({ corrupt: 1 });
    expect((await untilStatus(() => range(id, 0, 1023), 409)).status).toBe(409);

    // The same bytes uploaded again replace the corrupt blob (a new file, renamed over the name) and clear the mark.
    const inodeBefore = (await fs.stat(blobFile(h))).ino;
    await upload(bytes, 'again.bin');
    expect((await fs.stat(blobFile(h))).ino).not.toBe(inodeBefore);
    const served = await untilStatus(() => range(id, 0, 1023), 206);
    expect(served.status).toBe(206);
    expect(Buffer.compare(served.body, bytes.subarray(0, 1024))).toBe(0);
  });
});
