// runIngestBatch (issue 12): staged uploads ingested as one unit. Each file keeps its own job row, outcome and error
// (a wrong checksum or a taken file id fails that file alone), a rerun changes nothing (BullMQ is at-least-once),
// and a batch stopped at any durable step commits every file exactly once when it runs again.
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { runIngestBatch, type BatchItemResult } from '../../src/shared/domain/ingest-batch.js';
import { CRASH_STEPS, failIngest } from '../../src/shared/domain/ingest-commit.js';
import { rebuildIndex } from '../../src/shared/domain/index-rebuild.js';
import { isAppError } from '../../src/shared/errors.js';
import { createLogger } from '../../src/shared/logger.js';
import { poolOf } from '../../src/shared/records/database.js';
import { attrRelativePath } from '../../src/shared/storage/attr-files.js';
import type { WorkerContext } from '../../src/workers/context.js';
import { jobFailureOf } from '../../src/workers/job-errors.js';
import { stageFileJob, stageFileJobs } from '../helpers/ingest-jobs.js';
import { findOrphans, type Orphans } from '../helpers/store-audit.js';
import { filesUnder } from '../helpers/wait.js';
import type { World } from '../helpers/world.js';
import { closeDrivenWorker, openDrivenWorker } from '../helpers/driven-worker.js';

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const silent = createLogger({ logLevel: 'silent' }, 'test');
type StagedJob = Awaited<ReturnType<typeof stageFileJobs>>[number];

/** A final state for a settled file, `error:<code>` for one whose run failed. */
function stateOf(result: BatchItemResult | undefined): string {
  if (!result) return 'no result';
  if (result.ok) return result.outcome.state;
  return `error:${isAppError(result.error) ? result.error.code : String(result.error)}`;
}

describe('ingest batch', () => {
  let world: World;
  let ctx: WorkerContext;
  /** Files rows that rebuild-index restored from attr.json files in this test (no job made them). */
  let restored: string[] = [];
  /** What the audit found before this test: a test answers only for what it leaves itself. */
  let before: Orphans;

  beforeAll(async () => {
    // Own database: rebuild-index recounts every blob's references, and the audit below looks at every row.
    ({ world, ctx } = await openDrivenWorker());
  });
  afterAll(() => closeDrivenWorker(world, ctx));

  const db = () => world.api.db;
  const blobFile = (digest: string) => path.join(world.config.storagePath, ctx.blobStore.keyFor(digest));

  /** As the worker settles a file whose run failed for good (job-errors.ts): the job row failed with its code. */
  async function settleFailures(results: Map<string, BatchItemResult>): Promise<void> {
    for (const [id, result] of results) {
      if (result.ok) continue;
      const failure = jobFailureOf(result.error);
      await failIngest(ctx, id, failure.code, failure.message);
    }
  }

  const audit = async () => {
    const found = await findOrphans({ config: world.config, db: poolOf(db()) });
    return Object.fromEntries(Object.entries(found).map(([k, list]) => [k, [...list].sort()])) as unknown as Orphans;
  };
  beforeEach(async () => {
    before = await audit();
    restored = [];
  });

  /** Store, attr.json files, staging, WAL and ref counts agree; no file row but those of jobs (and restored ones). */
  async function expectSettled(): Promise<void> {
    expect(await audit()).toEqual({ ...before, filesWithoutJob: [...before.filesWithoutJob, ...restored].sort() });
  }

  /** The job's file is committed (or a duplicate) with its own row, its bytes in the blob store and its attr.json. */
  async function expectStored(job: StagedJob, state: 'committed' | 'duplicate' = 'committed'): Promise<void> {
    const digest = sha(job.bytes);
    const row = await db().fileJob.findUniqueOrThrow({ where: { id: job.id } });
    expect(row).toMatchObject({ state, sha256: digest, fileId: job.fileId, errorCode: null });
    const file = await db().file.findUniqueOrThrow({ where: { id: job.fileId } });
    expect(file).toMatchObject({ sha256: digest, size: BigInt(job.bytes.length), deletedAt: null, attrPath: attrRelativePath(job.fileId, job.createdAt) });
    expect(sha(await fs.readFile(blobFile(digest)))).toBe(digest);
    const attr = await ctx.attrStore.read(file.attrPath);
    expect(attr).toMatchObject({ id: job.fileId, sha256: digest, size: job.bytes.length, blob: { sha256: digest, size: job.bytes.length } });
    const wal = await db().walEntry.findMany({ where: { jobId: job.id } });
    expect(wal.map((w) => w.status)).toEqual(['committed']);
    await expect(fs.stat(job.stagedPath)).rejects.toMatchObject({ code: 'ENOENT' });
  }

  const refCount = async (digest: string) => (await db().blob.findUniqueOrThrow({ where: { sha256: digest } })).refCount;

  /**
   * A backup restored into STORAGE_PATH holds a file with the job's (already accepted) file id, and rebuild-index
   * brings it into the index: the id is taken before the job commits. Its record sits where the job's attr.json
   * would go (same id, same upload hour), so a job that wrote before checking would overwrite it.
   */
  async function takeFileIdByRestore(job: StagedJob, donorFileId: string): Promise<string> {
    const donor = await db().file.findUniqueOrThrow({ where: { id: donorFileId } });
    const record = (await ctx.attrStore.read(donor.attrPath))!;
    const attrPath = attrRelativePath(job.fileId, job.createdAt);
    const createdAt = job.createdAt.toISOString();
    await ctx.attrStore.write(attrPath, { ...record, id: job.fileId, fileName: 'restored.bin', createdAt, updatedAt: createdAt });
    await rebuildIndex({ db: db(), config: world.config, blobStore: ctx.blobStore, logger: silent });
    expect(await db().file.findUnique({ where: { id: job.fileId } })).toMatchObject({ fileName: 'restored.bin', sha256: donor.sha256 });
    restored.push(job.fileId);
    return attrPath;
  }

  it('commits 30 of 32 files of one upload; a wrong checksum and a taken file id fail alone and leave nothing', async () => {
    const donorBytes = randomBytes(3_000);
    const donor = await stageFileJob(world, donorBytes);
    expect(stateOf((await runIngestBatch(ctx, [donor.id])).get(donor.id))).toBe('committed');

    const files = Array.from({ length: 32 }, (_, i) => randomBytes(1_000 + i * 397));
    const declared = files.map(sha);
    declared[7] = sha(randomBytes(64));
    const jobs = await stageFileJobs(world, files, declared);
    const [badSum, taken] = [jobs[7]!, jobs[20]!];
    const takenAttrPath = await takeFileIdByRestore(taken, donor.fileId);
    const takenAttrBefore = await fs.readFile(path.join(world.config.storagePath, takenAttrPath), 'utf8');

    const results = await runIngestBatch(ctx, jobs.map((j) => j.id));
    expect([...results.keys()].sort()).toEqual(jobs.map((j) => j.id).sort());
    const failed = Object.fromEntries([...results].filter(([, r]) => !r.ok).map(([id, r]) => [id, stateOf(r)]));
    expect(failed).toEqual({ [badSum.id]: 'error:checksum_mismatch', [taken.id]: 'error:conflict' });
    await settleFailures(results);

    for (const job of jobs.filter((j) => j !== badSum && j !== taken)) {
      expect(results.get(job.id)).toMatchObject({
        ok: true, outcome: { state: 'committed', fileId: job.fileId, sha256: sha(job.bytes), size: job.bytes.length, ranNow: true },
      });
      await expectStored(job);
      expect(await refCount(sha(job.bytes))).toBe(1);
    }
    for (const [job, code] of [[badSum, 'checksum_mismatch'], [taken, 'conflict']] as const) {
      expect(await db().fileJob.findUniqueOrThrow({ where: { id: job.id } })).toMatchObject({ state: 'failed', errorCode: code });
      await expect(fs.stat(job.stagedPath)).rejects.toMatchObject({ code: 'ENOENT' });
      expect((await db().walEntry.findMany({ where: { jobId: job.id } })).filter((w) => w.status === 'committed')).toEqual([]);
    }
    expect(await db().file.findUnique({ where: { id: badSum.fileId } })).toBeNull();
    await expect(fs.stat(path.join(world.config.storagePath, attrRelativePath(badSum.fileId, badSum.createdAt)))).rejects.toMatchObject({ code: 'ENOENT' });
    expect(await db().blob.findUnique({ where: { sha256: sha(badSum.bytes) } })).toBeNull();
    // The restored file under the taken id is untouched: its row, its attr.json, its reference to the donor's bytes.
    expect(await db().file.findUniqueOrThrow({ where: { id: taken.fileId } })).toMatchObject({ fileName: 'restored.bin', sha256: sha(donorBytes) });
    expect(await fs.readFile(path.join(world.config.storagePath, takenAttrPath), 'utf8')).toBe(takenAttrBefore);
    expect(await refCount(sha(donorBytes))).toBe(2);
    await expectSettled();
  });

  it('of two files with the same bytes in one batch, the earlier is committed and the later a duplicate of it', async () => {
    const same = randomBytes(5_000);
    const jobs = await stageFileJobs(world, [same, randomBytes(700), same]);
    const results = await runIngestBatch(ctx, jobs.map((j) => j.id));
    // As the one-by-one path decides: the file that commits second finds the first and records it as duplicateOf.
    expect(jobs.map((j) => stateOf(results.get(j.id)))).toEqual(['committed', 'committed', 'duplicate']);
    await expectStored(jobs[0]!);
    await expectStored(jobs[1]!);
    await expectStored(jobs[2]!, 'duplicate');
    expect(await db().fileJob.findUniqueOrThrow({ where: { id: jobs[2]!.id } })).toMatchObject({ duplicateOf: jobs[0]!.fileId });
    expect(await db().file.count({ where: { sha256: sha(same) } })).toBe(2);
    expect(await refCount(sha(same))).toBe(2);
    await expectSettled();
  });

  /** Everything a rerun of finished jobs must leave as it was: rows, ref counts, WAL, files on disk (with mtimes). */
  async function snapshot(jobIds: string[]) {
    const disk = await filesUnder(world.config.storagePath);
    return {
      jobs: await db().fileJob.findMany({ where: { id: { in: jobIds } }, orderBy: { id: 'asc' } }),
      files: await db().file.findMany({ orderBy: { id: 'asc' } }),
      blobs: await db().blob.findMany({ orderBy: { sha256: 'asc' } }),
      wal: await db().walEntry.findMany({ orderBy: { id: 'asc' } }),
      disk: await Promise.all(disk.sort().map(async (f) => `${f} ${(await fs.stat(f)).mtimeMs}`)),
    };
  }

  it('a rerun of a finished batch changes nothing: outcomes, rows, ref counts, WAL entries, files on disk', async () => {
    const files = Array.from({ length: 12 }, (_, i) => randomBytes(800 + i * 211));
    files[9] = files[2]!;
    const declared = files.map(sha);
    declared[5] = sha(randomBytes(8));
    const jobs = await stageFileJobs(world, files, declared);
    const ids = jobs.map((j) => j.id);
    const first = await runIngestBatch(ctx, ids);
    await settleFailures(first);
    expect(stateOf(first.get(jobs[5]!.id))).toBe('error:checksum_mismatch');
    expect(stateOf(first.get(jobs[9]!.id))).toBe('duplicate');
    const before = await snapshot(ids);

    const again = await runIngestBatch(ctx, ids);
    for (const job of jobs) {
      const earlier = first.get(job.id)!;
      if (!earlier.ok) {
        expect(again.get(job.id)).toMatchObject({ ok: true, outcome: { state: 'failed', ranNow: false } });
        continue;
      }
      const { state, fileId, sha256, size } = earlier.outcome;
      expect(again.get(job.id)).toMatchObject({ ok: true, outcome: { state, fileId, sha256, size, ranNow: false } });
    }
    expect(await snapshot(ids)).toEqual(before);
    await expectSettled();
  });

  it('a batch of finished and unfinished jobs: finished ones keep their outcome, a half-done one commits once', async () => {
    const files = Array.from({ length: 8 }, (_, i) => randomBytes(1_500 + i * 131));
    const declared = files.map(sha);
    declared[3] = sha(randomBytes(8));
    const jobs = await stageFileJobs(world, files, declared);
    const early = await runIngestBatch(ctx, [jobs[0]!.id, jobs[1]!.id, jobs[3]!.id]);
    await settleFailures(early);
    // Job 2 stopped after its blob and attr.json were written: committing, its WAL entry pending.
    const stopped = () => {
      throw new Error('stopped after attr.json');
    };
    const halfDone = await runIngestBatch({ ...ctx, crashPoint: (step) => (step === 'after-attr' ? stopped() : undefined) }, [jobs[2]!.id])
      .catch((err: unknown) => new Map([[jobs[2]!.id, { ok: false, error: err } as BatchItemResult]]));
    expect(halfDone.get(jobs[2]!.id)?.ok).toBe(false);
    expect(await db().fileJob.findUniqueOrThrow({ where: { id: jobs[2]!.id } })).toMatchObject({ state: 'committing' });

    const results = await runIngestBatch(ctx, [5, 0, 2, 3, 6, 1, 4, 7].map((i) => jobs[i]!.id));
    for (const i of [0, 1]) {
      const { fileId, sha256 } = (early.get(jobs[i]!.id) as Extract<BatchItemResult, { ok: true }>).outcome;
      expect(results.get(jobs[i]!.id)).toMatchObject({ ok: true, outcome: { state: 'committed', fileId, sha256, ranNow: false } });
    }
    expect(results.get(jobs[3]!.id)).toMatchObject({ ok: true, outcome: { state: 'failed', ranNow: false } });
    expect(await db().fileJob.findUniqueOrThrow({ where: { id: jobs[3]!.id } })).toMatchObject({ state: 'failed', errorCode: 'checksum_mismatch' });
    for (const i of [2, 4, 5, 6, 7]) {
      expect(results.get(jobs[i]!.id)).toMatchObject({ ok: true, outcome: { state: 'committed', fileId: jobs[i]!.fileId, ranNow: true } });
    }
    for (const i of [0, 1, 2, 4, 5, 6, 7]) {
      await expectStored(jobs[i]!);
      expect(await refCount(sha(jobs[i]!.bytes))).toBe(1);
    }
    await expectSettled();
  });

  for (const step of CRASH_STEPS) {
    it(`a batch stopped at ${step} and run again commits every file exactly once`, async () => {
      const files = Array.from({ length: 6 }, (_, i) => randomBytes(2_000 + i * 173));
      files[4] = files[1]!;
      const jobs = await stageFileJobs(world, files);
      const ids = jobs.map((j) => j.id);
      let stops = 0;
      const crashPoint = (at: string) => {
        if (at === step && stops++ === 0) throw new Error(`stopped at ${step}`);
      };
      // One batch step failing stops the files in it; whether the batch rejects or reports them is the batch's call.
      const first = await runIngestBatch({ ...ctx, crashPoint }, ids).catch(() => new Map<string, BatchItemResult>());
      expect(stops).toBeGreaterThan(0);
      expect([...first.values()].some((r) => !r.ok) || first.size === 0).toBe(true);

      const results = await runIngestBatch(ctx, ids);
      expect(jobs.map((j) => stateOf(results.get(j.id)))).toEqual(['committed', 'committed', 'committed', 'committed', 'duplicate', 'committed']);
      for (const [i, job] of jobs.entries()) await expectStored(job, i === 4 ? 'duplicate' : 'committed');
      expect(await refCount(sha(files[1]!))).toBe(2);
      expect(await db().file.count({ where: { id: { in: jobs.map((j) => j.fileId) } } })).toBe(6);
      await expectSettled();
    });
  }
});
