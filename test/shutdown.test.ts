// Graceful shutdown with real signals to real processes: in-flight uploads finish, jobs drain, exit code 0.
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { envFor, freePort, startService } from './helpers/processes.js';
import { startUpload, uploadLength } from './helpers/streamed-upload.js';
import { until } from './helpers/wait.js';
import { createWorld, type World } from './helpers/world.js';

/** Whether a new connection is refused (agent: false, so never a pooled keep-alive socket from an earlier probe). */
function connectRefused(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port, path: '/health/live', agent: false }, (res) => {
      res.resume();
      resolve(false);
    });
    req.on('error', (err: NodeJS.ErrnoException) => resolve(err.code === 'ECONNREFUSED'));
  });
}

describe('graceful shutdown', () => {
  let world: World;
  let token: string;

  beforeAll(async () => {
    world = await createWorld();
    token = await world.token('user', 'alice');
  });
  afterAll(async () => world?.close());

  it('api: SIGTERM refuses new connections, lets an in-flight upload finish, exits 0', async () => {
    const port = await freePort();
    const api = await startService('api', envFor(world.config, { PORT: String(port), SHUTDOWN_TIMEOUT_MS: '20000' }), 'api listening');
    const payload = randomBytes(1024 * 1024);
    const stagedBefore = new Set(await world.stagedFiles());
    const inflight = startUpload(port, token, { fileName: 'inflight.bin', contentLength: uploadLength('inflight.bin', payload.length) });
    inflight.write(payload.subarray(0, 512 * 1024));
    await until('the upload to be staged', async () => (await world.stagedFiles()).some((f) => !stagedBefore.has(f)), 15_000);
    api.child.kill('SIGTERM');
    await until('the api to refuse new connections', () => connectRefused(port), 15_000, 50);
    inflight.finish(payload.subarray(512 * 1024));
    const res = await inflight.answer;
    expect(res.status, api.output()).toBe(202);
    const jobId = JSON.parse(res.text).jobs[0].id as string;
    expect(await api.exited).toBe(0);
    expect(await world.api.db.fileJob.count({ where: { id: jobId } })).toBe(1);
    expect(api.output()).toContain('api stopped');
  });

  it('api: past SHUTDOWN_TIMEOUT_MS an unfinished upload is cut off, its staged bytes removed, exit 0', async () => {
    const port = await freePort();
    const api = await startService('api', envFor(world.config, { PORT: String(port), SHUTDOWN_TIMEOUT_MS: '500' }), 'api listening');
    const before = await world.api.db.fileJob.count();
    // Jobs of the test before (no worker runs here) still own their staged files.
    const stagedBefore = await world.stagedFiles();
    const never = startUpload(port, token, { boundary: 'B', fileName: 'never.bin', contentLength: 10 * 1024 * 1024 });
    never.write(randomBytes(64 * 1024));
    await until('the upload to be staged', async () => (await world.stagedFiles()).some((f) => !stagedBefore.includes(f)), 15_000);
    const started = Date.now();
    api.child.kill('SIGTERM');
    expect(await api.exited).toBe(0);
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(await world.api.db.fileJob.count()).toBe(before);
    expect(await world.stagedFiles()).toEqual(stagedBefore);
  });

  it('worker: SIGTERM lets the active job finish, closes everything and exits 0', async () => {
    const worker = await startService('workers', envFor(world.config, { SHUTDOWN_TIMEOUT_MS: '20000' }), 'worker started');
    const res = await request(world.app).post('/api/v1/files/upload').set('Authorization', `Bearer ${token}`).attach('file', randomBytes(64 * 1024 * 1024), 'big.bin');
    expect(res.status).toBe(202);
    // Stop as soon as the worker has picked the job up.
    const jobId = res.body.jobs[0].id as string;
    const picked = async () => (await world.api.db.fileJob.findUniqueOrThrow({ where: { id: jobId } })).state !== 'queued';
    // Past the deadline SIGTERM anyway: the assertions below tell what happened.
    await until('the worker to pick the job up', picked, 15_000, 10).catch(() => undefined);
    worker.child.kill('SIGTERM');
    expect(await worker.exited, worker.output()).toBe(0);
    const job = await world.api.db.fileJob.findUniqueOrThrow({ where: { id: jobId } });
    expect(job.state).toBe('committed');
    expect(worker.output()).toContain('worker stopped');
  });
});
