// GET /api/v1/jobs/{id}/events: Job snapshots as server-sent events until the job is final.
import http from 'node:http';
import { randomBytes } from 'node:crypto';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serve, type Served } from '../helpers/serve.js';
import { until } from '../helpers/wait.js';
import { createWorld, type World } from '../helpers/world.js';

function readEvents(port: number, path: string, token: string): Promise<{ status: number; type: string; events: Array<{ event: string; data: Record<string, unknown> }> }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path, headers: { Authorization: `Bearer ${token}` } }, (res) => {
      let raw = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (raw += c));
      res.on('end', () => {
        const events = raw
          .split('\n\n')
          .filter((block) => block.includes('data: '))
          .map((block) => {
            const lines = block.split('\n');
            return {
              event: lines.find((l) => l.startsWith('event: '))?.slice(7) ?? 'message',
              data: JSON.parse(lines.find((l) => l.startsWith('data: '))!.slice(6)) as Record<string, unknown>,
            };
          });
        resolve({ status: res.statusCode ?? 0, type: String(res.headers['content-type']), events });
      });
    });
    req.on('error', reject);
    req.setTimeout(20_000, () => req.destroy(new Error('SSE stream did not end')));
  });
}

describe('job events', () => {
  let world: World;
  let api: Served;
  let port: number;
  let token: string;

  beforeAll(async () => {
    world = await createWorld({ worker: true });
    token = await world.token('user', 'alice');
    api = await serve(world.app);
    port = api.port;
  });
  afterAll(async () => {
    await api?.close();
    await world?.close();
  });

  it('streams snapshots until the job is committed, then ends', async () => {
    await world.running!.workers.find((w) => w.name === 'ingest')!.pause();
    const res = await request(world.app).post('/api/v1/files/upload').set('Authorization', `Bearer ${token}`).attach('file', randomBytes(200_000), 'sse.bin');
    const jobId = res.body.jobs[0].id as string;
    const stream = readEvents(port, `/api/v1/jobs/${jobId}/events`, token);
    // Let the job move only once the stream follows it (its first snapshot then says queued).
    await until('the stream to subscribe to the job', () => world.api.jobEvents.subscribers > 0);
    // A small file rides its group's 'ingest-batch' BullMQ job: the stream follows that job's queue events.
    const carrier = (await world.api.db.fileJob.findUniqueOrThrow({ where: { id: jobId } })).queueJobId;
    expect(carrier).toBeTruthy();
    expect(world.api.jobEvents.follows(carrier!)).toBe(true);
    await world.api.jobEvents.ready();
    world.running!.workers.find((w) => w.name === 'ingest')!.resume();
    const { status, type, events } = await stream;
    expect(status).toBe(200);
    expect(type).toMatch(/^text\/event-stream/);
    expect(events[0]).toMatchObject({ event: 'job', data: { id: jobId, state: 'queued' } });
    expect(events.at(-1)).toMatchObject({ event: 'job', data: { id: jobId, state: 'committed', progress: 100 } });
    expect(events.length).toBeGreaterThanOrEqual(2);
    // The hub holds no listener once the stream ended.
    expect(world.api.jobEvents.subscribers).toBe(0);
  });

  it('answers a finished job with one snapshot, and 404 for someone else\'s job', async () => {
    const res = await request(world.app).post('/api/v1/files/upload?wait=20').set('Authorization', `Bearer ${token}`).attach('file', randomBytes(100), 'done.bin');
    const jobId = res.body.jobs[0].id as string;
    const { events } = await readEvents(port, `/api/v1/jobs/${jobId}/events`, token);
    expect(events).toHaveLength(1);
    expect(events[0]!.data.state).toBe('committed');
    const other = await request(world.app).get(`/api/v1/jobs/${jobId}/events`).set('Authorization', `Bearer ${await world.token('user', 'bob')}`);
    expect(other.status).toBe(404);
  });
});
