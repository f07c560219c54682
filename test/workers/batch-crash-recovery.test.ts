// kill -9 of the worker while many small files are in flight together (issue 12: ingested as batches): one upload
// request of 16 files and three more beside it, the worker killed by CRASH_AT at a durable step, then started again.
// Every accepted file ends committed exactly once, and nothing is left over: no blob without a row, no attr.json
// without a file row, no staged file, no pending WAL entry, every blob's ref count equal to its live files.
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CrashStep } from '../../src/shared/domain/ingest-commit.js';
import { poolOf } from '../../src/shared/records/database.js';
import { envFor, startService, type Service } from '../helpers/processes.js';
import { findOrphans, type Orphans } from '../helpers/store-audit.js';
import { settled, until } from '../helpers/wait.js';
import { createWorld, type World } from '../helpers/world.js';

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const STEPS: CrashStep[] = ['after-wal', 'after-blob', 'after-attr', 'before-commit'];
const FINAL = ['committed', 'duplicate', 'failed'];

interface JobView {
  id: string;
  state: string;
  fileId?: string;
  duplicateOf?: string;
  sha256?: string;
  error?: { code: string };
}

describe('kill -9 in the middle of a batch', () => {
  let world: World;
  let token: string;

  beforeAll(async () => {
    // No in-process worker: the workers here are child processes that are killed for real.
    world = await createWorld({ isolatedDatabase: true });
    token = await world.token('user', 'alice');
  });
  afterAll(async () => world?.close());

  async function upload(files: Buffer[]): Promise<Array<{ id: string; bytes: Buffer }>> {
    let req = request(world.app).post('/api/v1/files/upload').set('Authorization', `Bearer ${token}`);
    for (const [i, bytes] of files.entries()) req = req.attach('file', bytes, `part-${i}.bin`);
    const res = await req;
    expect(res.status, res.text).toBe(202);
    return (res.body.jobs as JobView[]).map((j, i) => ({ id: j.id, bytes: files[i]! }));
  }

  async function jobViews(ids: string[]): Promise<JobView[]> {
    const res = await request(world.app).get(`/api/v1/jobs?ids=${ids.join(',')}`).set('Authorization', `Bearer ${token}`);
    expect(res.status, res.text).toBe(200);
    return res.body.jobs as JobView[];
  }

  /** The orphan audit without temp files (see below). */
  async function audit(): Promise<Omit<Orphans, 'temp'>> {
    const { temp: _temp, ...found } = await findOrphans({ config: world.config, db: poolOf(world.api.db) });
    return found;
  }

  /** What the audit finds now that it did not find before (a failed step's leftovers are not the next one's). */
  async function newOrphans(before: Omit<Orphans, 'temp'>): Promise<Record<string, string[]>> {
    const now = await audit();
    const added = Object.entries(now).map(([k, list]) => [k, list.filter((x) => !before[k as keyof typeof before].includes(x))] as const);
    return Object.fromEntries(added.filter(([, list]) => list.length > 0));
  }

  for (const step of STEPS) {
    it(`commits every accepted file exactly once after kill -9 ${step} with 21 files of four uploads`, { timeout: 120_000 }, async () => {
      // A temp file of a write the kill interrupted is the store-temp sweep's once the dead worker's key expires
      // (30 s; the fault suite waits that out): not asserted here, everything else is.
      const before = await audit();
      const env = envFor(world.config, { JOB_LOCK_MS: '1500' });
      // Three uploads at once and a fourth after them, while the worker runs. The files of an upload (and of
      // uploads recorded together) ride one 'ingest-batch' BullMQ job, so the worker takes them up together. The
      // worker starts first: with jobs already waiting it could reach the crash point before it says it is ready.
      const batch = Array.from({ length: 16 }, (_, i) => randomBytes(1_000 + i * 613));
      batch[11] = batch[3]!;
      const doomed = await startService('workers', { ...env, CRASH_AT: step }, 'worker started');
      let healthy: Service | undefined;
      try {
        const requests = await Promise.all([upload(batch), upload([randomBytes(900), randomBytes(1_300)]), upload([randomBytes(4_000), batch[5]!])]);
        requests.push(await upload([randomBytes(2_500)]));
        const accepted = requests.flat();
        const ids = accepted.map((a) => a.id);
        expect(await settled(`the worker killed at ${step}`, doomed.exited, 30_000)).toBe('SIGKILL');
        const inFlight = await world.api.db.fileJob.count({ where: { id: { in: ids }, state: { in: ['hashing', 'committing'] } } });

        healthy = await startService('workers', env, 'worker started');
        let views: JobView[] = [];
        await until('every job final', async () => {
          views = await jobViews(ids);
          return views.length === ids.length && views.every((v) => FINAL.includes(v.state));
        }, 60_000, 100);
        healthy.child.kill('SIGTERM');
        await healthy.exited;

        const byId = new Map(views.map((v) => [v.id, v]));
        for (const { id, bytes } of accepted) {
          const view = byId.get(id)!;
          // Files with the same bytes in flight together may both commit; a duplicate names a file with those bytes.
          expect(['committed', 'duplicate'], `${id}: ${JSON.stringify(view)}\n${healthy.output()}`).toContain(view.state);
          expect(view.sha256).toBe(sha(bytes));
          const rows = await world.api.db.file.findMany({ where: { id: view.fileId! } });
          expect(rows.map((r) => [r.sha256, Number(r.size), r.deletedAt])).toEqual([[sha(bytes), bytes.length, null]]);
          if (view.state === 'duplicate') {
            expect((await world.api.db.file.findUniqueOrThrow({ where: { id: view.duplicateOf! } })).sha256).toBe(sha(bytes));
          }
          const wal = await world.api.db.walEntry.findMany({ where: { jobId: id } });
          expect(wal.filter((w) => w.status === 'committed')).toHaveLength(1);
          const blob = path.join(world.config.storagePath, world.api.blobStore.keyFor(sha(bytes)));
          expect(sha(await fs.readFile(blob))).toBe(sha(bytes));
        }
        expect(new Set(views.map((v) => v.fileId)).size).toBe(ids.length);
        expect(await world.api.db.blob.findUniqueOrThrow({ where: { sha256: sha(batch[3]!) } })).toMatchObject({ refCount: 2 });
        expect(await world.api.db.blob.findUniqueOrThrow({ where: { sha256: sha(batch[5]!) } })).toMatchObject({ refCount: 2 });
        expect(await newOrphans(before), healthy.output()).toEqual({});
        // The premise: the kill caught several files between their claim and their commit, not one file alone.
        expect(inFlight, 'files in flight when the worker was killed').toBeGreaterThanOrEqual(2);
      } finally {
        doomed.child.kill('SIGKILL');
        healthy?.child.kill('SIGKILL');
      }
    });
  }
});
