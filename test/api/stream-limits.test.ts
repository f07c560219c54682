// Per-principal caps: concurrent uploads, SSE streams plus wait= long polls (429 + Retry-After); streams end at exp.
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import { importPKCS8, SignJWT } from 'jose';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureDevKeyPair } from '../../src/shared/auth/dev-keys.js';
import { serve, type Served } from '../helpers/serve.js';
import { startUpload } from '../helpers/streamed-upload.js';
import { settled, until } from '../helpers/wait.js';
import { createWorld, type World } from '../helpers/world.js';

interface OpenResponse {
  status: () => number | undefined;
  text: () => string;
  ended: Promise<void>;
  close: () => void;
}

/** A GET whose response is read as it arrives (an SSE stream), closed by the test. */
function openGet(port: number, path: string, token: string): OpenResponse {
  let status: number | undefined;
  let text = '';
  let endedResolve!: () => void;
  const ended = new Promise<void>((r) => (endedResolve = r));
  const req = http.get({ host: '127.0.0.1', port, path, headers: { Authorization: `Bearer ${token}` } }, (res) => {
    status = res.statusCode;
    res.on('data', (c: Buffer) => (text += c.toString()));
    res.on('close', endedResolve);
  });
  req.on('error', endedResolve);
  return { status: () => status, text: () => text, ended, close: () => req.destroy() };
}

describe('per-principal caps on uploads and streams', () => {
  let world: World;
  let api: Served;
  let port: number;
  let alice: string;
  let bob: string;
  const open: OpenResponse[] = [];

  beforeAll(async () => {
    world = await createWorld({ env: { MAX_CONCURRENT_UPLOADS_PER_PRINCIPAL: '1', MAX_STREAMS_PER_PRINCIPAL: '2' } });
    alice = await world.token('user', `alice-${randomBytes(3).toString('hex')}`);
    bob = await world.token('user', `bob-${randomBytes(3).toString('hex')}`);
    api = await serve(world.app);
    port = api.port;
  });
  afterAll(async () => {
    for (const o of open) o.close();
    await api?.close();
    await world?.close();
  });

  const upload = (token: string) => request(world.app).post('/api/v1/files/upload').set('Authorization', `Bearer ${token}`);
  const subOf = (token: string) => JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()).sub as string;

  it('answers 429 too_many_requests with Retry-After past MAX_CONCURRENT_UPLOADS_PER_PRINCIPAL, per principal', async () => {
    const slow = startUpload(port, alice, { boundary: 'CAPBOUNDARY', fileName: 'slow.bin' });
    slow.write(randomBytes(1024));
    await until("alice's first upload to hold its slot", () => world.api.uploadSlots.heldBy(subOf(alice)) === 1);

    const refused = await upload(alice).attach('file', Buffer.from('second'), 's.txt');
    expect(refused.status).toBe(429);
    expect(refused.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(refused.headers['retry-after']).toMatch(/^\d+$/);
    expect(refused.body).toMatchObject({ status: 429, code: 'too_many_requests' });
    expect((await upload(bob).attach('file', Buffer.from('bob'), 'b.txt')).status).toBe(202);

    slow.finish();
    expect((await slow.answer).status).toBe(202);
    await until('the slot to be given back', () => world.api.uploadSlots.heldBy(subOf(alice)) === 0);
    expect((await upload(alice).attach('file', Buffer.from('third'), 't.txt')).status).toBe(202);
  });

  it('caps SSE streams and wait= long polls together at MAX_STREAMS_PER_PRINCIPAL', async () => {
    // No worker: the job stays queued, so its streams stay open.
    const job = (await upload(alice).attach('file', Buffer.from('queued'), 'q.txt')).body.jobs[0].id as string;
    const events = `/api/v1/jobs/${job}/events`;
    for (let i = 0; i < 2; i++) {
      const stream = openGet(port, events, alice);
      open.push(stream);
      await until('a stream to open', () => stream.text().includes('event: job'));
    }
    const third = await request(world.app).get(events).set('Authorization', `Bearer ${alice}`);
    expect(third.status).toBe(429);
    expect(third.body.code).toBe('too_many_requests');
    expect(third.headers['retry-after']).toBeDefined();

    const jobsBefore = await world.api.db.fileJob.count();
    const stagedBefore = (await world.stagedFiles()).length;
    const longPoll = await upload(alice).query({ wait: '5' }).attach('file', Buffer.from('would wait'), 'w.txt');
    expect(longPoll.status).toBe(429);
    expect(await world.api.db.fileJob.count()).toBe(jobsBefore);
    expect(await world.stagedFiles()).toHaveLength(stagedBefore);

    open.shift()!.close();
    await until('the stream slot to be given back', () => world.api.streamSlots.heldBy(subOf(alice)) === 1);
    const again = openGet(port, events, alice);
    open.push(again);
    await until('the new stream to open', () => again.text().includes('event: job'));
    expect(again.status()).toBe(200);
  });

  it('ends an SSE stream when its token expires', async () => {
    const job = (await upload(bob).attach('file', Buffer.from('queued too'), 'q2.txt')).body.jobs[0].id as string;
    const keys = await ensureDevKeyPair(world.config.devKeysPath);
    const shortLived = await new SignJWT({ role: 'user' })
      .setProtectedHeader({ alg: 'RS256' })
      .setSubject(subOf(bob))
      .setIssuedAt()
      .setExpirationTime(Math.floor(Date.now() / 1_000) + 2)
      .sign(await importPKCS8(keys.privateKeyPem, 'RS256'));
    const stream = openGet(port, `/api/v1/jobs/${job}/events`, shortLived);
    open.push(stream);
    await settled('the stream to end at exp', stream.ended);
    expect(stream.status()).toBe(200);
    expect(stream.text()).toContain('event: expired');
    const state = await world.api.db.fileJob.findUniqueOrThrow({ where: { id: job } });
    expect(state.state).toBe('queued');
  });
});
