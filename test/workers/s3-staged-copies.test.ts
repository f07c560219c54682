// With staging in the bucket a worker hashes and stores its own copy of each staged upload (SPEC §8): the copy is
// gone from the worker's scratch directory however the run ends (a step that throws, a batch, a commit), and the
// staged object stays until the job is final, so a run that stopped can always start again.
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import fs from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runIngestBatch } from '../../src/shared/domain/ingest-batch.js';
import { runIngestJob, type CrashStep } from '../../src/shared/domain/ingest-commit.js';
import { createLogger } from '../../src/shared/logger.js';
import { openWorkerContext, type WorkerContext } from '../../src/workers/context.js';
import { jobFailureOf } from '../../src/workers/job-errors.js';
import { ScratchFullError } from '../../src/shared/storage/staging-store.js';
import { createS3Client } from '../../src/shared/storage/s3-client.js';
import { submitUpload } from '../../src/shared/domain/ingest-submit.js';
import { queueJobIdOf } from '../../src/shared/domain/ingest-queue-jobs.js';
import { stageFileJobs } from '../helpers/ingest-jobs.js';
import { s3EnvOf, startS3Server, type S3TestServer } from '../helpers/s3-server.js';
import { createWorld, type World } from '../helpers/world.js';

const noProgress = async () => {};

describe('scratch copies of staged objects', () => {
  let server: S3TestServer;
  let world: World;
  let ctx: WorkerContext;

  beforeAll(async () => {
    server = await startS3Server();
    world = await createWorld({
      isolatedDatabase: true,
      env: s3EnvOf(server),
    });
    ctx = await openWorkerContext(world.config, createLogger({ logLevel: 'silent' }, 'test'));
  });
  afterAll(async () => {
    await ctx?.close();
    await world?.close();
    await server?.close();
  });

  const copiesLeft = () => fs.readdir(path.join(world.config.stagingPath, 'fetched')).catch(() => [] as string[]);
  const stopAt = (at: CrashStep) => (step: CrashStep) => {
    if (step === at) throw new Error(`stopped at ${at}`);
  };
  const stagedObjects = async () => {
    const refs: string[] = [];
    for await (const e of ctx.staging.list()) refs.push(e.ref);
    return refs;
  };

  it('releases the copy when a run stops after the hash or the WAL, and the next run commits from the staged object', async () => {
    const [job] = await stageFileJobs(world, [randomBytes(5_000)]);
    for (const at of ['after-hash', 'after-wal', 'after-blob'] as const) {
      await expect(runIngestJob({ ...ctx, crashPoint: stopAt(at) }, job!.id, noProgress)).rejects.toThrow(`stopped at ${at}`);
      expect(await copiesLeft()).toEqual([]);
      expect(await stagedObjects()).toContain((await world.api.db.fileJob.findUniqueOrThrow({ where: { id: job!.id } })).stagedPath);
    }
    const outcome = await runIngestJob(ctx, job!.id, noProgress);
    expect(outcome.state).toBe('committed');
    expect(await copiesLeft()).toEqual([]);
    expect(await stagedObjects()).toEqual([]);
  });

  it('releases every copy of a batch, whichever files failed and whichever committed', async () => {
    const jobs = await stageFileJobs(world, Array.from({ length: 6 }, () => randomBytes(2_000)));
    const stopped = await runIngestBatch({ ...ctx, crashPoint: stopAt('after-wal') }, jobs.map((j) => j.id));
    expect([...stopped.values()].every((r) => !r.ok)).toBe(true);
    expect(await copiesLeft()).toEqual([]);
    const done = await runIngestBatch(ctx, jobs.map((j) => j.id));
    expect([...done.values()].map((r) => r.ok && r.outcome.state)).toEqual(jobs.map(() => 'committed'));
    expect(await copiesLeft()).toEqual([]);
    expect(await stagedObjects()).toEqual([]);
  });

  it('never fails a job when the worker cannot use the store (a missing bucket) or its disk is full: it runs again later', async () => {
    const [job] = await stageFileJobs(world, [randomBytes(3_000)]);
    const misconfigured = await openWorkerContext({ ...world.config, s3: { ...world.config.s3!, bucket: 'no-such-bucket-here' } }, createLogger({ logLevel: 'silent' }, 'test'));
    try {
      const err = await runIngestJob(misconfigured, job!.id, noProgress).then(() => null, (e: unknown) => e);
      expect(err).not.toBeNull();
      expect(jobFailureOf(err)).toMatchObject({ code: 'unavailable' });
    } finally {
      await misconfigured.close();
    }
    // The staged object is still there for the run that comes once the bucket is right.
    expect(await stagedObjects()).toContain((await world.api.db.fileJob.findUniqueOrThrow({ where: { id: job!.id } })).stagedPath);
    expect(await copiesLeft()).toEqual([]);
    expect((await runIngestJob(ctx, job!.id, noProgress)).state).toBe('committed');
    // ENOSPC from a real device that is always full.
    const full = await fs.writeFile('/dev/full', 'x').then(() => null, (e: unknown) => e);
    expect(jobFailureOf(full)).toMatchObject({ code: 'unavailable' });
  });

  it("stops (to run again) when its own copy vanishes, never taking the staged object for gone", async () => {
    const [job] = await stageFileJobs(world, [randomBytes(4_000)]);
    // Test hook at the exact step: the copy is removed between its download and its hash (a sweep, an operator).
    const vanishing = {
      ...ctx,
      staging: Object.assign(Object.create(ctx.staging) as typeof ctx.staging, {
        localCopy: async (ref: string) => {
          const copy = await ctx.staging.localCopy(ref);
          if (copy) await fs.rm(copy.path);
          return copy;
        },
      }),
    };
    await expect(runIngestJob(vanishing, job!.id, noProgress)).rejects.toMatchObject({ code: 'unavailable' });
    const row = await world.api.db.fileJob.findUniqueOrThrow({ where: { id: job!.id } });
    expect(row.state).not.toBe('failed');
    expect(await stagedObjects()).toContain(row.stagedPath);
    expect((await runIngestJob(ctx, job!.id, noProgress)).state).toBe('committed');
    expect(jobFailureOf(new ScratchFullError(10, 5))).toMatchObject({ code: 'unavailable' });
  });

  // The API records the digest of the part it wrote to its scratch file (issue 12); the object crossed the network
  // to the bucket and back since. The worker's copy is hashed, never taken on the API's word: whatever bytes it
  // commits are stored under their own sha256.
  it('hashes its copy even when the job has a recorded digest: bytes that changed in the bucket are stored under their own sha256', async () => {
    const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
    const sent = randomBytes(7_000);
    const local = path.join(world.config.stagingPath, `${randomUUID()}.part`);
    await fs.mkdir(world.config.stagingPath, { recursive: true });
    await fs.writeFile(local, sent);
    const silent = createLogger({ logLevel: 'silent' }, 'test');
    const { jobs } = await submitUpload(
      { db: world.api.db, queues: world.api.queues, config: world.config, staging: world.api.staging, logger: silent },
      { sub: 'alice', role: 'user' },
      [{ stagedPath: local, fileName: 'x.bin', contentType: 'application/octet-stream', size: sent.length, sha256: sha(sent) }],
      { tags: [], metadata: {} },
    );
    const job = jobs[0]!;
    await world.api.queues.ingest.remove(queueJobIdOf(job));
    expect(job.stagedSha256).toBe(sha(sent));
    // The staged object is not what the API hashed any more (same size).
    const other = randomBytes(sent.length);
    const s3 = createS3Client(world.config.s3!);
    try {
      await s3.send(new PutObjectCommand({ Bucket: world.config.s3!.bucket, Key: job.stagedPath!, Body: other }));
    } finally {
      s3.destroy();
    }
    const outcome = await runIngestJob(ctx, job.id, noProgress);
    expect(outcome).toMatchObject({ state: 'committed', sha256: sha(other), hashedBytes: other.length });
    const stored = await ctx.blobStore.stat(sha(other));
    expect(stored?.size).toBe(other.length);
    expect(await ctx.blobStore.stat(sha(sent))).toBeNull();
  });

  it('refuses to commit on stored bytes nothing vouches for once the staged upload is gone', async () => {
    const [job] = await stageFileJobs(world, [randomBytes(6_000)]);
    await expect(runIngestJob({ ...ctx, crashPoint: stopAt('after-blob') }, job!.id, noProgress)).rejects.toThrow('stopped at after-blob');
    const row = await world.api.db.fileJob.findUniqueOrThrow({ where: { id: job!.id } });
    await ctx.staging.remove([row.stagedPath!]);
    await expect(runIngestJob(ctx, job!.id, noProgress)).rejects.toMatchObject({ code: 'staged_file_missing' });
    expect(await world.api.db.file.count({ where: { id: row.fileId } })).toBe(0);
  });
});
