// Downloads: Range (206/416), conditional requests (304), HEAD, Content-Disposition, unknown ids.
import { randomBytes } from 'node:crypto';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { binaryParser } from '../helpers/http.js';
import { createWorld, type World } from '../helpers/world.js';


describe('download', () => {
  let world: World;
  let token: string;
  let fileId: string;
  let sha256: string;
  const bytes = randomBytes(10_000);

  beforeAll(async () => {
    world = await createWorld({ worker: true });
    token = await world.token('readonly', 'reader');
    const uploader = await world.token('user', 'alice');
    const res = await request(world.app)
      .post('/api/v1/files/upload')
      .set('Authorization', `Bearer ${uploader}`)
      .attach('file', bytes, { filename: 'Grüße – résumé (1).txt', contentType: 'text/plain' });
    const job = await world.waitForJob(res.body.jobs[0].id, uploader);
    fileId = String(job.fileId);
    sha256 = String(job.sha256);
  });
  afterAll(async () => world?.close());

  const get = (path: string) => request(world.app).get(path).set('Authorization', `Bearer ${token}`).buffer(true).parse(binaryParser);

  it('serves the whole file with the headers of SPEC §5', async () => {
    const res = await get(`/api/v1/files/${fileId}`);
    expect(res.status).toBe(200);
    expect(res.headers).toMatchObject({
      'content-type': 'text/plain',
      'content-length': '10000',
      etag: `"${sha256}"`,
      'accept-ranges': 'bytes',
      'content-disposition': "attachment; filename*=UTF-8''Gr%C3%BC%C3%9Fe%20%E2%80%93%20r%C3%A9sum%C3%A9%20%281%29.txt",
    });
    expect(new Date(res.headers['last-modified']!).getTime()).not.toBeNaN();
    expect(Buffer.compare(res.body, bytes)).toBe(0);
  });

  it('answers 206 with Content-Range for a single byte range', async () => {
    const res = await get(`/api/v1/files/${fileId}`).set('Range', 'bytes=100-1123');
    expect(res.status).toBe(206);
    expect(res.headers['content-range']).toBe('bytes 100-1123/10000');
    expect(res.headers['content-length']).toBe('1024');
    expect(Buffer.compare(res.body, bytes.subarray(100, 1124))).toBe(0);
  });

  it('serves open-ended and suffix ranges', async () => {
    const open = await get(`/api/v1/files/${fileId}`).set('Range', 'bytes=9990-');
    expect(open.status).toBe(206);
    expect(Buffer.compare(open.body, bytes.subarray(9990))).toBe(0);
    const suffix = await get(`/api/v1/files/${fileId}`).set('Range', 'bytes=-16');
    expect(suffix.status).toBe(206);
    expect(suffix.headers['content-range']).toBe('bytes 9984-9999/10000');
    expect(Buffer.compare(suffix.body, bytes.subarray(9984))).toBe(0);
  });

  it('answers 416 when the range starts past the end', async () => {
    const res = await request(world.app).get(`/api/v1/files/${fileId}`).set('Authorization', `Bearer ${token}`).set('Range', 'bytes=10000-10010');
    expect(res.status).toBe(416);
    expect(res.headers['content-range']).toBe('bytes */10000');
    expect(res.headers['content-type']).toMatch(/application\/problem\+json/);
    expect(res.body.code).toBe('range_not_satisfiable');
  });

  it('answers 304 to If-None-Match with the current ETag', async () => {
    const res = await request(world.app).get(`/api/v1/files/${fileId}`).set('Authorization', `Bearer ${token}`).set('If-None-Match', `"${sha256}"`);
    expect(res.status).toBe(304);
    expect(res.headers.etag).toBe(`"${sha256}"`);
    const stale = await get(`/api/v1/files/${fileId}`).set('If-None-Match', '"0000"');
    expect(stale.status).toBe(200);
  });

  it('ignores Range when If-Range names another version', async () => {
    const res = await get(`/api/v1/files/${fileId}`).set('Range', 'bytes=0-9').set('If-Range', '"other"');
    expect(res.status).toBe(200);
    expect(res.body.length).toBe(10_000);
  });

  it('answers HEAD with the headers and no body', async () => {
    const res = await request(world.app).head(`/api/v1/files/${fileId}`).set('Authorization', `Bearer ${token}`);
    expect(res.status).toBe(200);
    expect(res.headers['content-length']).toBe('10000');
    expect(res.headers.etag).toBe(`"${sha256}"`);
    expect(res.text ?? '').toBe('');
  });

  it('answers 404 not_found for an unknown or malformed id', async () => {
    for (const id of ['00000000-0000-4000-8000-000000000000', 'not-a-uuid']) {
      const res = await request(world.app).get(`/api/v1/files/${id}`).set('Authorization', `Bearer ${token}`);
      expect(res.status).toBe(404);
      expect(res.body).toMatchObject({ type: 'about:blank', status: 404, code: 'not_found' });
    }
  });
});
