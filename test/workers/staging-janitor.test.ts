// The staging janitor removes old staged files nobody owns and keeps those an unfinished job still needs.
import { randomUUID } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { submitUpload } from '../../src/shared/domain/ingest-submit.js';
import { sweepStaging } from '../../src/shared/domain/staging-janitor.js';
import { createLogger } from '../../src/shared/logger.js';
import { OWNER_TTL_MS, liveWriters, writerOfFile, registerWriter } from '../../src/shared/storage/writers.js';
import { createWorld, type World } from '../helpers/world.js';

describe('staging janitor', () => {
  let world: World;
  const logger = createLogger({ logLevel: 'silent' }, 'test');

  beforeAll(async () => {
    world = await createWorld({ env: { STAGING_MAX_AGE_HOURS: '24' } });
  });
  afterAll(async () => world?.close());

  async function stage(ageHours: number): Promise<string> {
    const file = path.join(world.config.stagingPath, `${randomUUID()}.part`);
    await fs.writeFile(file, 'bytes');
    const when = new Date(Date.now() - ageHours * 3_600_000);
    await fs.utimes(file, when, when);
    return file;
  }

  it('removes abandoned staged files past the age limit, keeps young ones and those a job still owns', async () => {
    const abandoned = await stage(30);
    const young = await stage(1);
    const owned = await stage(30);
    // The job stays queued: nothing runs it in this world.
    await submitUpload(
      { db: world.api.db, queues: world.api.queues, config: world.config, staging: world.api.staging, logger },
      { sub: 'alice', role: 'user' },
      [{ stagedPath: owned, fileName: 'slow.bin', contentType: 'application/octet-stream', size: 5 }],
      { tags: [], metadata: {} },
    );
    const report = await sweepStaging({ db: world.api.db, config: world.config, staging: world.api.staging, logger });
    expect(report).toMatchObject({ removed: 1, kept: 1 });
    await expect(fs.stat(abandoned)).rejects.toMatchObject({ code: 'ENOENT' });
    await expect(fs.stat(young)).resolves.toBeTruthy();
    await expect(fs.stat(owned)).resolves.toBeTruthy();
  });

  it('an API process names its staged files after itself and keeps its writer key alive until it closes', async () => {
    const token = await world.token('user');
    const res = await request(world.app).post('/api/v1/files/upload').set('Authorization', `Bearer ${token}`).attach('file', Buffer.from('x'), 'x.txt');
    expect(res.status).toBe(202);
    const job = await world.api.db.fileJob.findUniqueOrThrow({ where: { id: res.body.jobs[0].id } });
    const writer = writerOfFile(job.stagedPath!);
    expect(writer).toBe(world.api.stagingWriter.id);
    expect(await liveWriters(world.api.redis, world.config.queuePrefix, [writer!])).toEqual(new Set([writer]));
  });

  it('removes within minutes the partial upload of an API process that died, never one of a live process', async () => {
    const redis = world.api.redis;
    const prefix = world.config.queuePrefix;
    const live = await registerWriter(redis, prefix, () => undefined);
    const dead = await registerWriter(redis, prefix, () => undefined);
    await dead.close(); // as if its key had expired: the process stopped refreshing it
    const write = async (owner: string, ageMs: number) => {
      const file = path.join(world.config.stagingPath, `${owner}.${randomUUID()}.part`);
      await fs.writeFile(file, 'partial');
      const when = new Date(Date.now() - ageMs);
      await fs.utimes(file, when, when);
      return file;
    };
    const ofDead = await write(dead.id, 2 * OWNER_TTL_MS);
    // A dead writer's file that a job recorded (the upload finished before its process died) is the job's.
    const ofDeadOwned = await write(dead.id, 2 * OWNER_TTL_MS);
    await submitUpload(
      { db: world.api.db, queues: world.api.queues, config: world.config, staging: world.api.staging, logger },
      { sub: 'alice', role: 'user' },
      [{ stagedPath: ofDeadOwned, fileName: 'recorded.bin', contentType: 'application/octet-stream', size: 7 }],
      { tags: [], metadata: {} },
    );
    const ofDeadJustNow = await write(dead.id, 0);
    const ofLive = await write(live.id, 2 * OWNER_TTL_MS);
    try {
      const liveOwners = (ids: string[]) => liveWriters(redis, prefix, ids);
      await sweepStaging({ db: world.api.db, config: world.config, staging: world.api.staging, logger, liveOwners, confirmDeadAfterMs: 50 });
      await expect(fs.stat(ofDead)).rejects.toMatchObject({ code: 'ENOENT' });
      await expect(fs.stat(ofDeadOwned)).resolves.toBeTruthy();
      // Younger than a key's lifetime: its writer may merely have missed a refresh.
      await expect(fs.stat(ofDeadJustNow)).resolves.toBeTruthy();
      await expect(fs.stat(ofLive)).resolves.toBeTruthy();
    } finally {
      await live.close();
    }
  });

  it('does not take a writer whose key Redis lost for dead: it is looked at again after one refresh', async () => {
    const redis = world.api.redis;
    const prefix = world.config.queuePrefix;
    const writer = await registerWriter(redis, prefix, () => undefined);
    const file = path.join(world.config.stagingPath, `${writer.id}.${randomUUID()}.part`);
    await fs.writeFile(file, 'file 1 of an upload still receiving file 2');
    const old = new Date(Date.now() - 2 * OWNER_TTL_MS);
    await fs.utimes(file, old, old);
    // Redis restarted without persistence: every key is gone until the writer's next refresh sets it again.
    await redis.del(`${prefix}:writer:${writer.id}`);
    let looks = 0;
    const liveOwners = async (ids: string[]) => {
      const alive = await liveWriters(redis, prefix, ids);
      looks += 1;
      if (looks === 1) await redis.set(`${prefix}:writer:${writer.id}`, 'refreshed', 'PX', OWNER_TTL_MS);
      return alive;
    };
    try {
      await sweepStaging({ db: world.api.db, config: world.config, staging: world.api.staging, logger, liveOwners, confirmDeadAfterMs: 50 });
      expect(looks).toBe(2);
      await expect(fs.stat(file)).resolves.toBeTruthy();
    } finally {
      await writer.close();
      await fs.rm(file, { force: true });
    }
  });
});
