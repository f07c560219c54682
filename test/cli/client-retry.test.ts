// The client's retry policy against a tiny local server: what is retried, how often, and what is not.
import { afterEach, describe, expect, it } from 'vitest';
import { ArtstoreError, createClient } from '../../src/client/index.js';
import { serve, type Served } from '../helpers/serve.js';
import { freePort } from '../helpers/processes.js';

const job = {
  id: '00000000-0000-4000-8000-000000000001',
  kind: 'ingest',
  state: 'committed',
  progress: 100,
  fileName: 'a.txt',
  size: 1,
  attempts: 1,
  createdAt: '2026-01-01T00:00:00.000Z',
  updatedAt: '2026-01-01T00:00:00.000Z',
};

describe('client retries', () => {
  let server: Served | undefined;
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  /** A server that answers `failures` times with `status`, then 200 with `body`; counts requests. */
  async function flaky(failures: number, status: number, body: unknown) {
    const seen: Array<{ method: string; url: string; key?: string }> = [];
    server = await serve((req, res) => {
      seen.push({ method: req.method ?? '', url: req.url ?? '', key: req.headers['idempotency-key'] as string | undefined });
      req.resume();
      req.on('end', () => {
        if (seen.length <= failures) {
          res.writeHead(status, { 'content-type': 'application/problem+json' });
          res.end(JSON.stringify({ type: 'about:blank', title: 'Unavailable', status, detail: 'try later', code: 'unavailable' }));
          return;
        }
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify(body));
      });
    });
    return { url: server.url, seen };
  }

  it('retries a GET after 503 twice and returns the third answer', async () => {
    const { url, seen } = await flaky(2, 503, job);
    const retries: number[] = [];
    const client = createClient({ url, token: 't', retryBaseMs: 5, onRetry: (r) => retries.push(r.attempt) });
    await expect(client.job(job.id)).resolves.toMatchObject({ id: job.id, state: 'committed' });
    expect(seen).toHaveLength(3);
    expect(retries).toEqual([1, 2]);
  });

  it('gives up after the configured retries with the problem as an ArtstoreError', async () => {
    const { url, seen } = await flaky(10, 503, job);
    const client = createClient({ url, token: 't', retries: 2, retryBaseMs: 5 });
    const err = await client.job(job.id).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ArtstoreError);
    expect(err).toMatchObject({ status: 503, code: 'unavailable', detail: 'try later' });
    expect(seen).toHaveLength(3);
  });

  it('retries exists (read-only POST) on 429 but never a PATCH', async () => {
    const { url, seen } = await flaky(1, 429, { present: [], missing: [] });
    const client = createClient({ url, token: 't', retryBaseMs: 5 });
    await expect(client.exists(['a'.repeat(64)])).resolves.toEqual({ present: [], missing: [] });
    expect(seen).toHaveLength(2);
    seen.length = 0;
    await expect(client.patchMetadata(job.id, { description: 'x' })).rejects.toMatchObject({ status: 429 });
    expect(seen).toHaveLength(1);
  });

  it('retries an upload only when it carries an Idempotency-Key, sending the same key each time', async () => {
    const a = await flaky(1, 502, { jobs: [job] });
    const plain = createClient({ url: a.url, token: 't', retryBaseMs: 5 });
    await expect(plain.upload([{ data: 'x', name: 'x.txt' }])).rejects.toMatchObject({ status: 502 });
    expect(a.seen).toHaveLength(1);
    await server!.close();

    const b = await flaky(2, 504, { jobs: [job] });
    const keyed = createClient({ url: b.url, token: 't', retryBaseMs: 5 });
    const answer = await keyed.upload([{ data: 'x', name: 'x.txt' }], { sha256: 'b'.repeat(64) }, { idempotencyKey: 'k-1' });
    expect(answer.jobs[0]!.id).toBe(job.id);
    expect(b.seen.map((s) => s.key)).toEqual(['k-1', 'k-1', 'k-1']);
  });

  it('retries a refused connection, then reports connection_failed with status 0', async () => {
    const port = await freePort();
    const retries: string[] = [];
    const client = createClient({ url: `http://127.0.0.1:${port}`, token: 't', retries: 2, retryBaseMs: 5, onRetry: (r) => retries.push(r.reason) });
    const err = await client.info().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ArtstoreError);
    expect(err).toMatchObject({ status: 0, code: 'connection_failed' });
    expect(retries).toEqual(['ECONNREFUSED', 'ECONNREFUSED']);
  });
});
