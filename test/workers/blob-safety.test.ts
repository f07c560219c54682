// Committed bytes stay stored: GC racing an ingest of the same bytes, existing blobs that are wrong or corrupt,
// a rebuild recounting references while workers commit, unrecorded blobs and leftovers of finished jobs.
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runBlobGc } from '../../src/shared/domain/blob-gc.js';
import { sweepUnrecordedBlobs } from '../../src/shared/domain/blob-orphans.js';
import { runIngestJob, type CrashStep } from '../../src/shared/domain/ingest-commit.js';
import { MaintenanceBusyError, withMaintenanceLock } from '../../src/shared/records/maintenance-lock.js';
import { rebuildIndex } from '../../src/shared/domain/index-rebuild.js';
import { sweepStaging } from '../../src/shared/domain/staging-janitor.js';
import { storeTempDir, sweepStoreTemp } from '../../src/shared/storage/store-temp.js';
import { tempPathFor } from '../../src/shared/storage/durable-fs.js';
import { OWNER_TTL_MS, liveWriters, registerWriter, writerOfFile } from '../../src/shared/storage/writers.js';
import { createLogger } from '../../src/shared/logger.js';
import type { WorkerContext } from '../../src/workers/context.js';
import type { World } from '../helpers/world.js';
import { stageFileJob } from '../helpers/ingest-jobs.js';
import { until } from '../helpers/wait.js';
import { closeDrivenWorker, openDrivenWorker } from '../helpers/driven-worker.js';

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const noProgress = async () => undefined;
const silent = createLogger({ logLevel: 'silent' }, 'test');

describe('blob safety', () => {
  let world: World;
  let ctx: WorkerContext;

  beforeAll(async () => {
    // The test drives runIngestJob, GC and the sweeps itself; no BullMQ worker runs.
    ({ world, ctx } = await openDrivenWorker());
  });
  afterAll(() => closeDrivenWorker(world, ctx));

  const stageJob = (bytes: Buffer, fileId?: string) => stageFileJob(world, bytes, fileId);

  /** The state a delete leaves once GC_GRACE_SECONDS have passed: the file gone, its blob unreferenced and due. */
  async function deleteAndAge(fileId: string, digest: string) {
    await world.api.db.$executeRaw`UPDATE files SET deleted_at = now() WHERE id = ${fileId}::uuid`;
    await world.api.db.$executeRaw`UPDATE blobs SET ref_count = 0, orphaned_at = now() - interval '30 days' WHERE sha256 = ${digest}`;
  }

  const gcDeps = () => ({ db: world.api.db, config: world.config, blobStore: ctx.blobStore, logger: silent });
  const ingestWithHook = (hook: (step: CrashStep) => Promise<void> | void) => ({ ...ctx, crashPoint: hook });

  async function download(fileId: string) {
    const token = await world.token('readonly');
    return request(world.app).get(`/api/v1/files/${fileId}`).set('Authorization', `Bearer ${token}`).buffer(true)
      .parse((res, cb) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => cb(null, Buffer.concat(chunks)));
      });
  }

  it('GC that runs while an ingest of the same bytes sits between put and commit leaves the bytes alone', async () => {
    const bytes = randomBytes(30_000);
    const digest = sha(bytes);
    const first = await runIngestJob(ctx, (await stageJob(bytes)).id, noProgress);
    await deleteAndAge(first.fileId!, digest);

    const again = await stageJob(bytes);
    let gcResult: { removed: boolean } | undefined;
    const outcome = await runIngestJob(
      ingestWithHook(async (step) => {
        // The put found the bytes present and reused them; GC runs to completion before the commit.
        if (step === 'after-blob') gcResult = await runBlobGc(gcDeps(), digest);
      }),
      again.id,
      noProgress,
    );
    expect(gcResult).toEqual({ removed: false });
    expect(outcome.state).toBe('committed');
    expect(await ctx.blobStore.stat(digest)).toEqual(expect.objectContaining({ size: bytes.length }));
    expect((await world.api.db.blob.findUniqueOrThrow({ where: { sha256: digest } })).refCount).toBe(1);
    const res = await download(again.fileId);
    expect(res.status).toBe(200);
    expect(sha(res.body as Buffer)).toBe(digest);
  });

  it('an ingest that meets a blob GC has marked finishes that GC, then stores the bytes anew from its staged copy', async () => {
    const bytes = randomBytes(20_000);
    const digest = sha(bytes);
    const first = await runIngestJob(ctx, (await stageJob(bytes)).id, noProgress);
    await deleteAndAge(first.fileId!, digest);
    await world.api.db.$executeRaw`UPDATE blobs SET gc_started_at = now() WHERE sha256 = ${digest}`;

    const again = await stageJob(bytes);
    const outcome = await runIngestJob(ctx, again.id, noProgress);
    expect(outcome).toMatchObject({ state: 'committed', blobCreated: true });
    // The marked run finished: its WAL entry committed, the blob row made anew with this job's reference.
    const gcEntries = await world.api.db.walEntry.findMany({ where: { operation: 'blob_gc', payload: { path: ['sha256'], equals: digest } } });
    expect(gcEntries.map((e) => e.status)).toContain('committed');
    expect(await world.api.db.blob.findUniqueOrThrow({ where: { sha256: digest } })).toMatchObject({ refCount: 1, gcStartedAt: null });
    expect(sha((await download(again.fileId)).body as Buffer)).toBe(digest);
    // The deleted file's row went with the collected blob; the new one stands.
    expect(await world.api.db.file.count({ where: { sha256: digest } })).toBe(1);
  });

  it('a good re-upload repairs a blob the scrub marked corrupt, for the old file too', async () => {
    const bytes = randomBytes(10_000);
    const digest = sha(bytes);
    const first = await runIngestJob(ctx, (await stageJob(bytes)).id, noProgress);
    const blobFile = path.join(world.config.storagePath, ctx.blobStore.keyFor(digest));
    await fs.chmod(blobFile, 0o640);
    await fs.writeFile(blobFile, randomBytes(bytes.length));
    await world.api.db.$executeRaw`UPDATE blobs SET corrupt_at = now(), corrupt_reason = 'mismatch' WHERE sha256 = ${digest}`;
    expect((await download(first.fileId!)).status).toBe(409);

    const again = await runIngestJob(ctx, (await stageJob(bytes)).id, noProgress);
    expect(again.state).toBe('duplicate');
    const blob = await world.api.db.blob.findUniqueOrThrow({ where: { sha256: digest } });
    expect(blob).toMatchObject({ corruptAt: null, corruptReason: null, refCount: 2 });
    expect(sha(await fs.readFile(blobFile))).toBe(digest);
    for (const fileId of [first.fileId!, again.fileId!]) {
      const res = await download(fileId);
      expect(res.status).toBe(200);
      expect(sha(res.body as Buffer)).toBe(digest);
    }
  });

  it('replaces stored bytes of the wrong size, and unrecorded bytes, with the verified upload', async () => {
    const bytes = randomBytes(12_000);
    const digest = sha(bytes);
    const first = await runIngestJob(ctx, (await stageJob(bytes)).id, noProgress);
    const blobFile = path.join(world.config.storagePath, ctx.blobStore.keyFor(digest));
    await fs.chmod(blobFile, 0o640);
    await fs.truncate(blobFile, 100);
    await runIngestJob(ctx, (await stageJob(bytes)).id, noProgress);
    expect(sha(await fs.readFile(blobFile))).toBe(digest);
    expect(sha((await download(first.fileId!)).body as Buffer)).toBe(digest);

    // Bytes of the right size that no row vouches for (left by someone else) are not trusted either.
    const other = randomBytes(9_000);
    const otherDigest = sha(other);
    const otherFile = path.join(world.config.storagePath, ctx.blobStore.keyFor(otherDigest));
    await fs.mkdir(path.dirname(otherFile), { recursive: true });
    await fs.writeFile(otherFile, randomBytes(other.length));
    const stored = await runIngestJob(ctx, (await stageJob(other)).id, noProgress);
    expect(stored.state).toBe('committed');
    expect(sha(await fs.readFile(otherFile))).toBe(otherDigest);
  });

  it('a failed ingest frees its client-chosen file id, and its cleanup never removes the next upload\'s attr.json', async () => {
    const fileId = randomUUID();
    const bad = await stageJob(randomBytes(1_000), fileId);
    // While the first job holds the id, a second job with it cannot even be recorded.
    await expect(stageJob(randomBytes(10), fileId)).rejects.toMatchObject({ code: 'conflict' });
    await expect(world.api.db.$executeRaw`
      INSERT INTO file_jobs (id, kind, state, principal, file_name, content_type, size, file_id)
      VALUES (${randomUUID()}::uuid, 'ingest', 'queued', 'bob', 'y', 'application/octet-stream', 1, ${fileId}::uuid)`).rejects.toThrow();
    await world.api.db.fileJob.update({ where: { id: bad.id }, data: { declaredSha256: '0'.repeat(64) } });
    await expect(runIngestJob(ctx, bad.id, noProgress)).rejects.toMatchObject({ code: 'checksum_mismatch' });
    const { failIngest } = await import('../../src/shared/domain/ingest-commit.js');
    await failIngest(ctx, bad.id, 'checksum_mismatch', 'declared sha256 differs');

    const good = randomBytes(2_000);
    const next = await stageJob(good, fileId);
    expect((await runIngestJob(ctx, next.id, noProgress)).state).toBe('committed');
    // A late, repeated failure of the first job must leave the committed file's record alone.
    await failIngest(ctx, bad.id, 'checksum_mismatch', 'declared sha256 differs');
    const row = await world.api.db.file.findUniqueOrThrow({ where: { id: fileId } });
    const attr = await ctx.attrStore.read(row.attrPath);
    expect(attr?.sha256).toBe(sha(good));
  });

  it('a failed ingest ends failed even when its attr.json cannot be removed', async () => {
    const job = await stageJob(randomBytes(500));
    await world.api.db.fileJob.update({ where: { id: job.id }, data: { declaredSha256: '0'.repeat(64) } });
    await expect(runIngestJob(ctx, job.id, noProgress)).rejects.toMatchObject({ code: 'checksum_mismatch' });
    // The WAL entry is pending only once the checksum passed; make it so, with an attr "file" unlink refuses.
    const { attrRelativePath } = await import('../../src/shared/storage/attr-files.js');
    const attrPath = attrRelativePath(job.fileId, job.createdAt);
    await fs.mkdir(path.join(world.config.storagePath, attrPath, 'inside'), { recursive: true });
    await world.api.db.walEntry.create({
      data: { txId: randomUUID(), operation: 'file_create', status: 'pending', fileId: job.fileId, jobId: job.id, actor: 'alice', payload: { attrPath } },
    });
    const { failIngest } = await import('../../src/shared/domain/ingest-commit.js');
    await failIngest(ctx, job.id, 'checksum_mismatch', 'declared sha256 differs');
    expect((await world.api.db.fileJob.findUniqueOrThrow({ where: { id: job.id } })).state).toBe('failed');
    await fs.rm(path.join(world.config.storagePath, attrPath), { recursive: true });
  });

  it('commits wait while a rebuild holds the maintenance lock, and a second rebuild is refused', async () => {
    const bytes = randomBytes(5_000);
    const job = await stageJob(bytes);
    let committing: Promise<unknown> | undefined;
    await withMaintenanceLock(world.api.db, async () => {
      committing = runIngestJob(ctx, job.id, noProgress);
      // The commit statement is queued behind the lock...
      await until('the commit to wait for the lock', async () => {
        const [row] = await world.api.db.$queryRaw<Array<{ n: bigint }>>`
          SELECT count(*) AS n FROM pg_locks WHERE locktype = 'advisory' AND NOT granted
            AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`;
        return Number(row?.n ?? 0) > 0;
      });
      expect((await world.api.db.fileJob.findUniqueOrThrow({ where: { id: job.id } })).state).toBe('committing');
      // ...and a second maintenance run does not queue for hours: it is refused.
      await expect(rebuildIndex({ db: world.api.db, config: world.config, blobStore: ctx.blobStore, logger: silent })).rejects.toBeInstanceOf(MaintenanceBusyError);
    });
    await committing;
    expect((await world.api.db.fileJob.findUniqueOrThrow({ where: { id: job.id } })).state).toBe('committed');
    expect((await world.api.db.blob.findUniqueOrThrow({ where: { sha256: sha(bytes) } })).refCount).toBe(1);
  });

  it('adopts blob files no row describes, counts them in capacity, and GC reclaims them', async () => {
    // (A temp file beside the blobs, as older versions wrote them, is swept with them.)
    const bytes = randomBytes(7_000);
    const digest = sha(bytes);
    const file = path.join(world.config.storagePath, ctx.blobStore.keyFor(digest));
    await fs.mkdir(path.dirname(file), { recursive: true });
    await fs.writeFile(file, bytes);
    const staleTemp = `${file}.${randomUUID()}.tmp`;
    await fs.writeFile(staleTemp, 'partial');
    const old = new Date(Date.now() - 2 * 3_600_000);
    await fs.utimes(staleTemp, old, old);

    const report = await sweepUnrecordedBlobs({ db: world.api.db, blobStore: ctx.blobStore, logger: silent });
    expect(report.adopted).toBeGreaterThanOrEqual(1);
    expect(report.temporariesRemoved).toBe(1);
    await expect(fs.stat(staleTemp)).rejects.toMatchObject({ code: 'ENOENT' });
    const blob = await world.api.db.blob.findUniqueOrThrow({ where: { sha256: digest } });
    expect(blob).toMatchObject({ refCount: 0, size: BigInt(bytes.length) });
    const [used] = await world.api.db.$queryRaw<Array<{ used: bigint }>>`SELECT sum(size)::bigint AS used FROM blobs`;
    expect(Number(used!.used)).toBeGreaterThanOrEqual(bytes.length);

    await world.api.db.$executeRaw`UPDATE blobs SET orphaned_at = now() - interval '30 days' WHERE sha256 = ${digest}`;
    expect(await runBlobGc(gcDeps(), digest)).toEqual({ removed: true });
    expect(await ctx.blobStore.stat(digest)).toBeNull();
  });

  it('removes what a dead writer left in STORAGE_PATH/tmp at once, never what a live one is writing', async () => {
    const live = await registerWriter(world.api.redis, world.config.queuePrefix, () => undefined);
    const dead = await registerWriter(world.api.redis, world.config.queuePrefix, () => undefined);
    await dead.close();
    const tempDir = storeTempDir(world.config.storagePath);
    const write = async (name: string, ageMs: number) => {
      const file = path.join(tempDir, name);
      await fs.mkdir(tempDir, { recursive: true });
      await fs.writeFile(file, '{');
      const when = new Date(Date.now() - ageMs);
      await fs.utimes(file, when, when);
      return file;
    };
    const ofDead = await write(`${dead.id}.${randomUUID()}.tmp`, 2 * OWNER_TTL_MS);
    const ofLive = await write(`${live.id}.${randomUUID()}.tmp`, 2 * OWNER_TTL_MS);
    const anonymousOld = await write(`${randomUUID()}.tmp`, 2 * 3_600_000);
    const anonymousYoung = await write(`${randomUUID()}.tmp`, 0);
    try {
      expect(await sweepStoreTemp(world.config.storagePath, (ids) => liveWriters(world.api.redis, world.config.queuePrefix, ids), Date.now(), 50)).toBe(2);
      await expect(fs.stat(ofDead)).rejects.toMatchObject({ code: 'ENOENT' });
      await expect(fs.stat(anonymousOld)).rejects.toMatchObject({ code: 'ENOENT' });
      expect((await fs.stat(ofLive)).isFile()).toBe(true);
      expect((await fs.stat(anonymousYoung)).isFile()).toBe(true);
      // Temp names carry the writer, wherever they go.
      expect(writerOfFile(tempPathFor('/x/blobs/aa/bb/abc', { tempDir, tempTag: live.id }))).toBe(live.id);
    } finally {
      await live.close();
    }
  });

  it('removes the staged file a finished job left behind: on its retry and in the janitor, whatever its age', async () => {
    const bytes = randomBytes(3_000);
    const job = await stageJob(bytes);
    expect((await runIngestJob(ctx, job.id, noProgress)).state).toBe('committed');
    // A run that died between its commit and removing the staged file.
    await fs.writeFile(job.stagedPath, bytes);
    expect((await runIngestJob(ctx, job.id, noProgress)).ranNow).toBe(false);
    await expect(fs.stat(job.stagedPath)).rejects.toMatchObject({ code: 'ENOENT' });

    await fs.writeFile(job.stagedPath, bytes);
    const inFlight = path.join(world.config.stagingPath, `${randomUUID()}.part`);
    await fs.writeFile(inFlight, 'an upload still being received');
    const report = await sweepStaging({ db: world.api.db, config: world.config, staging: world.api.staging, logger: silent });
    expect(report.removed).toBe(1);
    await expect(fs.stat(job.stagedPath)).rejects.toMatchObject({ code: 'ENOENT' });
    expect((await fs.stat(inFlight)).isFile()).toBe(true);
    await fs.rm(inFlight);
  });
});
