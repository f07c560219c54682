// End-to-end ingest through the HTTP API with a real worker: upload, poll, download, dedup, checksum, WAL.
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { binaryParser } from '../helpers/http.js';
import { toJobView } from '../../src/shared/domain/job-view.js';
import { createWorld, type World } from '../helpers/world.js';

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

describe('ingest', () => {
  let world: World;
  let user: string;

  beforeAll(async () => {
    world = await createWorld({ worker: true });
    user = await world.token('user', 'alice', { name: 'Alice A.' });
  });
  afterAll(async () => world?.close());

  const upload = (body: Buffer, name: string, fields: Record<string, string> = {}, token = user) => {
    let req = request(world.app).post('/api/v1/files/upload').set('Authorization', `Bearer ${token}`);
    for (const [k, v] of Object.entries(fields)) req = req.field(k, v);
    return req.attach('file', body, name);
  };

  it('accepts an upload, commits it, and serves the same bytes back', async () => {
    const bytes = randomBytes(300_000);
    const res = await upload(bytes, 'report.pdf', { description: 'Quarterly report', version: '1.0.0', tags: 'finance,q3', metadata: '{"dept":"acc"}' });
    expect(res.status).toBe(202);
    expect(res.headers.location).toBe(`/api/v1/jobs/${res.body.jobs[0].id}`);
    expect(res.body.jobs[0]).toMatchObject({ state: 'queued', fileName: 'report.pdf', size: bytes.length, kind: 'ingest' });

    const job = await world.waitForJob(res.body.jobs[0].id, user);
    expect(job).toMatchObject({ state: 'committed', progress: 100, sha256: sha(bytes), attempts: 1 });
    expect(job.fileId).toMatch(/^[0-9a-f-]{36}$/);

    const meta = await request(world.app).get(`/api/v1/files/${job.fileId}/metadata`).set('Authorization', `Bearer ${user}`);
    expect(meta.status).toBe(200);
    expect(meta.body).toMatchObject({
      id: job.fileId,
      fileName: 'report.pdf',
      size: bytes.length,
      sha256: sha(bytes),
      description: 'Quarterly report',
      version: '1.0.0',
      tags: ['finance', 'q3'],
      metadata: { dept: 'acc' },
      owner: 'alice',
      ownerName: 'Alice A.',
      revision: 1,
      elementId: 'se-01',
    });

    const dl = await request(world.app)
      .get(`/api/v1/files/${job.fileId}`)
      .set('Authorization', `Bearer ${user}`)
      .buffer(true)
      .parse(binaryParser);
    expect(dl.status).toBe(200);
    expect(Buffer.compare(dl.body as Buffer, bytes)).toBe(0);
    expect(dl.headers.etag).toBe(`"${sha(bytes)}"`);
    expect(dl.headers['content-disposition']).toBe("attachment; filename*=UTF-8''report.pdf");

    // The blob and its attr.json are where SPEC §7 puts them; staging is empty again.
    const h = sha(bytes);
    await expect(fs.stat(path.join(world.config.storagePath, 'blobs', h.slice(0, 2), h.slice(2, 4), h))).resolves.toBeTruthy();
    const row = await world.api.db.file.findUniqueOrThrow({ where: { id: String(job.fileId) } });
    const attr = JSON.parse(await fs.readFile(path.join(world.config.storagePath, row.attrPath), 'utf8'));
    expect(row.attrPath).toMatch(/^files\/\d{4}\/\d{2}\/\d{2}\/\d{2}\/[0-9a-f-]{36}\.attr\.json$/);
    expect(attr).toMatchObject({ schemaVersion: 1, id: job.fileId, sha256: h, size: bytes.length, elementId: 'se-01', tags: ['finance', 'q3'] });
    expect(await world.stagedFiles()).toEqual([]);
  });

  it('accepts a 0-byte file', async () => {
    const res = await upload(Buffer.alloc(0), 'empty.txt');
    expect(res.status).toBe(202);
    const job = await world.waitForJob(res.body.jobs[0].id, user);
    // The shared test database may hold the empty blob already (other files store empty uploads): then it is a duplicate.
    expect(job).toMatchObject({ size: 0, sha256: sha(Buffer.alloc(0)) });
    expect(['committed', 'duplicate']).toContain(job.state);
    const dl = await request(world.app).get(`/api/v1/files/${job.fileId}`).set('Authorization', `Bearer ${user}`);
    expect(dl.status).toBe(200);
    expect(dl.headers['content-length']).toBe('0');
  });

  it('stores identical bytes once: one blob, two files, refCount 2, the second job is a duplicate', async () => {
    const bytes = randomBytes(50_000);
    const first = await upload(bytes, 'a.bin');
    const a = await world.waitForJob(first.body.jobs[0].id, user);
    const second = await upload(bytes, 'b.bin');
    const b = await world.waitForJob(second.body.jobs[0].id, user);
    expect(a.state).toBe('committed');
    expect(b).toMatchObject({ state: 'duplicate', duplicateOf: a.fileId });
    expect(b.fileId).not.toBe(a.fileId);
    const blob = await world.api.db.blob.findUniqueOrThrow({ where: { sha256: sha(bytes) } });
    expect(blob.refCount).toBe(2);
    expect(await world.api.db.file.count({ where: { sha256: sha(bytes) } })).toBe(2);
  });

  it('fails a job whose bytes do not match the declared sha256, with nothing visible and no retry', async () => {
    const bytes = randomBytes(10_000);
    const res = await upload(bytes, 'bad.bin', { sha256: sha(Buffer.from('something else')) });
    expect(res.status).toBe(202);
    const job = await world.waitForJob(res.body.jobs[0].id, user);
    expect(job).toMatchObject({ state: 'failed', attempts: 1, error: { code: 'checksum_mismatch' } });
    expect(job.fileId).toBeUndefined();
    expect(await world.api.db.file.count({ where: { sha256: sha(bytes) } })).toBe(0);
    expect(await world.stagedFiles()).toEqual([]);
    const wal = await world.api.db.walEntry.findMany({ where: { jobId: String(job.id) } });
    expect(wal.map((w) => w.status)).toEqual([]);
  });

  it('commits a matching declared sha256 (upper-case hex accepted)', async () => {
    const bytes = randomBytes(10_000);
    const res = await upload(bytes, 'good.bin', { sha256: sha(bytes).toUpperCase() });
    const job = await world.waitForJob(res.body.jobs[0].id, user);
    expect(job).toMatchObject({ state: 'committed', sha256: sha(bytes) });
  });

  it('checks each file of a multi-file upload against its own digest from a comma-separated sha256 list', async () => {
    const [a, b, c] = [randomBytes(3_000), randomBytes(4_000), randomBytes(5_000)];
    const res = await request(world.app)
      .post('/api/v1/files/upload')
      .set('Authorization', `Bearer ${user}`)
      .field('sha256', [sha(a), sha(Buffer.from('not b')), sha(c)].join(','))
      .attach('file', a, 'a.bin')
      .attach('file', b, 'b.bin')
      .attach('file', c, 'c.bin');
    expect(res.status).toBe(202);
    const jobs = await Promise.all(res.body.jobs.map((j: { id: string }) => world.waitForJob(j.id, user)));
    expect(jobs.map((j) => [j.fileName, j.state])).toEqual([['a.bin', 'committed'], ['b.bin', 'failed'], ['c.bin', 'committed']]);
    expect(jobs[1]).toMatchObject({ error: { code: 'checksum_mismatch' } });
  });

  it('refuses a sha256 list whose length is not the number of files, staging nothing', async () => {
    const res = await request(world.app)
      .post('/api/v1/files/upload')
      .set('Authorization', `Bearer ${user}`)
      .field('sha256', sha(Buffer.from('x')))
      .attach('file', randomBytes(100), 'one.bin')
      .attach('file', randomBytes(100), 'two.bin');
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ code: 'validation_failed', parameter: 'sha256' });
    expect(await world.stagedFiles()).toEqual([]);
  });

  it('writes a WAL entry pending before the blob and committed with the metadata', async () => {
    const bytes = randomBytes(20_000);
    const res = await upload(bytes, 'wal.bin');
    const job = await world.waitForJob(res.body.jobs[0].id, user);
    const wal = await world.api.db.walEntry.findMany({ where: { jobId: String(job.id) } });
    expect(wal).toHaveLength(1);
    expect(wal[0]).toMatchObject({ operation: 'file_create', status: 'committed', fileId: job.fileId, actor: 'alice' });
    expect(wal[0]!.completedAt!.getTime()).toBeGreaterThanOrEqual(wal[0]!.startedAt.getTime());
    expect(wal[0]!.payload).toMatchObject({ sha256: sha(bytes), size: bytes.length });
  });

  it('uploads several files in one request, one job each', async () => {
    const res = await request(world.app)
      .post('/api/v1/files/upload')
      .set('Authorization', `Bearer ${user}`)
      .attach('file', Buffer.from('one'), 'one.txt')
      .attach('file', Buffer.from('two'), 'two.txt');
    expect(res.status).toBe(202);
    expect(res.body.jobs.map((j: { fileName: string }) => j.fileName)).toEqual(['one.txt', 'two.txt']);
    const ids = res.body.jobs.map((j: { id: string }) => j.id);
    for (const id of ids) await world.waitForJob(id, user);
    const batch = await request(world.app).get(`/api/v1/jobs?ids=${ids.join(',')},00000000-0000-4000-8000-000000000000`).set('Authorization', `Bearer ${user}`);
    expect(batch.status).toBe(200);
    expect(batch.body.jobs.map((j: { id: string; state: string }) => [j.id, j.state])).toEqual(ids.map((id: string) => [id, 'committed']));
    // The status routes read a lean row with timestamps formatted by PostgreSQL: the same view as the full row.
    const rows = await world.api.db.fileJob.findMany({ where: { id: { in: ids } } });
    for (const view of batch.body.jobs) {
      const row = rows.find((r) => r.id === view.id)!;
      expect(view).toEqual(toJobView(row));
      expect((await request(world.app).get(`/api/v1/jobs/${view.id}`).set('Authorization', `Bearer ${user}`)).body).toEqual(view);
    }
  });

  it('with wait= answers 201 and the file once the job is done', async () => {
    const bytes = randomBytes(5_000);
    const res = await upload(bytes, 'waited.txt').query({ wait: '20' });
    expect(res.status).toBe(201);
    expect(res.body.jobs[0]).toMatchObject({ state: 'committed', file: { fileName: 'waited.txt', sha256: sha(bytes), size: 5_000 } });
  });

  it('replays the original jobs for a repeated Idempotency-Key instead of creating new ones', async () => {
    const bytes = randomBytes(4_000);
    const key = `batch-${randomBytes(4).toString('hex')}`;
    const first = await upload(bytes, 'idem.bin').set('Idempotency-Key', key);
    expect(first.status).toBe(202);
    await world.waitForJob(first.body.jobs[0].id, user);
    const again = await upload(bytes, 'idem.bin').set('Idempotency-Key', key);
    expect(again.status).toBe(202);
    expect(again.headers['idempotent-replayed']).toBe('true');
    expect(again.body.jobs.map((j: { id: string }) => j.id)).toEqual(first.body.jobs.map((j: { id: string }) => j.id));
    expect(again.body.jobs[0].state).toBe('committed');
    expect(await world.api.db.file.count({ where: { sha256: sha(bytes) } })).toBe(1);
    expect(await world.stagedFiles()).toEqual([]);
    // Another principal with the same key gets jobs of its own.
    const bob = await world.token('user', 'bob');
    const other = await upload(bytes, 'idem.bin', {}, bob).set('Idempotency-Key', key);
    expect(other.body.jobs[0].id).not.toBe(first.body.jobs[0].id);
  });

  it('keeps a client-chosen fileId, and answers 409 conflict when that id exists', async () => {
    const fileId = '7c1e4a52-3f0b-4a8e-9d6a-2b5f1c9e8d70';
    const res = await upload(Buffer.from('moved file'), 'moved.txt', { fileId });
    const job = await world.waitForJob(res.body.jobs[0].id, user);
    expect(job).toMatchObject({ state: 'committed', fileId });
    const again = await upload(Buffer.from('other'), 'other.txt', { fileId });
    expect(again.status).toBe(409);
    expect(again.body.code).toBe('conflict');
    expect(await world.stagedFiles()).toEqual([]);
  });

  it('hides other principals\' jobs (404) but shows them to operators', async () => {
    const res = await upload(Buffer.from('private'), 'p.txt');
    const bob = await world.token('user', 'bob');
    const op = await world.token('operator', 'olga');
    const asBob = await request(world.app).get(`/api/v1/jobs/${res.body.jobs[0].id}`).set('Authorization', `Bearer ${bob}`);
    expect(asBob.status).toBe(404);
    const asOp = await request(world.app).get(`/api/v1/jobs/${res.body.jobs[0].id}`).set('Authorization', `Bearer ${op}`);
    expect(asOp.status).toBe(200);
  });
});
