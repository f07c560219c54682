// Many ingest-file jobs active at once in one worker (issue 12: the worker coalesces them into batches): 40 uploads
// sent together all end final, each with its own status, file and error as GET /api/v1/jobs?ids= reports them,
// and no job's state ever goes back while they run.
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../src/api/app.js';
import { binaryParser } from '../helpers/http.js';
import { until } from '../helpers/wait.js';
import { createWorld, type World } from '../helpers/world.js';

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const ORDER = ['queued', 'hashing', 'committing', 'final'];
const rank = (state: string) => ORDER.indexOf(['committed', 'duplicate', 'failed'].includes(state) ? 'final' : state);

interface JobView {
  id: string;
  state: string;
  fileId?: string;
  duplicateOf?: string;
  sha256?: string;
  size: number;
  error?: { code: string };
}

describe('many concurrent ingest jobs in one worker', () => {
  let world: World;
  let token: string;

  beforeAll(async () => {
    // One client sending 40 at once: above the default per-principal limit of open uploads.
    world = await createWorld({ worker: true, env: { MAX_CONCURRENT_UPLOADS_PER_PRINCIPAL: '64' } });
    token = await world.token('user', 'alice');
  });
  afterAll(async () => world?.close());

  it('40 uploads at once: each job ends with its own state, file and error, and never goes back a state', async () => {
    const files = Array.from({ length: 40 }, (_, i) => randomBytes(700 + i * 241));
    files[29] = files[13]!;
    const wrongSum = 7;
    const chosen = { index: 3, fileId: randomUUID() };
    const responses = await Promise.all(files.map((bytes, i) => {
      let req = request(world.app).post('/api/v1/files/upload').set('Authorization', `Bearer ${token}`);
      req = req.field('sha256', i === wrongSum ? sha(randomBytes(16)) : sha(bytes));
      if (i === chosen.index) req = req.field('fileId', chosen.fileId);
      return req.attach('file', bytes, `concurrent-${i}.bin`);
    }));
    for (const res of responses) expect(res.status, res.text).toBe(202);
    const ids = responses.map((res) => res.body.jobs[0].id as string);

    const seen = new Map<string, string[]>(ids.map((id) => [id, []]));
    let views: JobView[] = [];
    await until('every job final', async () => {
      // A fresh app each time, as if each poll reached another API process: none answers from its cache of final
      // jobs, so a job that went back a state in the database would show it.
      const res = await request(createApp(world.api)).get(`/api/v1/jobs?ids=${ids.join(',')}`).set('Authorization', `Bearer ${token}`);
      expect(res.status).toBe(200);
      views = res.body.jobs as JobView[];
      for (const v of views) {
        const states = seen.get(v.id)!;
        if (states.at(-1) !== v.state) states.push(v.state);
      }
      return views.length === ids.length && views.every((v) => rank(v.state) === 3);
    }, 60_000, 50);

    for (const [id, states] of seen) {
      // Forward only, and one final state: a job is never reported final and then running, or final twice.
      const ranks = states.map(rank);
      expect(ranks, `${id}: ${states.join(' -> ')}`).toEqual([...ranks].sort((a, b) => a - b));
      expect(states.filter((s) => rank(s) === 3), `${id}: ${states.join(' -> ')}`).toHaveLength(1);
    }
    const byId = new Map(views.map((v) => [v.id, v]));
    const view = (i: number) => byId.get(ids[i]!)!;
    expect(view(wrongSum)).toMatchObject({ state: 'failed', error: { code: 'checksum_mismatch' } });
    expect(view(wrongSum).fileId).toBeUndefined();
    expect(view(chosen.index)).toMatchObject({ state: 'committed', fileId: chosen.fileId });
    // Sent at the same moment, the second of two equal files may commit before it sees the first: either is right.
    expect(['committed', 'duplicate']).toContain(view(29).state);
    expect(['committed', 'duplicate']).toContain(view(13).state);
    expect([view(13).state, view(29).state]).toContain('committed');

    const good = files.map((bytes, i) => ({ bytes, v: view(i) })).filter((_, i) => i !== wrongSum);
    expect(good.filter(({ v }) => v.state === 'committed').length).toBeGreaterThanOrEqual(38);
    expect(new Set(good.map(({ v }) => v.fileId)).size).toBe(39);
    for (const { bytes, v } of good) {
      expect(v).toMatchObject({ sha256: sha(bytes), size: bytes.length });
      expect(v.error).toBeUndefined();
      const dl = await request(world.app).get(`/api/v1/files/${v.fileId}`).set('Authorization', `Bearer ${token}`).buffer(true).parse(binaryParser);
      expect(dl.status).toBe(200);
      expect(sha(dl.body as Buffer)).toBe(sha(bytes));
    }
    expect(await world.api.db.file.count({ where: { id: { in: good.map(({ v }) => v.fileId!) } } })).toBe(39);
    expect((await world.api.db.blob.findUniqueOrThrow({ where: { sha256: sha(files[13]!) } })).refCount).toBe(2);
    const wal = await world.api.db.walEntry.findMany({ where: { jobId: { in: ids } } });
    expect(wal.filter((w) => w.status === 'committed')).toHaveLength(39);
    expect(wal.filter((w) => w.status === 'pending')).toEqual([]);
    await until('staging empty', async () => (await world.stagedFiles()).length === 0);
  });
});
