// Quiet connections against the real api process: stalled uploads and bodies are cut, SSE and wait= are not.
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { envFor, freePort, startService, type Service } from '../helpers/processes.js';
import { fileDisposition, multipartType, partHead } from '../helpers/multipart.js';
import { settled, until } from '../helpers/wait.js';
import { createWorld, type World } from '../helpers/world.js';

const IDLE_MS = 1_000;
/** How long a wait for the api process may take (it runs beside other tests on a loaded machine). */
const WAIT_MS = 15_000;

/** A raw connection: what the server sent, and whether it has closed the connection. */
interface RawClient {
  socket: net.Socket;
  received: () => string;
  closed: Promise<void>;
}

function connect(port: number): Promise<RawClient> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    let text = '';
    socket.on('data', (d: Buffer) => (text += d.toString()));
    const closed = new Promise<void>((r) => socket.once('close', () => r()));
    socket.on('error', () => undefined);
    socket.once('connect', () => resolve({ socket, received: () => text, closed }));
    socket.once('error', reject);
  });
}

describe('idle connections (UPLOAD_IDLE_TIMEOUT_MS)', () => {
  let world: World;
  let api: Service;
  let port: number;
  let token: string;
  const sub = `stall-${randomBytes(3).toString('hex')}`;

  beforeAll(async () => {
    world = await createWorld();
    token = await world.token('user', sub);
    port = await freePort();
    api = await startService('api', envFor(world.config, { PORT: String(port), UPLOAD_IDLE_TIMEOUT_MS: String(IDLE_MS) }), 'api listening');
  });
  afterAll(async () => {
    api?.child.kill('SIGTERM');
    await api?.exited;
    await world?.close();
  });

  const jobsOfSub = () => world.api.db.fileJob.count({ where: { principal: sub } });

  it('cuts an upload that sends its headers and part of the body and then nothing, removes its staged file, records no job', async () => {
    const boundary = 'STALLBOUNDARY';
    const client = await connect(port);
    client.socket.write(
      [
        'POST /api/v1/files/upload HTTP/1.1',
        `Host: 127.0.0.1:${port}`,
        `Authorization: Bearer ${token}`,
        `Content-Type: ${multipartType(boundary)}`,
        `Content-Length: ${10 * 1024 * 1024}`,
        '',
        partHead(boundary, [fileDisposition('stalled.bin')]),
      ].join('\r\n'),
    );
    client.socket.write(randomBytes(64 * 1024));
    await until('the staged file', async () => (await world.stagedFiles()).length > 0, WAIT_MS);
    // Nothing more is sent: the server must close the connection on its own.
    await settled('the server to close the stalled upload', client.closed, WAIT_MS);
    await until('staging to be empty', async () => (await world.stagedFiles()).length === 0, WAIT_MS);
    expect(await jobsOfSub()).toBe(0);
    expect(api.output()).toContain('upload stalled');
  });

  it('closes a request whose body never comes', async () => {
    const client = await connect(port);
    client.socket.write(
      [
        'POST /api/v1/files/exists HTTP/1.1',
        `Host: 127.0.0.1:${port}`,
        `Authorization: Bearer ${token}`,
        'Content-Type: application/json',
        'Content-Length: 100',
        '',
        '{"sha256": [',
      ].join('\r\n'),
    );
    await settled('the server to close the connection', client.closed, WAIT_MS);
  });

  it('keeps an SSE stream open past the idle timeout with heartbeats', async () => {
    // No worker runs here: the job stays queued and its stream stays open.
    const up = await request(`http://127.0.0.1:${port}`)
      .post('/api/v1/files/upload')
      .set('Authorization', `Bearer ${token}`)
      .attach('file', Buffer.from('queued for ever'), 'q.txt');
    expect(up.status).toBe(202);
    const client = await connect(port);
    client.socket.write(
      [`GET /api/v1/jobs/${up.body.jobs[0].id}/events HTTP/1.1`, `Host: 127.0.0.1:${port}`, `Authorization: Bearer ${token}`, '', ''].join('\r\n'),
    );
    const heartbeats = () => client.received().split(': heartbeat').length - 1;
    let closedEarly = false;
    void client.closed.then(() => (closedEarly = true));
    // Four heartbeats at IDLE_MS / 3 span more than the idle timeout.
    await until('four heartbeats', () => closedEarly || heartbeats() >= 4, WAIT_MS);
    expect(closedEarly).toBe(false);
    expect(client.received()).toMatch(/^HTTP\/1\.1 200/);
    client.socket.destroy();
  });

  it('lets an upload with wait= stay quiet for longer than the idle timeout', async () => {
    const started = Date.now();
    const res = await request(`http://127.0.0.1:${port}`)
      .post('/api/v1/files/upload')
      .query({ wait: '3' })
      .set('Authorization', `Bearer ${token}`)
      .attach('file', Buffer.from('waits for a worker that never comes'), 'w.txt');
    expect(res.status).toBe(202);
    expect(Date.now() - started).toBeGreaterThanOrEqual(3_000);
  });

  it('answers a request the HTTP parser refuses with problem+json', async () => {
    const client = await connect(port);
    client.socket.write(`GET /health/live HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n`);
    await client.closed;
    expect(client.received()).toMatch(/^HTTP\/1\.1 400/);
    expect(client.received()).toContain('application/problem+json');
  });
});
