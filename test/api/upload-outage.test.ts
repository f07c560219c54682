// An upload whose job INSERT committed while the connection to PostgreSQL dropped before its answer: the client saw
// an error, but the jobs exist and their staged files are their only copy. The retry (same Idempotency-Key) gets
// the jobs, which run and commit; nothing acknowledged is lost.
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runIngestJob } from '../../src/shared/domain/ingest-commit.js';
import { queueJobIdOf } from '../../src/shared/domain/ingest-queue-jobs.js';
import { submitUpload, type SubmitDeps } from '../../src/shared/domain/ingest-submit.js';
import { createLogger } from '../../src/shared/logger.js';
import { openWorkerContext, type WorkerContext } from '../../src/workers/context.js';
import { until } from '../helpers/wait.js';
import { createWorld, type World } from '../helpers/world.js';

const silent = createLogger({ logLevel: 'silent' }, 'test');
const connectionLost = () => Promise.reject(new Error('Connection terminated unexpectedly'));

describe('an upload interrupted by a database outage around its INSERT', () => {
  let world: World;
  let ctx: WorkerContext;

  beforeAll(async () => {
    world = await createWorld({ worker: false });
    ctx = await openWorkerContext(world.config, silent);
  });
  afterAll(async () => {
    await ctx?.close();
    await world?.close();
  });

  async function stage(bytes: Buffer) {
    await fs.mkdir(world.config.stagingPath, { recursive: true });
    const stagedPath = path.join(world.config.stagingPath, `${randomUUID()}.part`);
    await fs.writeFile(stagedPath, bytes);
    return [{ stagedPath, fileName: 'x.bin', contentType: 'application/octet-stream', size: bytes.length }];
  }

  const deps = (extra: Partial<SubmitDeps> = {}): SubmitDeps => ({ db: world.api.db, queues: world.api.queues, config: world.config, staging: world.api.staging, logger: silent, ...extra });

  it('keeps the staged file of a job that was recorded, and the retry runs it to a committed file', async () => {
    const bytes = randomBytes(4_000);
    const key = randomUUID();
    const first = await stage(bytes);
    await expect(submitUpload(deps({ afterRecord: connectionLost }), { sub: 'alice', role: 'user' }, first, { tags: [], metadata: {} }, key)).rejects.toThrow(
      'Connection terminated',
    );
    expect((await fs.stat(first[0]!.stagedPath)).size).toBe(bytes.length);

    // The client retries with the same key: a replay, and the recorded job is enqueued again.
    const retry = await submitUpload(deps(), { sub: 'alice', role: 'user' }, await stage(bytes), { tags: [], metadata: {} }, key);
    expect(retry.replayed).toBe(true);
    const jobId = retry.jobs[0]!.id;
    expect(await world.api.queues.ingest.getJob(queueJobIdOf(retry.jobs[0]!))).toBeTruthy();
    await world.api.queues.ingest.remove(queueJobIdOf(retry.jobs[0]!));
    const outcome = await runIngestJob(ctx, jobId, async () => undefined);
    expect(outcome.state).toBe('committed');
    expect(outcome.sha256).toBe(createHash('sha256').update(bytes).digest('hex'));
  });

  it('removes the staged file once the database says no job was recorded', async () => {
    const staged = await stage(randomBytes(100));
    const stagedPath = staged[0]!.stagedPath;
    // As if the INSERT had not committed when the connection dropped: no row names the file.
    const neverRecorded = async () => {
      await world.api.db.$executeRaw`DELETE FROM file_jobs WHERE staged_path = ${stagedPath}`;
      await connectionLost();
    };
    await expect(submitUpload(deps({ afterRecord: neverRecorded }), { sub: 'alice', role: 'user' }, staged, { tags: [], metadata: {} })).rejects.toThrow(
      'Connection terminated',
    );
    // Kept while it is unknown, removed once the database answers that no job owns it.
    expect((await fs.stat(stagedPath)).isFile()).toBe(true);
    await until('the staged file to be removed', () => fs.stat(stagedPath).then(() => false, () => true), 20_000, 100);
  });

  it('never records (or acknowledges) an upload whose staged file vanished before the INSERT', async () => {
    const staged = await stage(randomBytes(50));
    await fs.rm(staged[0]!.stagedPath);
    await expect(submitUpload(deps(), { sub: 'alice', role: 'user' }, staged, { tags: [], metadata: {} })).rejects.toMatchObject({ code: 'unavailable' });
    expect(await world.api.db.fileJob.count({ where: { stagedPath: staged[0]!.stagedPath } })).toBe(0);
  });
});
