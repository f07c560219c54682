// The client's upload body against a tiny local server: the multipart it writes parses back to what was given,
// local files are read as they are sent, a file that shrank fails the call, an early answer ends it cleanly.
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import type http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ArtstoreError, createClient, LocalFileChangedError } from '../../src/client/index.js';
import { serve, type Served } from '../helpers/serve.js';

const job = (i: number) => ({
  id: `00000000-0000-4000-8000-00000000000${i}`,
  kind: 'ingest',
  state: 'queued',
  progress: 0,
  fileName: 'x',
  size: 1,
  attempts: 0,
  createdAt: '2026-01-01T00:00:00.000Z',
  updatedAt: '2026-01-01T00:00:00.000Z',
});
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

interface Seen {
  headers: http.IncomingHttpHeaders;
  body: Buffer;
  socket: unknown;
}

describe('client uploads', () => {
  let dir: string;
  let server: Served | undefined;
  beforeAll(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'artstore-client-upload-'));
  });
  afterAll(async () => {
    if (dir) await fs.rm(dir, { recursive: true, force: true });
  });
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  /** A server that reads each request whole and answers one job per file part (counted in the raw body). */
  async function recording() {
    const seen: Seen[] = [];
    server = await serve((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (d: Buffer) => chunks.push(d));
      req.on('end', () => {
        const body = Buffer.concat(chunks);
        seen.push({ headers: req.headers, body, socket: req.socket });
        const parts = body.toString('latin1').split('name="file"').length - 1;
        res.writeHead(202, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ jobs: Array.from({ length: parts }, (_, i) => job(i)) }));
      });
    });
    return { url: server.url, seen };
  }

  it('writes fields and files as multipart that parses back to the same names, values and bytes', async () => {
    const { url, seen } = await recording();
    const big = randomBytes(2 * 1024 * 1024 + 123);
    const bigPath = path.join(dir, 'big.bin');
    await fs.writeFile(bigPath, big);
    const small = randomBytes(5000);
    const client = createClient({ url, token: 't' });
    const answer = await client.upload(
      [
        { path: bigPath },
        { data: small, name: 'quote"and\nbreak — ✓.bin', contentType: 'image/png' },
        { data: '', name: 'empty.txt' },
      ],
      { description: 'two\nlines', tags: ['a', 'b'], sha256: `${sha(big)},${sha(small)},${sha(Buffer.alloc(0))}` },
      { idempotencyKey: 'k' },
    );
    expect(answer.jobs).toHaveLength(3);
    const [req] = seen;
    expect(Number(req!.headers['content-length'])).toBe(req!.body.length);
    expect(req!.headers['idempotency-key']).toBe('k');
    const form = await new Response(req!.body, { headers: { 'content-type': String(req!.headers['content-type']) } }).formData();
    expect(form.get('description')).toBe('two\r\nlines');
    expect(form.get('tags')).toBe('["a","b"]');
    const files = form.getAll('file') as File[];
    // Escaped as fetch's FormData escapes them (", CR, LF as %22, %0D, %0A), which this parser decodes again.
    expect(req!.body.toString('utf8')).toContain('filename="quote%22and%0Abreak — ✓.bin"');
    expect(files.map((f) => f.name)).toEqual(['big.bin', 'quote"and\nbreak — ✓.bin', 'empty.txt']);
    expect(files[1]!.type).toBe('image/png');
    expect(sha(Buffer.from(await files[0]!.arrayBuffer()))).toBe(sha(big));
    expect(Buffer.compare(Buffer.from(await files[1]!.arrayBuffer()), small)).toBe(0);
    expect(files[2]!.size).toBe(0);
  });

  it('sends the given size of a local file, and several uploads over one kept-alive connection', async () => {
    const { url, seen } = await recording();
    const file = path.join(dir, 'grown.bin');
    const bytes = randomBytes(10_000);
    await fs.writeFile(file, bytes);
    const client = createClient({ url, token: 't' });
    await client.upload([{ path: file, size: 4000 }]);
    await client.upload([{ path: file, size: 4000 }]);
    const form = await new Response(seen[0]!.body, { headers: { 'content-type': String(seen[0]!.headers['content-type']) } }).formData();
    expect(Buffer.compare(Buffer.from(await (form.get('file') as File).arrayBuffer()), bytes.subarray(0, 4000))).toBe(0);
    expect(seen[1]!.socket).toBe(seen[0]!.socket);
  });

  it('fails with LocalFileChangedError, not retried, when a local file holds fewer bytes than it is sent with', async () => {
    const { url, seen } = await recording();
    const file = path.join(dir, 'shrunk.bin');
    await fs.writeFile(file, randomBytes(3000));
    const retries: string[] = [];
    const client = createClient({ url, token: 't', retryBaseMs: 5, onRetry: (r) => retries.push(r.reason) });
    const err = await client.upload([{ path: file, size: 5000 }], {}, { idempotencyKey: 'k' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(LocalFileChangedError);
    expect(err).toMatchObject({ code: 'file_changed', path: file });
    expect(retries).toEqual([]);
    expect(seen).toHaveLength(0);
  });

  it('takes an answer sent before the body was read (413) as the error, and the next upload goes through', async () => {
    let calls = 0;
    server = await serve((req, res) => {
      calls++;
      if (calls === 1) {
        // Answered without reading the body, as the API's preflight does (Node's server then discards the rest).
        res.writeHead(413, { 'content-type': 'application/problem+json' });
        res.end(JSON.stringify({ type: 'about:blank', title: 'Too large', status: 413, detail: 'too big', code: 'payload_too_large' }));
        return;
      }
      req.resume();
      req.on('end', () => {
        res.writeHead(202, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ jobs: [job(1)] }));
      });
    });
    const file = path.join(dir, 'large.bin');
    await fs.writeFile(file, randomBytes(8 * 1024 * 1024));
    const client = createClient({ url: server.url, token: 't' });
    const err = await client.upload([{ path: file }]).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ArtstoreError);
    expect(err).toMatchObject({ status: 413, code: 'payload_too_large' });
    await expect(client.upload([{ data: 'x', name: 'x.txt' }])).resolves.toMatchObject({ status: 202 });
  });
});
