// Bad input at the upload endpoint: limits, malformed bodies, hostile names, aborted clients. Nothing stays behind.
import { randomBytes } from 'node:crypto';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fileDisposition, multipartType, partHead } from '../helpers/multipart.js';
import { startUpload } from '../helpers/streamed-upload.js';
import { serve, type Served } from '../helpers/serve.js';
import { until } from '../helpers/wait.js';
import { createWorld, type World } from '../helpers/world.js';

describe('upload limits and bad input', () => {
  let world: World;
  let token: string;
  let api: Served;
  let port: number;

  beforeAll(async () => {
    world = await createWorld({ worker: true, env: { MAX_UPLOAD_BYTES: String(64 * 1024), MAX_FILES_PER_UPLOAD: '3' } });
    token = await world.token('user', 'alice');
    api = await serve(world.app);
    port = api.port;
  });
  afterAll(async () => {
    await api?.close();
    await world?.close();
  });

  const upload = () => request(world.app).post('/api/v1/files/upload').set('Authorization', `Bearer ${token}`);
  const jobCount = () => world.api.db.fileJob.count();

  it('answers 413 payload_too_large over MAX_UPLOAD_BYTES, creates no job and leaves staging empty', async () => {
    const before = await jobCount();
    const res = await upload().attach('file', Buffer.from('small'), 'ok.txt').attach('file', randomBytes(64 * 1024 + 1), 'big.bin');
    expect(res.status).toBe(413);
    expect(res.body).toMatchObject({ status: 413, code: 'payload_too_large' });
    expect(await jobCount()).toBe(before);
    expect(await world.stagedFiles()).toEqual([]);
  });

  it('accepts a file of exactly MAX_UPLOAD_BYTES', async () => {
    const res = await upload().attach('file', randomBytes(64 * 1024), 'exact.bin');
    expect(res.status).toBe(202);
    expect((await world.waitForJob(res.body.jobs[0].id, token)).state).toBe('committed');
  });

  it('answers 413 too_many_files over MAX_FILES_PER_UPLOAD', async () => {
    let req = upload();
    for (let i = 0; i < 4; i++) req = req.attach('file', Buffer.from(`f${i}`), `f${i}.txt`);
    const res = await req;
    expect(res.status).toBe(413);
    expect(res.body.code).toBe('too_many_files');
    expect(await world.stagedFiles()).toEqual([]);
  });

  it('answers 400 validation_failed for a malformed multipart body and keeps serving', async () => {
    const res = await upload()
      .set('Content-Type', multipartType('XYZ'))
      .send(`${partHead('XYZ', [fileDisposition('a.txt')])}half a part without an end`);
    expect(res.status).toBe(400);
    expect(res.body.code).toBe('validation_failed');
    const noBoundary = await upload().set('Content-Type', 'multipart/form-data').send('garbage');
    expect(noBoundary.status).toBe(400);
    expect(await world.stagedFiles()).toEqual([]);
    expect((await request(world.app).get('/health/live')).status).toBe(200);
    const good = await upload().attach('file', Buffer.from('still fine'), 'fine.txt');
    expect(good.status).toBe(202);
    expect((await world.waitForJob(good.body.jobs[0].id, token)).state).toBe('committed');
  });

  it('answers 400 when there is no file part, or the file sits in another field', async () => {
    const none = await upload().field('description', 'no file');
    expect(none.status).toBe(400);
    const json = await upload().send({ file: 'nope' });
    expect(json.status).toBe(400);
    const other = await upload().attach('document', Buffer.from('x'), 'x.txt');
    expect(other.status).toBe(400);
    expect(await world.stagedFiles()).toEqual([]);
  });

  it('names the offending field when a form field is invalid, and removes what was staged', async () => {
    const cases: Array<[Record<string, string>, string]> = [
      [{ description: 'x'.repeat(1001) }, 'description'],
      [{ version: 'v'.repeat(51) }, 'version'],
      [{ tags: JSON.stringify(Array.from({ length: 51 }, (_, i) => `t${i}`)) }, 'tags'],
      [{ metadata: '[1,2]' }, 'metadata'],
      [{ metadata: JSON.stringify({ big: 'x'.repeat(17 * 1024) }) }, 'metadata'],
      [{ sha256: 'abc' }, 'sha256'],
      [{ fileId: 'not-a-uuid' }, 'fileId'],
      [{ colour: 'blue' }, 'colour'],
    ];
    for (const [fields, parameter] of cases) {
      let req = upload();
      for (const [k, v] of Object.entries(fields)) req = req.field(k, v);
      const res = await req.attach('file', Buffer.from('data'), 'd.txt');
      expect(res.status, parameter).toBe(400);
      expect(res.body.code).toBe('validation_failed');
      expect(res.body.parameter).toBe(parameter);
    }
    expect(await world.stagedFiles()).toEqual([]);
  });

  it('answers 400 for wait outside 0-60 and a bad Idempotency-Key', async () => {
    const res = await upload().query({ wait: '61' }).attach('file', Buffer.from('x'), 'x.txt');
    expect(res.status).toBe(400);
    expect(res.body.parameter).toBe('wait');
    const key = await upload().set('Idempotency-Key', 'x'.repeat(300)).attach('file', Buffer.from('x'), 'x.txt');
    expect(key.status).toBe(400);
  });

  it('refuses sha256 or fileId with several files', async () => {
    const res = await upload().field('sha256', 'a'.repeat(64)).attach('file', Buffer.from('1'), '1.txt').attach('file', Buffer.from('2'), '2.txt');
    expect(res.status).toBe(400);
    expect(await world.stagedFiles()).toEqual([]);
  });

  it('keeps only the last segment of a traversal file name and stages under its own name', async () => {
    for (const name of ['../../../etc/passwd', '..\\..\\windows\\win.ini', 'a/evil%0Aname%0D.txt', '  .hidden  ']) {
      const res = await upload().attach('file', randomBytes(64), name);
      expect(res.status, `${JSON.stringify(name)}: ${res.text}`).toBe(202);
      const job = await world.waitForJob(res.body.jobs[0].id, token);
      expect(job.state).toBe('committed');
      expect(String(job.fileName)).not.toMatch(/[/\\\u0000-\u001f]/);
    }
    const [a, b, c, d] = (await world.api.db.fileJob.findMany({ orderBy: { createdAt: 'desc' }, take: 4 })).reverse();
    expect([a!.fileName, b!.fileName, c!.fileName, d!.fileName]).toEqual(['passwd', 'win.ini', 'evilname.txt', '.hidden']);
    // A part whose name is only "..": the parser keeps no file name, so there is no file to store.
    const dots = await upload().attach('file', randomBytes(8), '..');
    expect(dots.status).toBe(400);
    expect(await world.stagedFiles()).toEqual([]);
  });

  it('leaves nothing behind when the client aborts mid-upload', async () => {
    const before = await jobCount();
    const partial = startUpload(port, token, {
      boundary: 'ABORTBOUNDARY',
      fileName: 'partial.bin',
      partHeaders: [fileDisposition('partial.bin'), 'Content-Type: application/octet-stream'],
      contentLength: 10 * 1024 * 1024,
    });
    partial.write(randomBytes(32 * 1024));
    // Let the server open the staged file and write some bytes, then vanish.
    await until('the upload to be staged', async () => (await world.stagedFiles()).length > 0);
    partial.req.destroy();
    // The server notices the close asynchronously: wait until staging is empty (bounded).
    await until('staging to be empty', async () => (await world.stagedFiles()).length === 0, 5_000, 50);
    expect(await world.stagedFiles()).toEqual([]);
    expect(await jobCount()).toBe(before);
    expect((await request(world.app).get('/health/live')).status).toBe(200);
  });
});
