// A resumable upload (tus / IETF draft) carries the retention fields of SPEC §10 in Upload-Metadata, as a multipart
// upload does: a large file sent resumably (the CLI's --resumable-mib) must not lose its retention or hold.
import { randomBytes } from 'node:crypto';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createWorld, type World } from '../helpers/world.js';

const b64 = (s: string) => Buffer.from(s).toString('base64');
const TUS = { 'Tus-Resumable': '1.0.0' };

describe('resumable uploads with retention', () => {
  let world: World;
  let alice: string;
  let olga: string;
  let admin: string;

  beforeAll(async () => {
    world = await createWorld({ worker: true, env: { LIFECYCLE_INTERVAL_SECONDS: '0' } });
    alice = await world.token('user', 'alice');
    olga = await world.token('operator', 'olga');
    admin = await world.token('admin', 'root');
  });
  afterAll(async () => world?.close());

  const tusUpload = (token: string, metadata: string, data: Buffer) =>
    request(world.app)
      .post('/api/v1/uploads/tus')
      .set(TUS)
      .set('Authorization', `Bearer ${token}`)
      .set('Upload-Length', String(data.length))
      .set('Upload-Metadata', `filename ${b64('big.bin')},${metadata}`)
      .set('Content-Type', 'application/offset+octet-stream')
      .send(data);

  it('stores a temporary, compliance-retained file as asked; DELETE by an admin is then 409 retention_active', async () => {
    const until = new Date(Date.now() + 5 * 86_400_000).toISOString();
    const meta = [`retentionPolicy ${b64('temporary')}`, `ttlDays ${b64('3')}`, `retainUntil ${b64(until)}`, `retentionMode ${b64('compliance')}`].join(',');
    const res = await tusUpload(alice, meta, randomBytes(5_000));
    expect(res.status).toBe(201);
    const job = await world.waitForJob(res.headers['upload-job-id']!, alice);
    expect(job.state).toBe('committed');
    const file = await world.api.db.file.findUniqueOrThrow({ where: { id: job.fileId as string } });
    expect(file).toMatchObject({ retentionPolicy: 'temporary', retainUntil: new Date(until), retentionMode: 'compliance', legalHold: false });
    expect(file.expiresAt!.getTime() - file.createdAt.getTime()).toBe(3 * 86_400_000);
    const del = await request(world.app).delete(`/api/v1/files/${file.id}`).set('Authorization', `Bearer ${admin}`);
    expect(del.status).toBe(409);
    expect(del.body.code).toBe('retention_active');
  });

  it('a legal hold at creation: 403 for a user before any byte, kept for an operator', async () => {
    const refused = await tusUpload(alice, `legalHold ${b64('true')}`, randomBytes(100));
    expect(refused.status).toBe(403);
    const res = await tusUpload(olga, `legalHold ${b64('true')}`, randomBytes(100));
    expect(res.status).toBe(201);
    const job = await world.waitForJob(res.headers['upload-job-id']!, olga);
    expect(job.state).toBe('committed');
    const file = await world.api.db.file.findUniqueOrThrow({ where: { id: job.fileId as string } });
    expect(file.legalHold).toBe(true);
  });

  it('refuses bad retention metadata with 400 (ttlDays without temporary)', async () => {
    const res = await tusUpload(alice, `ttlDays ${b64('3')}`, randomBytes(10));
    expect(res.status).toBe(400);
    expect(res.body.code).toBe('validation_failed');
  });
});
