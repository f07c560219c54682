// tus 1.0 and the IETF draft on the wire: creation, offsets, completion into an ingest job, termination, owners,
// limits (MAX_UPLOAD_BYTES, open uploads, capacity, mode) and the problem types of mismatches.
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AppError } from '../../src/shared/errors.js';
import { createWorld, type World } from '../helpers/world.js';
import { sha256 } from './resumable-harness.js';

const b64 = (s: string) => Buffer.from(s).toString('base64');
const TUS = { 'Tus-Resumable': '1.0.0' };

describe('resumable upload protocols', () => {
  let world: World;
  let alice: string;
  let bob: string;

  beforeAll(async () => {
    world = await createWorld({ worker: true, env: { MAX_UPLOAD_BYTES: String(4 * 1024 * 1024), MAX_OPEN_UPLOADS_PER_PRINCIPAL: '3', MAX_CONCURRENT_UPLOADS_PER_PRINCIPAL: '1' } });
    alice = await world.token('user', 'alice');
    bob = await world.token('user', 'bob');
  });
  afterAll(async () => world?.close());

  const tusCreate = (length: number, token = alice, metadata = `filename ${b64('a.txt')}`) =>
    request(world.app).post('/api/v1/uploads/tus').set(TUS).set('Authorization', `Bearer ${token}`).set('Upload-Length', String(length)).set('Upload-Metadata', metadata);
  const tusPatch = (url: string, offset: number, body: Buffer, token = alice) =>
    request(world.app)
      .patch(url)
      .set(TUS)
      .set('Authorization', `Bearer ${token}`)
      .set('Upload-Offset', String(offset))
      .set('Content-Type', 'application/offset+octet-stream')
      .send(body);
  const ietfCreate = (headers: Record<string, string>, body?: Buffer, token = alice) => {
    const req = request(world.app).post('/api/v1/uploads').set('Authorization', `Bearer ${token}`).set('Upload-Draft-Interop-Version', '6').set(headers);
    return body ? req.set('Content-Type', 'application/partial-upload').send(body) : req;
  };
  const ietfPatch = (url: string, offset: number, body: Buffer, complete: boolean) =>
    request(world.app)
      .patch(url)
      .set('Authorization', `Bearer ${alice}`)
      .set('Upload-Draft-Interop-Version', '6')
      .set('Upload-Offset', String(offset))
      .set('Upload-Complete', complete ? '?1' : '?0')
      .set('Content-Type', 'application/partial-upload')
      .send(body);

  it('tus: creates, appends in two PATCHes, completes into an ingest job with the metadata fields', async () => {
    const data = randomBytes(200_000);
    const meta = [`filename ${b64('notes.txt')}`, `filetype ${b64('text/plain')}`, `description ${b64('field notes')}`, `tags ${b64('a,b')}`, `metadata ${b64('{"k":1}')}`, `sha256 ${b64(sha256(data))}`].join(',');
    const created = await tusCreate(data.length, alice, meta);
    expect(created.status).toBe(201);
    expect(created.headers['tus-resumable']).toBe('1.0.0');
    expect(created.headers.location).toMatch(/^\/api\/v1\/uploads\/tus\/[0-9a-f-]{36}$/);
    expect(new Date(created.headers['upload-expires']!).getTime()).toBeGreaterThan(Date.now() + 23 * 3_600_000);
    const url = created.headers.location!;
    const first = await tusPatch(url, 0, data.subarray(0, 70_000));
    expect(first.status).toBe(204);
    expect(first.headers['upload-offset']).toBe('70000');
    const head = await request(world.app).head(url).set(TUS).set('Authorization', `Bearer ${alice}`);
    expect(head.status).toBe(200);
    expect(head.headers).toMatchObject({ 'upload-offset': '70000', 'upload-length': String(data.length), 'cache-control': 'no-store' });
    const last = await tusPatch(url, 70_000, data.subarray(70_000));
    expect(last.status).toBe(204);
    expect(last.headers['upload-offset']).toBe(String(data.length));
    const jobId = last.headers['upload-job-id']!;
    const job = await world.waitForJob(jobId, alice);
    expect(job).toMatchObject({ state: 'committed', sha256: sha256(data), fileName: 'notes.txt' });
    const file = await request(world.app).get(`/api/v1/files/${job.fileId}/metadata`).set('Authorization', `Bearer ${alice}`);
    expect(file.body).toMatchObject({ contentType: 'text/plain', description: 'field notes', tags: ['a', 'b'], metadata: { k: 1 } });
    const status = await request(world.app).get(`/api/v1/uploads/${url.split('/').pop()}`).set('Authorization', `Bearer ${alice}`);
    expect(status.body).toEqual({ id: url.split('/').pop(), offset: data.length, length: data.length, complete: true, jobId });
  });

  it('tus: creation-with-upload completes in one request; a wrong declared sha256 fails the job', async () => {
    const data = randomBytes(10_000);
    const res = await tusCreate(data.length, alice, `filename ${b64('x.bin')},sha256 ${b64('0'.repeat(64))}`)
      .set('Content-Type', 'application/offset+octet-stream')
      .send(data);
    expect(res.status).toBe(201);
    expect(res.headers['upload-offset']).toBe(String(data.length));
    const job = await world.waitForJob(res.headers['upload-job-id']!, alice);
    expect(job).toMatchObject({ state: 'failed', error: { code: 'checksum_mismatch' } });
  });

  it('tus: an empty file is complete at creation', async () => {
    const res = await tusCreate(0);
    expect(res.status).toBe(201);
    expect(res.headers['upload-offset']).toBe('0');
    const job = await world.waitForJob(res.headers['upload-job-id']!, alice);
    // Any test may have stored the empty blob before: committed or duplicate, both are the file.
    expect(job).toMatchObject({ size: 0, sha256: sha256(Buffer.alloc(0)) });
    expect(['committed', 'duplicate']).toContain(job.state);
  });

  it('counts a streaming append against MAX_CONCURRENT_UPLOADS_PER_PRINCIPAL (429 past it)', async () => {
    const a = (await tusCreate(100_000)).headers.location!;
    const b = (await tusCreate(100)).headers.location!;
    let release!: () => void;
    let pausedOnce = false;
    let entered!: () => void;
    const paused = new Promise<void>((resolve) => (entered = resolve));
    world.api.resumableHooks = {
      afterChunk: async (id) => {
        if (id !== a.split('/').pop() || pausedOnce) return;
        pausedOnce = true;
        entered();
        await new Promise<void>((resolve) => (release = resolve));
      },
    };
    const first = tusPatch(a, 0, randomBytes(100_000)).then((r) => r);
    await paused;
    const second = await tusPatch(b, 0, randomBytes(100));
    expect(second.status).toBe(429);
    expect(second.body.code).toBe('too_many_requests');
    release();
    world.api.resumableHooks = undefined;
    expect((await first).status).toBe(204);
    expect((await tusPatch(b, 0, randomBytes(100))).status).toBe(204);
  });

  it('a HEAD completes an upload whose last PATCH stored every byte but failed to make the job (503)', async () => {
    const data = randomBytes(3_000);
    const url = (await tusCreate(data.length)).headers.location!;
    let failures = 0;
    world.api.resumableHooks = {
      beforeComplete: () => {
        if (failures++ === 0) throw new AppError('unavailable', 'simulated outage while making the job');
      },
    };
    try {
      const last = await tusPatch(url, 0, data);
      expect(last.status).toBe(503);
      // tus-js-client would now ask HEAD, see offset == length and stop: the HEAD must bring the job.
      const head = await request(world.app).head(url).set(TUS).set('Authorization', `Bearer ${alice}`);
      expect(head.status).toBe(200);
      expect(head.headers['upload-offset']).toBe(String(data.length));
      const job = await world.waitForJob(head.headers['upload-job-id']!, alice);
      expect(job).toMatchObject({ state: 'committed', sha256: sha256(data) });
      expect(failures).toBe(2);
    } finally {
      world.api.resumableHooks = undefined;
    }
  });

  it('answers an offset mismatch with 409 (the IETF problem type names both offsets)', async () => {
    const tus = await tusCreate(1000);
    expect((await tusPatch(tus.headers.location!, 10, randomBytes(10))).status).toBe(409);
    const ietf = await ietfCreate({ 'Upload-Complete': '?0', 'Upload-Length': '1000' });
    expect(ietf.status).toBe(201);
    const res = await ietfPatch(ietf.headers.location!, 5, randomBytes(10), false);
    expect(res.status).toBe(409);
    expect(res.body).toMatchObject({
      type: 'https://iana.org/assignments/http-problem-types#mismatching-upload-offset',
      code: 'upload_offset_mismatch',
      'expected-offset': 0,
      'provided-offset': 5,
    });
    for (const url of [tus.headers.location!, ietf.headers.location!]) await request(world.app).delete(url).set(TUS).set('Authorization', `Bearer ${alice}`);
  });

  it('IETF: an upload in one request, then an append after completion is 409 completed-upload', async () => {
    const data = randomBytes(5_000);
    const res = await ietfCreate({ 'Upload-Complete': '?1', 'Repr-Digest': `sha-256=:${Buffer.from(sha256(data), 'hex').toString('base64')}:` }, data);
    expect(res.status).toBe(201);
    expect(res.headers).toMatchObject({ 'upload-complete': '?1', 'upload-offset': String(data.length) });
    expect((await world.waitForJob(res.headers['upload-job-id']!, alice)).state).toBe('committed');
    const again = await ietfPatch(res.headers.location!, data.length, randomBytes(10), true);
    expect(again.status).toBe(409);
    expect(again.body).toMatchObject({ type: 'https://iana.org/assignments/http-problem-types#completed-upload', code: 'upload_completed' });
    const head = await request(world.app).head(res.headers.location!).set('Authorization', `Bearer ${alice}`);
    expect(head.status).toBe(204);
    expect(head.headers).toMatchObject({ 'upload-complete': '?1', 'upload-job-id': res.headers['upload-job-id'] });
  });

  it('IETF: appends past a declared length are 400 inconsistent-upload-length; Upload-Limit is advertised', async () => {
    const res = await ietfCreate({ 'Upload-Complete': '?0', 'Upload-Length': '10' });
    expect(res.headers['upload-limit']).toMatch(/^max-size=4194304, expires=\d+$/);
    const over = await ietfPatch(res.headers.location!, 0, randomBytes(20), true);
    expect(over.status).toBe(400);
    expect(over.body.type).toBe('https://iana.org/assignments/http-problem-types#inconsistent-upload-length');
  });

  it('answers 404 for an incomplete upload past its expiry, before the expiry job has removed it', async () => {
    const created = await tusCreate(100);
    const id = created.headers.location!.split('/').pop()!;
    await world.api.db.resumableUpload.update({ where: { id }, data: { expiresAt: new Date(Date.now() - 1_000) } });
    const head = await request(world.app).head(created.headers.location!).set(TUS).set('Authorization', `Bearer ${alice}`);
    expect(head.status).toBe(404);
    expect((await tusPatch(created.headers.location!, 0, randomBytes(10))).status).toBe(404);
  });

  it('shows an upload only to its owner: 404 to another principal on every method', async () => {
    const created = await tusCreate(100);
    const url = created.headers.location!;
    const id = url.split('/').pop();
    expect((await request(world.app).head(url).set(TUS).set('Authorization', `Bearer ${bob}`)).status).toBe(404);
    expect((await tusPatch(url, 0, randomBytes(10), bob)).status).toBe(404);
    expect((await request(world.app).get(`/api/v1/uploads/${id}`).set('Authorization', `Bearer ${bob}`)).status).toBe(404);
    expect((await request(world.app).delete(url).set(TUS).set('Authorization', `Bearer ${bob}`)).status).toBe(404);
    // Termination by the owner removes the row and the bytes.
    expect((await request(world.app).delete(url).set(TUS).set('Authorization', `Bearer ${alice}`)).status).toBe(204);
    expect((await request(world.app).head(url).set(TUS).set('Authorization', `Bearer ${alice}`)).status).toBe(404);
    await expect(fs.stat(path.join(world.config.stagingPath, 'resumable', `${id}.upload`))).rejects.toThrow(/ENOENT/);
  });

  it('refuses Upload-Length over MAX_UPLOAD_BYTES with 413, a readonly role with 403, a wrong tus version with 412', async () => {
    const big = await tusCreate(4 * 1024 * 1024 + 1);
    expect(big.status).toBe(413);
    expect(big.body.code).toBe('payload_too_large');
    const ietf = await ietfCreate({ 'Upload-Complete': '?0', 'Upload-Length': String(5 * 1024 * 1024) });
    expect(ietf.status).toBe(413);
    expect((await tusCreate(10, await world.token('readonly', 'reader'))).status).toBe(403);
    const v = await request(world.app).post('/api/v1/uploads/tus').set('Tus-Resumable', '0.2.2').set('Authorization', `Bearer ${alice}`).set('Upload-Length', '1');
    expect(v.status).toBe(412);
    expect(v.headers['tus-version']).toBe('1.0.0');
  });

  it('caps open uploads per principal (429 too_many_open_uploads); a finished or cancelled one frees a place', async () => {
    const carol = await world.token('user', 'carol');
    const urls: string[] = [];
    for (let i = 0; i < 3; i++) urls.push((await tusCreate(10, carol)).headers.location!);
    const refused = await tusCreate(10, carol);
    expect(refused.status).toBe(429);
    expect(refused.body.code).toBe('too_many_open_uploads');
    await request(world.app).delete(urls[0]!).set(TUS).set('Authorization', `Bearer ${carol}`);
    expect((await tusCreate(10, carol)).status).toBe(201);
  });
});

describe('resumable uploads and element-wide limits', () => {
  it('counts the staged bytes of unfinished uploads against STORAGE_MAX_BYTES (507 for what no longer fits)', async () => {
    const world = await createWorld({ isolatedDatabase: true, env: { STORAGE_MAX_BYTES: '100000' } });
    try {
      const token = await world.token('user', 'alice');
      const create = (length: number) => request(world.app).post('/api/v1/uploads/tus').set(TUS).set('Authorization', `Bearer ${token}`).set('Upload-Length', String(length));
      const parked = await create(80_000);
      expect(parked.status).toBe(201);
      const patch = await request(world.app)
        .patch(parked.headers.location!)
        .set(TUS)
        .set('Authorization', `Bearer ${token}`)
        .set('Upload-Offset', '0')
        .set('Content-Type', 'application/offset+octet-stream')
        .send(randomBytes(60_000));
      expect(patch.status).toBe(204);
      // 60,000 bytes wait in staging for a PATCH that may never come: 50,000 more would pass the 100,000 limit. The
      // capacity reading is refreshed at most once a second, so ask until it is.
      const deadline = Date.now() + 5_000;
      let res = await create(50_000);
      while (res.status === 201 && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 100));
        res = await create(50_000);
      }
      expect(res.status).toBe(507);
      expect(res.body.code).toBe('insufficient_storage');
      expect((await create(30_000)).status).toBe(201);
    } finally {
      await world.close();
    }
  });

  it('answers 507 when Upload-Length does not fit STORAGE_MAX_BYTES, and 409 mode_forbids in a read-only element', async () => {
    const world = await createWorld({ isolatedDatabase: true, env: { STORAGE_MAX_BYTES: '100000' } });
    try {
      const token = await world.token('user', 'alice');
      const res = await request(world.app).post('/api/v1/uploads/tus').set(TUS).set('Authorization', `Bearer ${token}`).set('Upload-Length', '200000');
      expect(res.status).toBe(507);
      expect(res.body.code).toBe('insufficient_storage');
      const ok = await request(world.app).post('/api/v1/uploads/tus').set(TUS).set('Authorization', `Bearer ${token}`).set('Upload-Length', '1000');
      expect(ok.status).toBe(201);
      await world.api.db.elementState.create({ data: { mode: 'ro', changedBy: 'test', reason: 'resumable mode test' } });
      world.api.modes.invalidate();
      const created = await request(world.app).post('/api/v1/uploads').set('Authorization', `Bearer ${token}`).set('Upload-Complete', '?0');
      expect(created.status).toBe(409);
      expect(created.body.code).toBe('mode_forbids');
      const patch = await request(world.app)
        .patch(ok.headers.location!)
        .set(TUS)
        .set('Authorization', `Bearer ${token}`)
        .set('Upload-Offset', '0')
        .set('Content-Type', 'application/offset+octet-stream')
        .send(randomBytes(10));
      expect(patch.status).toBe(409);
      expect(patch.body.code).toBe('mode_forbids');
    } finally {
      await world.close();
    }
  });
});
