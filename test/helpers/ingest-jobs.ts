// Ingest jobs a test runs itself: bytes staged and recorded as the API would, BullMQ's copy removed so no worker
// takes it (the 'ingest-batch' job that carries small files), for tests that drive runIngestJob or runIngestBatch (and pause them) step by step.
import { randomUUID } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { queueJobIdOf } from '../../src/shared/domain/ingest-queue-jobs.js';
import { submitUpload } from '../../src/shared/domain/ingest-submit.js';
import { createLogger } from '../../src/shared/logger.js';
import type { World } from './world.js';

const silent = createLogger({ logLevel: 'silent' }, 'test');

export async function stageFileJob(world: World, bytes: Buffer, fileId?: string) {
  await fs.mkdir(world.config.stagingPath, { recursive: true });
  const stagedPath = path.join(world.config.stagingPath, `${randomUUID()}.part`);
  await fs.writeFile(stagedPath, bytes);
  const { jobs } = await submitUpload(
    { db: world.api.db, queues: world.api.queues, config: world.config, staging: world.api.staging, logger: silent },
    { sub: 'alice', role: 'user' },
    [{ stagedPath, fileName: 'x.bin', contentType: 'application/octet-stream', size: bytes.length }],
    { tags: [], metadata: {}, ...(fileId ? { fileId } : {}) },
  );
  // Keep BullMQ's copy from running: the test is the only runner.
  await world.api.queues.ingest.remove(queueJobIdOf(jobs[0]!));
  return { ...jobs[0]!, stagedPath };
}

/** Many files staged and recorded in one submitUpload call (one upload request), sha256 declared per file if given. */
export async function stageFileJobs(world: World, files: Buffer[], sha256?: string[]) {
  await fs.mkdir(world.config.stagingPath, { recursive: true });
  const stagedPaths = await Promise.all(files.map(async (bytes) => {
    const stagedPath = path.join(world.config.stagingPath, `${randomUUID()}.part`);
    await fs.writeFile(stagedPath, bytes);
    return stagedPath;
  }));
  const { jobs } = await submitUpload(
    { db: world.api.db, queues: world.api.queues, config: world.config, staging: world.api.staging, logger: silent },
    { sub: 'alice', role: 'user' },
    files.map((bytes, i) => ({ stagedPath: stagedPaths[i]!, fileName: `f${i}.bin`, contentType: 'application/octet-stream', size: bytes.length })),
    { tags: [], metadata: {}, ...(sha256 ? { sha256 } : {}) },
  );
  await Promise.all([...new Set(jobs.map(queueJobIdOf))].map((id) => world.api.queues.ingest.remove(id)));
  return jobs.map((j, i) => ({ ...j, stagedPath: stagedPaths[i]!, bytes: files[i]! }));
}

/** The id of the BullMQ job that carries a job row: its 'ingest-batch' job, or its own (a large file). */
export async function bullIdOf(world: World, rowId: string): Promise<string> {
  return queueJobIdOf(await world.api.db.fileJob.findUniqueOrThrow({ where: { id: rowId } }));
}
