// Metadata patches, deletion with delayed blob GC, and the exists check, through the API with a real worker.
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { until } from '../helpers/wait.js';
import { createWorld, type World } from '../helpers/world.js';

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

describe('metadata patches, deletion and exists', () => {
  let world: World;
  let alice: string;
  let bob: string;
  let operator: string;

  beforeAll(async () => {
    world = await createWorld({ worker: true, env: { GC_GRACE_SECONDS: '1' } });
    alice = await world.token('user', 'alice');
    bob = await world.token('user', 'bob');
    operator = await world.token('operator', 'olga');
  });
  afterAll(async () => world?.close());

  async function store(bytes: Buffer, name = 'f.bin', token = alice): Promise<string> {
    const res = await request(world.app).post('/api/v1/files/upload?wait=20').set('Authorization', `Bearer ${token}`).field('tags', 'draft').attach('file', bytes, name);
    expect(res.status).toBe(201);
    return res.body.jobs[0].fileId as string;
  }
  const patch = (fileId: string, body: object, token = alice) =>
    request(world.app).patch(`/api/v1/files/${fileId}/metadata`).set('Authorization', `Bearer ${token}`).send(body);
  /**
   * Waits until the GC sweep has run past the grace period of every blob orphaned so far: it has removed a
   * sentinel blob orphaned after them. Whatever it would wrongly have removed by then, it has had its chance to.
   */
  async function gcSweptPastNow(): Promise<void> {
    const bytes = randomBytes(1_000);
    const sentinel = await store(bytes, 'sentinel.bin');
    const del = await request(world.app).delete(`/api/v1/files/${sentinel}`).set('Authorization', `Bearer ${operator}`);
    await world.waitForJob(del.body.id, operator);
    await until('the GC to remove the sentinel blob', async () => (await world.api.db.blob.count({ where: { sha256: sha(bytes) } })) === 0, 15_000, 100);
  }
  const readAttr = async (fileId: string) => {
    const row = await world.api.db.file.findUniqueOrThrow({ where: { id: fileId } });
    return JSON.parse(await fs.readFile(path.join(world.config.storagePath, row.attrPath), 'utf8'));
  };

  it('patches metadata: revision + 1, attr.json rewritten, search vector updated, WAL entry', async () => {
    const fileId = await store(randomBytes(500), 'contract.pdf');
    const res = await patch(fileId, { description: 'Signed lease agreement', tags: ['legal', 'lease'], metadata: { year: 2026 }, version: '2.0' });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ id: fileId, description: 'Signed lease agreement', tags: ['legal', 'lease'], metadata: { year: 2026 }, version: '2.0', revision: 2 });
    expect(res.headers.etag).toBe('"2"');
    expect(await readAttr(fileId)).toMatchObject({ revision: 2, description: 'Signed lease agreement', tags: ['legal', 'lease'] });
    const [hit] = await world.api.db.$queryRaw<Array<{ id: string }>>`
      SELECT id::text FROM files WHERE id = ${fileId}::uuid AND search_vector @@ plainto_tsquery('simple', 'lease')`;
    expect(hit?.id).toBe(fileId);
    const wal = await world.api.db.walEntry.findMany({ where: { fileId, operation: 'file_update' } });
    expect(wal.map((w) => w.status)).toEqual(['committed']);
    // A field left out stays; null clears.
    const again = await patch(fileId, { description: null });
    expect(again.body).toMatchObject({ description: null, tags: ['legal', 'lease'], revision: 3 });
  });

  it('answers 412 to a stale If-Match and changes nothing', async () => {
    const fileId = await store(randomBytes(300));
    const ok = await patch(fileId, { version: 'v2' }).set('If-Match', '"1"');
    expect(ok.status).toBe(200);
    const stale = await patch(fileId, { version: 'v3' }).set('If-Match', '1');
    expect(stale.status).toBe(412);
    expect(stale.body.code).toBe('precondition_failed');
    expect(await readAttr(fileId)).toMatchObject({ version: 'v2', revision: 2 });
  });

  it('lets owners, operators and admins patch, and no one else', async () => {
    const fileId = await store(randomBytes(200));
    expect((await patch(fileId, { description: 'bob was here' }, bob)).status).toBe(403);
    expect((await patch(fileId, { description: 'by the operator' }, operator)).status).toBe(200);
    expect((await patch(fileId, { description: 'x' }, await world.token('readonly', 'rita'))).status).toBe(403);
  });

  it('validates patches, naming the field', async () => {
    const fileId = await store(randomBytes(100));
    const cases: Array<[object, string]> = [
      [{ description: 'x'.repeat(1001) }, 'description'],
      [{ tags: 'a,b' }, 'tags'],
      [{ owner: 'eve' }, 'owner'],
    ];
    for (const [body, parameter] of cases) {
      const res = await patch(fileId, body);
      expect(res.status, parameter).toBe(400);
      expect(res.body.parameter).toBe(parameter);
    }
    expect((await patch(fileId, {})).status).toBe(400);
    expect((await patch('00000000-0000-4000-8000-000000000000', { description: 'x' })).status).toBe(404);
  });

  it('deletes one of two files sharing a blob and keeps the blob', async () => {
    const bytes = randomBytes(4_000);
    const a = await store(bytes, 'a.bin');
    const b = await store(bytes, 'b.bin');
    expect((await request(world.app).delete(`/api/v1/files/${a}`).set('Authorization', `Bearer ${alice}`)).status).toBe(403);
    const del = await request(world.app).delete(`/api/v1/files/${a}`).set('Authorization', `Bearer ${operator}`);
    expect(del.status).toBe(202);
    expect(del.body).toMatchObject({ kind: 'delete', fileId: a, state: 'queued' });
    // Gone for readers at once, even before the worker ran.
    expect((await request(world.app).get(`/api/v1/files/${a}/metadata`).set('Authorization', `Bearer ${alice}`)).status).toBe(404);
    expect((await request(world.app).delete(`/api/v1/files/${a}`).set('Authorization', `Bearer ${operator}`)).status).toBe(404);
    const job = await world.waitForJob(del.body.id, operator);
    expect(job.state).toBe('committed');
    expect((await world.api.db.blob.findUniqueOrThrow({ where: { sha256: sha(bytes) } })).refCount).toBe(1);
    expect(await readAttr(a)).toMatchObject({ id: a, deletedAt: expect.any(String) });
    await gcSweptPastNow();
    const dl = await request(world.app).get(`/api/v1/files/${b}`).set('Authorization', `Bearer ${alice}`);
    expect(dl.status).toBe(200);
    expect(await world.api.db.walEntry.count({ where: { fileId: a, operation: 'file_delete', status: 'committed' } })).toBe(1);
  });

  it('removes the blob after the grace period once its last file is deleted', async () => {
    const bytes = randomBytes(3_000);
    const h = sha(bytes);
    const fileId = await store(bytes);
    const blobPath = path.join(world.config.storagePath, 'blobs', h.slice(0, 2), h.slice(2, 4), h);
    await expect(fs.stat(blobPath)).resolves.toBeTruthy();
    const del = await request(world.app).delete(`/api/v1/files/${fileId}`).set('Authorization', `Bearer ${operator}`);
    await world.waitForJob(del.body.id, operator);
    const orphan = await world.api.db.blob.findUniqueOrThrow({ where: { sha256: h } });
    expect(orphan.refCount).toBe(0);
    expect(orphan.orphanedAt).not.toBeNull();
    await until('the GC to remove the blob', async () => (await world.api.db.blob.count({ where: { sha256: h } })) === 0, 15_000, 100);
    expect(await world.api.db.blob.count({ where: { sha256: h } })).toBe(0);
    await expect(fs.stat(blobPath)).rejects.toMatchObject({ code: 'ENOENT' });
    expect(await world.api.db.walEntry.count({ where: { operation: 'blob_gc', status: 'committed', payload: { path: ['sha256'], equals: h } } })).toBe(1);
  });

  it('revives an orphaned blob when the same bytes are uploaded again within the grace period', async () => {
    const bytes = randomBytes(2_000);
    const h = sha(bytes);
    const first = await store(bytes);
    const del = await request(world.app).delete(`/api/v1/files/${first}`).set('Authorization', `Bearer ${operator}`);
    await world.waitForJob(del.body.id, operator);
    const second = await store(bytes);
    await gcSweptPastNow();
    const blob = await world.api.db.blob.findUniqueOrThrow({ where: { sha256: h } });
    expect(blob).toMatchObject({ refCount: 1, orphanedAt: null });
    const dl = await request(world.app).get(`/api/v1/files/${second}`).set('Authorization', `Bearer ${alice}`);
    expect(dl.status).toBe(200);
  });

  it('tells which digests are stored', async () => {
    const bytes = randomBytes(700);
    await store(bytes);
    const unknown = sha(Buffer.from('never uploaded'));
    const res = await request(world.app).post('/api/v1/files/exists').set('Authorization', `Bearer ${await world.token('readonly', 'r')}`).send({ sha256: [sha(bytes).toUpperCase(), unknown] });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ present: [sha(bytes)], missing: [unknown] });
    const tooMany = await request(world.app).post('/api/v1/files/exists').set('Authorization', `Bearer ${alice}`).send({ sha256: Array.from({ length: 1001 }, () => unknown) });
    expect(tooMany.status).toBe(400);
  });
});
