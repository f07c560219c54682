// Retention and legal-hold changes are update jobs the worker may take in any order: an older request applied
// after a later one already was (and was answered as applied) must not undo it, e.g. a release of a hold undoing
// the hold set after it, which would leave the file deletable.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runMetadataUpdate } from '../../src/shared/domain/file-jobs.js';
import { requestDelete } from '../../src/shared/domain/file-requests.js';
import { runIngestJob } from '../../src/shared/domain/ingest-commit.js';
import type { Principal } from '../../src/shared/domain/principal.js';
import { requestRetentionChange } from '../../src/shared/domain/retention-requests.js';
import { createLogger } from '../../src/shared/logger.js';
import type { WorkerContext } from '../../src/workers/context.js';
import { closeDrivenWorker, openDrivenWorker } from '../helpers/driven-worker.js';
import { stageFileJob } from '../helpers/ingest-jobs.js';
import type { World } from '../helpers/world.js';

const silent = createLogger({ logLevel: 'silent' }, 'test');
const operator: Principal = { sub: 'olga', role: 'operator' };

describe('retention and hold changes applied out of order', () => {
  let world: World;
  let ctx: WorkerContext;

  beforeAll(async () => {
    ({ world, ctx } = await openDrivenWorker());
  });
  afterAll(() => closeDrivenWorker(world, ctx));

  const deps = () => ({ db: world.api.db, queues: world.api.queues, config: world.config, logger: silent });
  // Recorded and taken off the queue: the test runs each job itself, in the order it wants.
  const requestHold = async (fileId: string, on: boolean) => {
    const job = await requestRetentionChange(deps(), operator, fileId, { kind: 'legal-hold', on });
    await world.api.queues.files.remove(job.id);
    return job;
  };

  it('an older release applied after a later hold fails with 409 conflict and the file stays held and undeletable', async () => {
    const staged = await stageFileJob(world, randomBytes(700));
    const { fileId } = await runIngestJob(ctx, staged.id, async () => undefined);
    const first = await requestHold(fileId!, true);
    expect((await runMetadataUpdate(ctx, first.id)).state).toBe('committed');

    const release = await requestHold(fileId!, false);
    const holdAgain = await requestHold(fileId!, true);
    // The later request is applied first...
    expect((await runMetadataUpdate(ctx, holdAgain.id)).state).toBe('committed');
    // ...then the older one comes up.
    await expect(runMetadataUpdate(ctx, release.id)).rejects.toMatchObject({ code: 'conflict' });
    expect((await world.api.db.file.findUniqueOrThrow({ where: { id: fileId! } })).legalHold).toBe(true);
    await expect(requestDelete(deps(), { sub: 'root', role: 'admin' }, fileId!)).rejects.toMatchObject({ code: 'retention_active' });
  });

  it('applies requests in their own order as before', async () => {
    const staged = await stageFileJob(world, randomBytes(800));
    const { fileId } = await runIngestJob(ctx, staged.id, async () => undefined);
    const on = await requestHold(fileId!, true);
    const off = await requestHold(fileId!, false);
    expect((await runMetadataUpdate(ctx, on.id)).state).toBe('committed');
    expect((await runMetadataUpdate(ctx, off.id)).state).toBe('committed');
    expect((await world.api.db.file.findUniqueOrThrow({ where: { id: fileId! } })).legalHold).toBe(false);
  });
});
