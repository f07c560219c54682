// Status polling: final ingest jobs are answered from the in-process cache, everything else from PostgreSQL; a
// cached job stays its owner's, and a job that can still change (a running job, a final delete job that WAL
// recovery may reopen) is never answered from memory.
import { randomUUID } from 'node:crypto';
import type { Express } from 'express';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../src/api/app.js';
import { JobStatusReader } from '../../src/shared/domain/job-status.js';
import { createFileJob, isSettledForGood, reopenFileJob } from '../../src/shared/records/file-jobs.js';
import { poolOf } from '../../src/shared/records/database.js';
import { stageFileJob } from '../helpers/ingest-jobs.js';
import { until } from '../helpers/wait.js';
import { createWorld, type World } from '../helpers/world.js';

describe('job status', () => {
  let world: World;
  let alice: string;

  beforeAll(async () => {
    world = await createWorld();
    alice = await world.token('user', 'alice');
  });
  afterAll(async () => world?.close());

  const sql = (text: string, values: unknown[]) => poolOf(world.api.db).query(text, values);
  const getJob = (app: Express, id: string, token = alice) => request(app).get(`/api/v1/jobs/${id}`).set('Authorization', `Bearer ${token}`);
  const getJobs = (app: Express, ids: string[], token = alice) =>
    request(app).get(`/api/v1/jobs?ids=${ids.join(',')}`).set('Authorization', `Bearer ${token}`);
  /** Changes a column behind every cache's back: only an answer read from the database shows it. */
  const renameInDb = (id: string, fileName: string) => sql('UPDATE file_jobs SET file_name = $2 WHERE id = $1', [id, fileName]);
  const finishInDb = (id: string) =>
    sql(`UPDATE file_jobs SET state = 'committed', progress = 100, finished_at = now(), updated_at = now() WHERE id = $1`, [id]);

  it('answers a running job from the database on every poll, and its final state as soon as it is final', async () => {
    const app = createApp(world.api);
    const job = await stageFileJob(world, Buffer.from('running job'));
    expect((await getJob(app, job.id)).body.state).toBe('queued');
    await sql('UPDATE file_jobs SET progress = 40 WHERE id = $1', [job.id]);
    expect((await getJob(app, job.id)).body.progress).toBe(40);
    expect((await getJobs(app, [job.id])).body.jobs[0].progress).toBe(40);

    await finishInDb(job.id);
    const single = await getJob(app, job.id);
    expect(single.status).toBe(200);
    expect(single.headers['content-type']).toBe('application/json; charset=utf-8');
    expect(single.body).toMatchObject({ id: job.id, state: 'committed', progress: 100 });
    expect((await getJobs(app, [job.id])).body.jobs).toMatchObject([{ id: job.id, state: 'committed' }]);
  });

  it('keeps a final ingest job in memory: a later change in the database is not read again', async () => {
    const app = createApp(world.api);
    const job = await stageFileJob(world, Buffer.from('final job'));
    await finishInDb(job.id);
    expect((await getJob(app, job.id)).body.fileName).toBe('x.bin');
    await renameInDb(job.id, 'changed-behind-the-cache.bin');
    expect((await getJob(app, job.id)).body.fileName).toBe('x.bin');
    expect((await getJobs(app, [job.id])).body.jobs[0].fileName).toBe('x.bin');
    // Another API process reads the database (where the row could only have changed like this by hand).
    expect((await getJob(createApp(world.api), job.id)).body.fileName).toBe('changed-behind-the-cache.bin');
  });

  it('answers a cached job only to its owner; operators and admins see it as before', async () => {
    const app = createApp(world.api);
    const job = await stageFileJob(world, Buffer.from('owned job'));
    await finishInDb(job.id);
    expect((await getJob(app, job.id)).status).toBe(200);
    const bob = await world.token('user', 'bob');
    expect((await getJob(app, job.id, bob)).status).toBe(404);
    expect((await getJobs(app, [job.id], bob)).body.jobs).toEqual([]);
    expect((await getJob(app, job.id, await world.token('readonly', 'alice'))).status).toBe(200);
    expect((await getJob(app, job.id, await world.token('operator', 'olga'))).body.state).toBe('committed');
    expect((await getJobs(app, [job.id], await world.token('admin', 'root'))).body.jobs).toHaveLength(1);
    // Cached for bob's request too: he still sees nothing, in either order of requests.
    const fresh = createApp(world.api);
    expect((await getJob(fresh, job.id, bob)).status).toBe(404);
    expect((await getJob(fresh, job.id)).status).toBe(200);
    expect((await getJob(fresh, job.id, bob)).status).toBe(404);
  });

  it('answers a batch in the order asked, each id once, cached and uncached together', async () => {
    const app = createApp(world.api);
    const done = await stageFileJob(world, Buffer.from('batch done'));
    const running = await stageFileJob(world, Buffer.from('batch running'));
    await finishInDb(done.id);
    await getJob(app, done.id);
    const unknown = randomUUID();
    const res = await getJobs(app, [running.id, 'not-a-uuid', done.id.toUpperCase(), unknown, running.id]);
    expect(res.status).toBe(200);
    expect(res.body.jobs.map((j: { id: string; state: string }) => [j.id, j.state])).toEqual([
      [running.id, 'queued'],
      [done.id, 'committed'],
    ]);
  });

  it('never keeps a final delete job: WAL recovery may reopen it, and the next poll shows it queued', async () => {
    const app = createApp(world.api);
    const now = new Date();
    const job = await createFileJob(world.api.db, {
      id: randomUUID(), kind: 'delete', state: 'committed', progress: 100, principal: 'alice', fileName: 'gone.bin',
      contentType: 'application/octet-stream', size: 1n, fileId: randomUUID(), finishedAt: now, createdAt: now, updatedAt: now,
    });
    expect(isSettledForGood(job)).toBe(false);
    expect((await getJob(app, job.id)).body.state).toBe('committed');
    await reopenFileJob(world.api.db, job.id);
    expect((await getJob(app, job.id)).body.state).toBe('queued');
    expect((await getJobs(app, [job.id])).body.jobs[0].state).toBe('queued');
  });

  it('reopens only delete jobs, so a cached final ingest job can never change', async () => {
    const job = await stageFileJob(world, Buffer.from('not reopened'));
    await finishInDb(job.id);
    await expect(reopenFileJob(world.api.db, job.id)).rejects.toThrow(/not a delete job/);
    const [row] = (await sql('SELECT state FROM file_jobs WHERE id = $1', [job.id])).rows as Array<{ state: string }>;
    expect(row!.state).toBe('committed');
    expect(isSettledForGood({ kind: 'ingest', state: 'failed' })).toBe(true);
    expect(isSettledForGood({ kind: 'ingest', state: 'committing' })).toBe(false);
    expect(isSettledForGood({ kind: 'update', state: 'committed' })).toBe(false);
  });

  it('keeps at most its bound of jobs, dropping the oldest first', async () => {
    const reader = new JobStatusReader(world.api.db, 2);
    const jobs = [];
    for (const n of [1, 2, 3]) {
      const job = await stageFileJob(world, Buffer.from(`bounded ${n}`));
      await finishInDb(job.id);
      jobs.push(job);
    }
    const principal = { sub: 'alice', role: 'user' as const };
    for (const job of jobs) expect(await reader.read(principal, [job.id])).toHaveLength(1);
    expect(reader.size).toBe(2);
    // The first was dropped: it is read from the database again (and shows the change made there).
    await renameInDb(jobs[0]!.id, 'read-again.bin');
    await renameInDb(jobs[2]!.id, 'still-cached.bin');
    const [first] = await reader.read(principal, [jobs[0]!.id]);
    const [third] = await reader.read(principal, [jobs[2]!.id]);
    expect(first!.view.fileName).toBe('read-again.bin');
    expect(third!.view.fileName).toBe('x.bin');
    expect(reader.size).toBe(2);
  });

  it('counts status polls in the request metrics by route template, with the histogram buckets', async () => {
    const job = await stageFileJob(world, Buffer.from('counted'));
    const series = (text: string, name: string, extra = '') =>
      Number(text.split('\n').find((l) => l.startsWith(`${name}{method="GET",route="/api/v1/jobs/:jobId",status="404"${extra}`))?.split(' ').pop() ?? 0);
    const before = await world.api.registry.metrics();
    await getJob(world.app, randomUUID());
    await getJob(world.app, randomUUID());
    expect((await getJob(world.app, job.id)).status).toBe(200);
    // Counted when the response closes, which may be just after the client has read it.
    let after = '';
    await until('both 404s counted', async () => {
      after = await world.api.registry.metrics();
      return series(after, 'artstore_http_requests_total') - series(before, 'artstore_http_requests_total') === 2;
    }, 5_000, 20);
    expect(series(after, 'artstore_http_request_duration_seconds_count') - series(before, 'artstore_http_request_duration_seconds_count')).toBe(2);
    expect(series(after, 'artstore_http_request_duration_seconds_bucket', ',le="+Inf"')).toBe(series(after, 'artstore_http_requests_total'));
    expect(after).toMatch(/^# TYPE artstore_http_request_duration_seconds histogram$/m);
    expect(after).toMatch(/^artstore_http_requests_total\{method="GET",route="\/api\/v1\/jobs\/:jobId",status="200",process="api"\} \d+$/m);
  });
});
