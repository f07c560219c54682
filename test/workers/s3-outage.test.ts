// An S3 store that goes away (SPEC §8 "bad input and faults"): an upload that cannot reach it answers 503 and
// leaves nothing behind; an ingest job accepted before it went away is retried with backoff, never failed (and
// never taken for a corrupt blob), and commits once the store is back.
import { createHash, randomBytes } from 'node:crypto';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/shared/logger.js';
import { openWorkerContext, type WorkerContext } from '../../src/workers/context.js';
import { startWorkers, type RunningWorkers } from '../../src/workers/runner.js';
import { s3EnvOf, startS3Server, type S3TestServer } from '../helpers/s3-server.js';
import { bullIdOf } from '../helpers/ingest-jobs.js';
import { TcpProxy, targetOf } from '../helpers/tcp-proxy.js';
import { until } from '../helpers/wait.js';
import { createWorld, type World } from '../helpers/world.js';

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

describe('the S3 store unreachable', () => {
  let server: S3TestServer;
  let proxy: TcpProxy;
  let world: World;
  let token: string;
  let worker: WorkerContext | undefined;
  let running: RunningWorkers | undefined;

  beforeAll(async () => {
    server = await startS3Server();
    proxy = await TcpProxy.open(targetOf(server.endpoint));
    world = await createWorld({
      isolatedDatabase: true,
      env: { ...s3EnvOf(server, { endpoint: proxy.urlFor(server.endpoint).replace(/\/$/, '') }), JOB_ATTEMPTS: '8' },
    });
    token = await world.token('user', 'alice');
  });
  afterAll(async () => {
    await running?.close();
    await worker?.close();
    await world?.close();
    await proxy?.close();
    await server?.close();
  });

  it('answers an upload 503 unavailable and keeps nothing of it', async () => {
    proxy.cut();
    try {
      const res = await request(world.app).post('/api/v1/files/upload').set('Authorization', `Bearer ${token}`).attach('file', randomBytes(3_000), 'a.bin');
      expect(res.status, res.text).toBe(503);
      expect(res.body.code).toBe('unavailable');
      expect(await world.stagedFiles()).toEqual([]);
      expect(await world.api.db.fileJob.count()).toBe(0);
    } finally {
      await proxy.restore();
    }
  });

  it('retries an accepted job while the store is away and commits it once the store is back', async () => {
    const bytes = randomBytes(70_000);
    const res = await request(world.app).post('/api/v1/files/upload').set('Authorization', `Bearer ${token}`).attach('file', bytes, 'b.bin');
    expect(res.status, res.text).toBe(202);
    const jobId = res.body.jobs[0].id as string;
    proxy.cut();
    worker = await openWorkerContext(world.config, createLogger({ logLevel: 'silent' }, 'test'));
    running = await startWorkers(worker);
    // The first attempts fail on the store; the job stays open, not failed.
    const bullId = await bullIdOf(world, jobId);
    await until('an attempt failed on the unreachable store', async () => ((await world.api.queues.ingest.getJob(bullId))?.attemptsMade ?? 0) >= 1, 20_000);
    const row = await world.api.db.fileJob.findUniqueOrThrow({ where: { id: jobId } });
    expect(['queued', 'hashing', 'committing']).toContain(row.state);
    await proxy.restore();
    const job = await world.waitForJob(jobId, token, 60_000);
    expect(job).toMatchObject({ state: 'committed', sha256: sha(bytes) });
    const download = await request(world.app).get(`/api/v1/files/${job.fileId as string}`).set('Authorization', `Bearer ${token}`).buffer(true).parse((r, cb) => {
      const chunks: Buffer[] = [];
      r.on('data', (c: Buffer) => chunks.push(c));
      r.on('end', () => cb(null, Buffer.concat(chunks)));
    });
    expect(download.status).toBe(200);
    expect(sha(download.body as Buffer)).toBe(sha(bytes));
  });
});
