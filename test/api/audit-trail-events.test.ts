// Audit trail (SPEC §11): each action writes exactly one event, with the right actor, request id and outcome.
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { scrubBlobs } from '../../src/shared/domain/blob-scrub.js';
import { rebuildIndex } from '../../src/shared/domain/index-rebuild.js';
import { runBlobGc } from '../../src/shared/domain/blob-gc.js';
import { until } from '../helpers/wait.js';
import { createWorld, type World } from '../helpers/world.js';

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

describe('audit trail events', () => {
  let world: World;
  let alice: string;
  let operator: string;

  beforeAll(async () => {
    world = await createWorld({ worker: true, isolatedDatabase: true, env: { AUDIT_READS: 'true', GC_GRACE_SECONDS: '1' } });
    alice = await world.token('user', 'alice', { name: 'Alice A.', type: 'service_account' });
    operator = await world.token('operator', 'olga');
  });
  afterAll(async () => world?.close());

  const events = (where: Record<string, unknown>) => world.api.db.auditEvent.findMany({ where, orderBy: { seq: 'asc' } });

  async function upload(bytes: Buffer, requestId: string, fields: Record<string, string> = {}): Promise<{ jobId: string; fileId: string; state: string }> {
    let req = request(world.app).post('/api/v1/files/upload?wait=20').set('Authorization', `Bearer ${alice}`).set('X-Request-Id', requestId);
    for (const [k, v] of Object.entries(fields)) req = req.field(k, v);
    const res = await req.attach('file', bytes, 'a.bin');
    expect([201, 202]).toContain(res.status);
    const job = await world.waitForJob(res.body.jobs[0].id, alice);
    return { jobId: job.id as string, fileId: job.fileId as string, state: job.state as string };
  }

  it('records a committed ingest once, with the principal, its token type, the request id and the client address', async () => {
    const bytes = randomBytes(300);
    const { jobId, fileId, state } = await upload(bytes, 'req-ingest-1');
    expect(state).toBe('committed');
    const rows = await events({ action: 'ingest', fileId });
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({
      actorSub: 'alice', actorName: 'Alice A.', actorRole: 'user', actorTokenType: 'service_account', jobId, sha256: sha(bytes),
      requestId: 'req-ingest-1', outcome: 'success', errorCode: null, details: { state: 'committed', duplicateOf: null, size: 300 },
    });
    expect(rows[0]!.clientAddress).toMatch(/127\.0\.0\.1|::1/);
  });

  it('records each file of a multi-file upload (the batch commit) once', async () => {
    let req = request(world.app).post('/api/v1/files/upload?wait=20').set('Authorization', `Bearer ${alice}`).set('X-Request-Id', 'req-batch');
    for (let i = 0; i < 8; i++) req = req.attach('file', randomBytes(100 + i), `b${i}.bin`);
    const res = await req;
    for (const job of res.body.jobs as Array<{ id: string }>) await world.waitForJob(job.id, alice);
    const rows = await events({ action: 'ingest', requestId: 'req-batch' });
    expect(rows).toHaveLength(8);
    expect(new Set(rows.map((r) => r.jobId)).size).toBe(8);
  });

  it('records a failed ingest with its error code', async () => {
    const { jobId, state } = await upload(randomBytes(200), 'req-bad-sum', { sha256: '0'.repeat(64) });
    expect(state).toBe('failed');
    const rows = await events({ jobId });
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ action: 'ingest', outcome: 'failure', errorCode: 'checksum_mismatch', actorSub: 'alice', requestId: 'req-bad-sum' });
  });

  it('records a metadata update and a delete once each, with their request ids', async () => {
    const { fileId } = await upload(randomBytes(100), 'req-for-edits');
    const patched = await request(world.app).patch(`/api/v1/files/${fileId}/metadata`).set('Authorization', `Bearer ${alice}`)
      .set('X-Request-Id', 'req-patch').send({ description: 'x' });
    expect(patched.status).toBe(200);
    const del = await request(world.app).delete(`/api/v1/files/${fileId}`).set('Authorization', `Bearer ${operator}`).set('X-Request-Id', 'req-delete');
    expect(del.status).toBe(202);
    await world.waitForJob(del.body.id, operator);
    const rows = await events({ fileId });
    expect(rows.map((r) => [r.action, r.actorSub, r.requestId])).toEqual([
      ['ingest', 'alice', 'req-for-edits'],
      ['metadata_update', 'alice', 'req-patch'],
      ['delete', 'olga', 'req-delete'],
    ]);
    expect(rows[1]!.details).toMatchObject({ fromRevision: 1, toRevision: 2, fields: ['description'] });
  });

  it('records retention changes, legal holds and the GC removing a blob, once each', async () => {
    const bytes = randomBytes(150);
    const { fileId } = await upload(bytes, 'req-for-retention');
    const retainUntil = new Date(Date.now() + 86_400_000).toISOString();
    const retained = await request(world.app).put(`/api/v1/files/${fileId}/retention`).set('Authorization', `Bearer ${alice}`)
      .set('X-Request-Id', 'req-retention').send({ retainUntil });
    expect(retained.status).toBe(200);
    const held = await request(world.app).put(`/api/v1/files/${fileId}/legal-hold`).set('Authorization', `Bearer ${operator}`)
      .set('X-Request-Id', 'req-hold').send({ on: true });
    expect(held.status).toBe(200);
    const rows = await events({ fileId, action: { in: ['retention_change', 'legal_hold'] } });
    expect(rows.map((r) => [r.action, r.actorSub, r.requestId])).toEqual([
      ['retention_change', 'alice', 'req-retention'],
      ['legal_hold', 'olga', 'req-hold'],
    ]);
    expect(rows[0]!.details).toMatchObject({ retainUntil });
    expect(rows[1]!.details).toMatchObject({ on: true });

    // A file without retention, deleted: GC removes its blob once the grace period has passed.
    const other = randomBytes(170);
    const { fileId: doomed } = await upload(other, 'req-for-gc');
    const del = await request(world.app).delete(`/api/v1/files/${doomed}`).set('Authorization', `Bearer ${operator}`);
    await world.waitForJob(del.body.id, operator);
    await until('GC to remove the blob', async () => (await runBlobGc(world.worker!, sha(other))).removed || (await world.api.db.blob.count({ where: { sha256: sha(other) } })) === 0, 15_000, 200);
    expect(await events({ action: 'gc_delete', sha256: sha(other) })).toMatchObject([{ actorSub: 'system:gc', details: { deletedFileRows: 1 } }]);
  });

  it('records downloads with AUDIT_READS=true (batched, within a second), with the range served', async () => {
    const { fileId } = await upload(randomBytes(4_000), 'req-for-reads');
    const res = await request(world.app).get(`/api/v1/files/${fileId}`).set('Authorization', `Bearer ${operator}`).set('Range', 'bytes=0-99').set('X-Request-Id', 'req-read');
    expect(res.status).toBe(206);
    await until('the download event', async () => (await events({ action: 'download', fileId })).length === 1, 2_000);
    expect((await events({ action: 'download', fileId }))[0]).toMatchObject({ actorSub: 'olga', actorRole: 'operator', requestId: 'req-read', details: { status: 206, range: 'bytes 0-99/4000', bytes: 100 } });
  });

  it('records refused requests as auth_denied: 401 without an actor, 403 with one', async () => {
    expect((await request(world.app).get('/api/v1/info').set('X-Request-Id', 'req-anon')).status).toBe(401);
    const readonly = await world.token('readonly', 'rita');
    expect((await request(world.app).get('/api/v1/audit').set('Authorization', `Bearer ${readonly}`).set('X-Request-Id', 'req-ro')).status).toBe(403);
    await until('two auth_denied events', async () => (await events({ action: 'auth_denied', requestId: { in: ['req-anon', 'req-ro'] } })).length === 2, 2_000);
    const [anon, ro] = await events({ action: 'auth_denied', requestId: { in: ['req-anon', 'req-ro'] } });
    expect(anon).toMatchObject({ actorSub: null, outcome: 'failure', errorCode: 'unauthorized', details: { status: 401, path: '/api/v1/info' } });
    expect(ro).toMatchObject({ actorSub: 'rita', actorRole: 'readonly', errorCode: 'forbidden', details: { status: 403 } });
  });

  it('records the scrub finding a corrupt blob as fixity_failure, once', async () => {
    const bytes = randomBytes(3_000);
    const { fileId } = await upload(bytes, 'req-for-scrub');
    const h = sha(bytes);
    const file = path.join(world.config.storagePath, 'blobs', h.slice(0, 2), h.slice(2, 4), h);
    await fs.chmod(file, 0o640);
    await fs.writeFile(file, randomBytes(3_000));
    expect(await scrubBlobs(world.worker!, { budgetMs: 60_000 })).toMatchObject({ corrupt: 1 });
    expect(await scrubBlobs(world.worker!, { budgetMs: 60_000 })).toMatchObject({ corrupt: 1 });
    const rows = await events({ action: 'fixity_failure', sha256: h });
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ actorSub: 'system:scrub', outcome: 'failure', errorCode: 'blob_mismatch', details: { reason: 'mismatch', fileIds: [fileId] } });
  });

  it('records an index rebuild once', async () => {
    await rebuildIndex({ db: world.api.db, config: world.config, blobStore: world.worker!.blobStore, logger: world.worker!.logger });
    const rows = await events({ action: 'index_rebuild' });
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ actorSub: 'system:rebuild-index', details: { wiped: false } });
  });

  it('records a wipe with its TRUNCATE, so a rebuild that stops after it still leaves the record', async () => {
    const deps = { db: world.api.db, config: world.config, blobStore: world.worker!.blobStore, logger: world.worker!.logger };
    const stop = () => {
      throw new Error('stopped after the wipe');
    };
    await expect(rebuildIndex(deps, { wipe: true, progressEvery: 1, onProgress: stop })).rejects.toThrow(/stopped after the wipe/);
    expect(await world.api.db.file.count()).toBe(0);
    const rows = await events({ action: 'index_rebuild', details: { path: ['phase'], equals: 'wipe' } });
    expect(rows).toMatchObject([{ actorSub: 'system:rebuild-index', details: { mode: 'full', wiped: true } }]);
    // The index comes back (the rest of the suite reads it): the full run's own event follows.
    await rebuildIndex(deps, { wipe: true });
    expect((await events({ action: 'index_rebuild' })).map((e) => (e.details as { phase?: string }).phase ?? 'end')).toEqual(['end', 'wipe', 'wipe', 'end']);
  });
});

describe('audit trail: mode changes and download defaults', () => {
  let world: World;
  beforeAll(async () => {
    world = await createWorld({ worker: false, isolatedDatabase: true, env: { APP_MODE: 'rw' } });
  });
  afterAll(async () => world?.close());

  it('records a mode change with the admin and request id, and no download without AUDIT_READS', async () => {
    const admin = await world.token('admin', 'ada', { type: 'admin_user' });
    const res = await request(world.app).put('/api/v1/mode').set('Authorization', `Bearer ${admin}`).set('X-Request-Id', 'req-mode').send({ mode: 'ro' });
    expect(res.status).toBe(200);
    const rows = await world.api.db.auditEvent.findMany({ where: { action: 'mode_change' } });
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ actorSub: 'ada', actorRole: 'admin', actorTokenType: 'admin_user', requestId: 'req-mode', details: { from: 'rw', to: 'ro' } });
    expect(world.api.audit.recordsReads).toBe(false);
  });
});
