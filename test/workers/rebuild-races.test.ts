// rebuild-index while workers run: a deletion whose job has not released its reference yet, an ingest between its
// attr.json and its commit, and a maintenance lock a delete job waits for without its transaction timing out.
import { createHash, randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runBlobGc } from '../../src/shared/domain/blob-gc.js';
import { runDelete, runMetadataUpdate } from '../../src/shared/domain/file-jobs.js';
import { requestDelete, requestMetadataUpdate } from '../../src/shared/domain/file-requests.js';
import { rebuildIndex } from '../../src/shared/domain/index-rebuild.js';
import { runIngestJob } from '../../src/shared/domain/ingest-commit.js';
import { withMaintenanceLock } from '../../src/shared/records/maintenance-lock.js';
import { createLogger } from '../../src/shared/logger.js';
import type { WorkerContext } from '../../src/workers/context.js';
import { stageFileJob } from '../helpers/ingest-jobs.js';
import type { World } from '../helpers/world.js';
import { closeDrivenWorker, openDrivenWorker } from '../helpers/driven-worker.js';

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const noProgress = async () => undefined;
const silent = createLogger({ logLevel: 'silent' }, 'test');

describe('rebuild-index while workers commit', () => {
  let world: World;
  let ctx: WorkerContext;

  beforeAll(async () => {
    ({ world, ctx } = await openDrivenWorker());
  });
  afterAll(() => closeDrivenWorker(world, ctx));

  const deps = () => ({ db: world.api.db, queues: world.api.queues, config: world.config, logger: silent });
  const rebuild = () => rebuildIndex({ db: world.api.db, config: world.config, blobStore: ctx.blobStore, logger: silent });

  async function ingest(bytes: Buffer, hook?: Parameters<typeof runIngestJob>[0]['crashPoint']) {
    const job = await stageFileJob(world, bytes);
    return runIngestJob(hook ? { ...ctx, crashPoint: hook } : ctx, job.id, noProgress);
  }

  async function deleteJob(fileId: string) {
    const job = await requestDelete(deps(), { sub: 'op', role: 'operator' }, fileId);
    await world.api.queues.files.remove(job.id);
    return job;
  }

  it('keeps the reference of a deleted file until its delete job releases it, so shared bytes stay', async () => {
    const bytes = randomBytes(6_000);
    const digest = sha(bytes);
    const a = await ingest(bytes);
    const b = await ingest(bytes);
    expect((await world.api.db.blob.findUniqueOrThrow({ where: { sha256: digest } })).refCount).toBe(2);
    const del = await deleteJob(a.fileId!);

    await rebuild();
    // A's reference is still held: its delete job has not run.
    expect((await world.api.db.blob.findUniqueOrThrow({ where: { sha256: digest } })).refCount).toBe(2);
    // The deleted file stays deleted although its attr.json is not a tombstone yet.
    expect((await world.api.db.file.findUniqueOrThrow({ where: { id: a.fileId! } })).deletedAt).not.toBeNull();

    expect((await runDelete(ctx, del.id)).state).toBe('committed');
    const blob = await world.api.db.blob.findUniqueOrThrow({ where: { sha256: digest } });
    expect(blob.refCount).toBe(1);
    expect(await runBlobGc({ db: world.api.db, config: world.config, blobStore: ctx.blobStore, logger: silent }, digest)).toEqual({ removed: false });
    expect((await ctx.blobStore.stat(digest))?.size).toBe(bytes.length);
    expect((await world.api.db.file.findUniqueOrThrow({ where: { id: b.fileId! } })).deletedAt).toBeNull();
  });

  it('leaves an ingest between its attr.json and its commit to that commit, which then succeeds', async () => {
    const bytes = randomBytes(4_000);
    let report: Awaited<ReturnType<typeof rebuild>> | undefined;
    const outcome = await ingest(bytes, async (step) => {
      if (step === 'before-commit') report = await rebuild();
    });
    expect(report?.skipped.inFlight).toBe(1);
    expect(outcome.state).toBe('committed');
    expect(await world.api.db.file.count({ where: { id: outcome.fileId! } })).toBe(1);
    expect((await world.api.db.blob.findUniqueOrThrow({ where: { sha256: sha(bytes) } })).refCount).toBe(1);
  });

  it('restores from attr.json a live file whose update job is between attr.json and commit when --wipe runs', async () => {
    const bytes = randomBytes(5_000);
    const a = await ingest(bytes);
    const job = await requestMetadataUpdate(deps(), { sub: 'op', role: 'operator' }, a.fileId!, { description: 'after the wipe' });
    await world.api.queues.files.remove(job.id);
    let report: Awaited<ReturnType<typeof rebuild>> | undefined;
    const outcome = await runMetadataUpdate(
      {
        ...ctx,
        // Once: the job's next round (the wipe restored the row at the attr's new revision) commits undisturbed.
        beforeUpdateCommit: async () => {
          if (report) return;
          report = await rebuildIndex({ db: world.api.db, config: world.config, blobStore: ctx.blobStore, logger: silent }, { wipe: true });
        },
      },
      job.id,
    );
    expect(report?.wiped).toBe(true);
    expect(outcome.state).toBe('committed');
    const row = await world.api.db.file.findUniqueOrThrow({ where: { id: a.fileId! } });
    expect(row.deletedAt).toBeNull();
    expect(row.description).toBe('after the wipe');
    // Its bytes keep their reference: the GC leaves them.
    expect((await world.api.db.blob.findUniqueOrThrow({ where: { sha256: sha(bytes) } })).refCount).toBe(1);
    expect(await runBlobGc({ db: world.api.db, config: world.config, blobStore: ctx.blobStore, logger: silent }, sha(bytes))).toEqual({ removed: false });
  });

  it('keeps a shared blob referenced when --wipe runs between a delete job\'s WAL prepare and its tombstone', async () => {
    const bytes = randomBytes(5_500);
    const digest = sha(bytes);
    const a = await ingest(bytes);
    const b = await ingest(bytes);
    const del = await deleteJob(a.fileId!);
    let report: Awaited<ReturnType<typeof rebuild>> | undefined;
    const outcome = await runDelete(
      {
        ...ctx,
        beforeDeleteTombstone: async () => {
          report = await rebuildIndex({ db: world.api.db, config: world.config, blobStore: ctx.blobStore, logger: silent }, { wipe: true });
        },
      },
      del.id,
    );
    expect(report?.wiped).toBe(true);
    expect(outcome.state).toBe('committed');
    // A stays deleted (the wipe found its attr.json not yet a tombstone); B still holds the bytes.
    expect((await world.api.db.file.findUniqueOrThrow({ where: { id: a.fileId! } })).deletedAt).not.toBeNull();
    expect((await world.api.db.file.findUniqueOrThrow({ where: { id: b.fileId! } })).deletedAt).toBeNull();
    expect((await world.api.db.blob.findUniqueOrThrow({ where: { sha256: digest } })).refCount).toBe(1);
    expect(await runBlobGc({ db: world.api.db, config: world.config, blobStore: ctx.blobStore, logger: silent }, digest)).toEqual({ removed: false });
  });

  it('a delete job waits out a maintenance run longer than a transaction may last, then commits', async () => {
    const bytes = randomBytes(3_000);
    const a = await ingest(bytes);
    const del = await deleteJob(a.fileId!);
    let deleting: Promise<unknown> | undefined;
    await withMaintenanceLock(world.api.db, async () => {
      deleting = runDelete(ctx, del.id);
      // Longer than Prisma's 5 s interactive-transaction timeout: the job must not be failed by it.
      await new Promise((r) => setTimeout(r, 6_000));
      expect((await world.api.db.fileJob.findUniqueOrThrow({ where: { id: del.id } })).state).not.toBe('committed');
    });
    await deleting;
    expect((await world.api.db.fileJob.findUniqueOrThrow({ where: { id: del.id } })).state).toBe('committed');
    expect((await world.api.db.blob.findUniqueOrThrow({ where: { sha256: sha(bytes) } })).refCount).toBe(0);
  });
});
