// The worker's hash step with the digest the API recorded while staging (issue 12): a local staged file with a
// recorded digest is not read again, a job without one is hashed as before, and a staged file that lost bytes since
// the API hashed it still fails; a declared sha256 that differs is still checksum_mismatch.
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { runIngestBatch } from '../../src/shared/domain/ingest-batch.js';
import { runIngestJob } from '../../src/shared/domain/ingest-commit.js';
import { submitUpload } from '../../src/shared/domain/ingest-submit.js';
import { hasRecordedDigest } from '../../src/shared/domain/staged-digest.js';
import { getFileJob } from '../../src/shared/records/file-jobs.js';
import { createLogger } from '../../src/shared/logger.js';
import type { WorkerContext } from '../../src/workers/context.js';
import { closeDrivenWorker, openDrivenWorker } from '../helpers/driven-worker.js';
import type { World } from '../helpers/world.js';

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const silent = createLogger({ logLevel: 'silent' }, 'test');
const noProgress = async () => {};

describe('the staged digest the API recorded', () => {
  let world: World;
  let ctx: WorkerContext;
  beforeAll(async () => {
    ({ world, ctx } = await openDrivenWorker());
  });
  afterAll(() => closeDrivenWorker(world, ctx));
  afterEach(() => vi.restoreAllMocks());

  /** One file staged and recorded as the upload route does: with the staging engine's digest, or without one. */
  async function stage(bytes: Buffer, opts: { apiDigest?: string | null; declared?: string } = {}) {
    await fs.mkdir(world.config.stagingPath, { recursive: true });
    const stagedPath = path.join(world.config.stagingPath, `${randomUUID()}.part`);
    await fs.writeFile(stagedPath, bytes);
    const apiDigest = opts.apiDigest === undefined ? sha(bytes) : opts.apiDigest;
    const { jobs } = await submitUpload(
      { db: world.api.db, queues: world.api.queues, config: world.config, staging: world.api.staging, logger: silent },
      { sub: 'alice', role: 'user' },
      [{ stagedPath, fileName: 'x.bin', contentType: 'application/octet-stream', size: bytes.length, ...(apiDigest ? { sha256: apiDigest } : {}) }],
      { tags: [], metadata: {}, ...(opts.declared ? { sha256: [opts.declared] } : {}) },
    );
    await world.api.queues.ingest.remove(jobs[0]!.id);
    return { job: jobs[0]!, stagedPath };
  }

  it('records the digest with the job and commits without hashing the staged file again', async () => {
    const bytes = randomBytes(200_000);
    const { job } = await stage(bytes);
    expect(job.stagedSha256).toBe(sha(bytes));
    const hashFile = vi.spyOn(ctx.hashPool, 'hashFile');
    const outcome = await runIngestJob(ctx, job.id, noProgress);
    // Nothing was hashed: no hash time either (hash_seconds_total / hashed_bytes_total is the pool's throughput).
    expect(outcome).toMatchObject({ state: 'committed', sha256: sha(bytes), size: bytes.length, hashedBytes: 0, hashSeconds: 0 });
    expect(hashFile).not.toHaveBeenCalled();
    const stored = await fs.readFile(path.join(world.config.storagePath, ctx.blobStore.keyFor(sha(bytes))));
    expect(sha(stored)).toBe(sha(bytes));
  });

  it('hashes the staged file in the worker when the job has no recorded digest (older jobs, resumed uploads)', async () => {
    const bytes = randomBytes(200_000);
    const { job } = await stage(bytes, { apiDigest: null });
    expect(job.stagedSha256).toBeNull();
    const hashFile = vi.spyOn(ctx.hashPool, 'hashFile');
    const outcome = await runIngestJob(ctx, job.id, noProgress);
    expect(outcome).toMatchObject({ state: 'committed', sha256: sha(bytes), hashedBytes: bytes.length });
    expect(hashFile).toHaveBeenCalledTimes(1);
  });

  it('hashes in the batch too when some files have a recorded digest and others not', async () => {
    const a = randomBytes(3_000);
    const b = randomBytes(3_000);
    const withDigest = await stage(a);
    const without = await stage(b, { apiDigest: null });
    const hashFile = vi.spyOn(ctx.hashPool, 'hashFile');
    const results = await runIngestBatch(ctx, [withDigest.job.id, without.job.id]);
    expect(results.get(withDigest.job.id)).toMatchObject({ ok: true, outcome: { state: 'committed', sha256: sha(a), hashedBytes: 0, hashSeconds: 0 } });
    expect(results.get(without.job.id)).toMatchObject({ ok: true, outcome: { state: 'committed', sha256: sha(b) } });
    expect(hashFile.mock.calls.map((c) => c[0])).toEqual([without.stagedPath]);
  });

  it('fails a declared sha256 that differs from the recorded digest as checksum_mismatch, and commits nothing', async () => {
    const bytes = randomBytes(50_000);
    const { job, stagedPath } = await stage(bytes, { declared: sha(Buffer.from('something else')) });
    await expect(runIngestJob(ctx, job.id, noProgress)).rejects.toMatchObject({ code: 'checksum_mismatch' });
    expect(await world.api.db.blob.findUnique({ where: { sha256: sha(bytes) } })).toBeNull();
    // The staged file stays for the failure path (failIngest), which the processor runs on a final error.
    await expect(fs.stat(stagedPath)).resolves.toBeTruthy();
  });

  it('fails a staged file that lost bytes after the API hashed it (the size is read from the file)', async () => {
    const bytes = randomBytes(50_000);
    const { job, stagedPath } = await stage(bytes);
    await fs.truncate(stagedPath, 40_000);
    await expect(runIngestJob(ctx, job.id, noProgress)).rejects.toMatchObject({ code: 'checksum_mismatch' });
    expect((await getFileJob(world.api.db, job.id)).sha256).toBeNull();
  });

  it('commits on the recorded digest in the run after one that stopped at any step, with the stored bytes matching it', async () => {
    for (const at of ['after-hash', 'after-wal', 'after-blob', 'after-attr'] as const) {
      const bytes = randomBytes(20_000);
      const { job } = await stage(bytes);
      const stopping = { ...ctx, crashPoint: (step: string) => { if (step === at) throw new Error(`stopped at ${at}`); } };
      await expect(runIngestJob(stopping, job.id, noProgress)).rejects.toThrow(`stopped at ${at}`);
      expect(await runIngestJob(ctx, job.id, noProgress)).toMatchObject({ state: 'committed', sha256: sha(bytes), hashedBytes: 0 });
      const stored = await fs.readFile(path.join(world.config.storagePath, ctx.blobStore.keyFor(sha(bytes))));
      expect(sha(stored)).toBe(sha(bytes));
    }
  });

  it('trusts a recorded digest only for the staged file itself, never for a copy of it', () => {
    const job = { stagedSha256: 'a'.repeat(64), stagedPath: '/staging/w1.x.part' };
    expect(hasRecordedDigest(job, '/staging/w1.x.part')).toBe(true);
    expect(hasRecordedDigest(job, '/scratch/copy-of-x')).toBe(false);
    expect(hasRecordedDigest({ ...job, stagedSha256: null }, '/staging/w1.x.part')).toBe(false);
  });
});
