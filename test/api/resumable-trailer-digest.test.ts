// A client that hashes a large file while it sends it knows the digest only after the last byte: it sends the
// IETF append chunked with a Repr-Digest trailer (the CLI does, issue 12). The trailer is the upload's declared
// sha256, checked against the bytes by the ingest job like one declared at creation.
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serve, type Served } from '../helpers/serve.js';
import { createWorld, type World } from '../helpers/world.js';
import { sha256 } from './resumable-harness.js';

const INTEROP = { 'Upload-Draft-Interop-Version': '6' };
const reprDigest = (hex: string) => `sha-256=:${Buffer.from(hex, 'hex').toString('base64')}:`;

describe('an IETF append with a Repr-Digest trailer', () => {
  let world: World;
  let served: Served;
  let user: string;

  beforeAll(async () => {
    world = await createWorld({ worker: true });
    served = await serve(world.app);
    user = await world.token('user', 'alice');
  });
  afterAll(async () => {
    await served?.close();
    await world?.close();
  });

  async function create(length: number, headers: Record<string, string> = {}): Promise<string> {
    const res = await request(world.app)
      .post('/api/v1/uploads')
      .set({ ...INTEROP, Authorization: `Bearer ${user}`, 'Upload-Complete': '?0', 'Upload-Length': String(length), ...headers });
    expect(res.status, res.text).toBe(201);
    return res.headers.location!;
  }

  /** The whole body in one chunked PATCH (no Content-Length) that completes the upload, the digest as a trailer. */
  function patchWithTrailer(url: string, data: Buffer, trailerDigest: string): Promise<{ status: number; jobId?: string; body: string }> {
    return new Promise((resolve, reject) => {
      const req = http.request(`http://127.0.0.1:${served.port}${url}`, {
        method: 'PATCH',
        headers: { ...INTEROP, Authorization: `Bearer ${user}`, 'Upload-Offset': '0', 'Upload-Complete': '?1', 'Content-Type': 'application/partial-upload', Trailer: 'Repr-Digest' },
      });
      req.on('response', (res) => {
        let body = '';
        res.on('data', (c: Buffer) => (body += c.toString()));
        res.on('end', () => resolve({ status: res.statusCode!, jobId: res.headers['upload-job-id'] as string | undefined, body }));
      });
      req.on('error', reject);
      req.write(data.subarray(0, 100_000));
      req.write(data.subarray(100_000));
      req.addTrailers({ 'Repr-Digest': reprDigest(trailerDigest) });
      req.end();
    });
  }

  it('commits the file when the trailer names the bytes sent', async () => {
    const data = randomBytes(300_000);
    const done = await patchWithTrailer(await create(data.length), data, sha256(data));
    expect(done.status, done.body).toBe(200);
    expect(await world.waitForJob(done.jobId!, user)).toMatchObject({ state: 'committed', sha256: sha256(data), size: data.length });
  });

  it('fails the job with checksum_mismatch when the trailer names other bytes', async () => {
    const data = randomBytes(300_000);
    const done = await patchWithTrailer(await create(data.length), data, sha256(randomBytes(10)));
    expect(done.status, done.body).toBe(200);
    const job = await world.waitForJob(done.jobId!, user);
    expect(job).toMatchObject({ state: 'failed', error: { code: 'checksum_mismatch' } });
  });

  it('refuses a trailer that contradicts the sha256 declared at creation (400), and keeps the bytes for a retry', async () => {
    const data = randomBytes(200_000);
    const url = await create(data.length, { 'Repr-Digest': reprDigest(sha256(data)) });
    const refused = await patchWithTrailer(url, data, sha256(randomBytes(10)));
    expect(refused.status, refused.body).toBe(400);
    expect(JSON.parse(refused.body)).toMatchObject({ code: 'validation_failed', parameter: 'Repr-Digest' });
    const head = await request(world.app).head(url).set({ ...INTEROP, Authorization: `Bearer ${user}` });
    // Every byte is durable; the offset retrieval completes the upload with the digest declared at creation.
    expect(head.headers['upload-offset']).toBe(String(data.length));
    expect(await world.waitForJob(head.headers['upload-job-id']!, user)).toMatchObject({ state: 'committed', sha256: sha256(data) });
  });
});
