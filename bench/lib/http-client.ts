// HTTP clients of the bench: a streamed multipart upload, a tus upload, a full download, and autocannon runs.
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import autocannon from 'autocannon';

export interface Timed<T> {
  ms: number;
  value: T;
}

interface Answer {
  status: number;
  body: string;
  headers: http.IncomingHttpHeaders;
}

/** Sends one request whose body is the given parts (buffers, or file paths streamed from disk, whole or a range). */
function send(url: string, method: string, headers: Record<string, string>, parts: Array<Buffer | { path: string; start?: number; end?: number }>, length: number): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method, headers: { ...headers, 'Content-Length': String(length) } }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, headers: res.headers }));
      res.on('error', reject);
    });
    req.on('error', reject);
    const writeNext = (i: number) => {
      if (i === parts.length) {
        req.end();
        return;
      }
      const part = parts[i]!;
      if (Buffer.isBuffer(part)) {
        req.write(part);
        writeNext(i + 1);
        return;
      }
      const stream = fs.createReadStream(part.path, { highWaterMark: 1024 * 1024, start: part.start, end: part.end });
      stream.on('error', reject);
      stream.on('end', () => writeNext(i + 1));
      stream.pipe(req, { end: false });
    };
    writeNext(0);
  });
}

/** multipart/form-data framing for one part named "file". */
export function multipartFrame(fileName: string): { contentType: string; head: Buffer; tail: Buffer } {
  const boundary = `----artstore-bench-${randomBytes(8).toString('hex')}`;
  return {
    contentType: `multipart/form-data; boundary=${boundary}`,
    head: Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="${fileName}"\r\nContent-Type: application/octet-stream\r\n\r\n`),
    tail: Buffer.from(`\r\n--${boundary}--\r\n`),
  };
}

/** POSTs a file from disk as one multipart part named "file" (streamed, never held in memory). */
export async function uploadMultipart(url: string, filePath: string, size: number, headers: Record<string, string> = {}): Promise<Timed<Answer>> {
  const frame = multipartFrame('bench.bin');
  const started = performance.now();
  const value = await send(url, 'POST', { ...headers, 'Content-Type': frame.contentType }, [frame.head, { path: filePath }, frame.tail], frame.head.length + size + frame.tail.length);
  return { ms: performance.now() - started, value };
}

/** tus 1.0.0 creation (POST) and one PATCH with the whole file; the time covers both. */
export async function uploadTus(endpoint: string, filePath: string, size: number): Promise<Timed<Answer>> {
  const started = performance.now();
  const created = await send(endpoint, 'POST', { 'Tus-Resumable': '1.0.0', 'Upload-Length': String(size), 'Upload-Metadata': `filename ${Buffer.from('bench.bin').toString('base64')}` }, [], 0);
  if (created.status !== 201 || !created.headers.location) throw new Error(`tus creation answered ${created.status}: ${created.body}`);
  const location = new URL(created.headers.location, endpoint).toString();
  const value = await send(location, 'PATCH', { 'Tus-Resumable': '1.0.0', 'Upload-Offset': '0', 'Content-Type': 'application/offset+octet-stream' }, [{ path: filePath }], size);
  return { ms: performance.now() - started, value };
}

/** A tus upload in PATCHes of chunkBytes (tus-js-client's chunkSize); the last answer carries Upload-Job-Id on ours. */
export async function uploadTusChunked(endpoint: string, filePath: string, size: number, chunkBytes: number, headers: Record<string, string> = {}): Promise<Timed<Answer>> {
  const started = performance.now();
  const tus = { ...headers, 'Tus-Resumable': '1.0.0' };
  const created = await send(endpoint, 'POST', { ...tus, 'Upload-Length': String(size), 'Upload-Metadata': `filename ${Buffer.from('bench.bin').toString('base64')}` }, [], 0);
  if (created.status !== 201 || !created.headers.location) throw new Error(`tus creation answered ${created.status}: ${created.body}`);
  const location = new URL(created.headers.location, endpoint).toString();
  let value = created;
  for (let offset = 0; offset < size; offset += chunkBytes) {
    const length = Math.min(chunkBytes, size - offset);
    const patch = { ...tus, 'Upload-Offset': String(offset), 'Content-Type': 'application/offset+octet-stream' };
    value = await send(location, 'PATCH', patch, [{ path: filePath, start: offset, end: offset + length - 1 }], length);
    if (value.status !== 204) throw new Error(`tus PATCH at ${offset} answered ${value.status}: ${value.body}`);
  }
  return { ms: performance.now() - started, value };
}

/** GETs url and counts the body bytes without keeping them. */
export function download(url: string, headers: Record<string, string> = {}): Promise<Timed<{ status: number; bytes: number }>> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    http
      .get(url, { headers }, (res) => {
        let bytes = 0;
        res.on('data', (d: Buffer) => (bytes += d.length));
        res.on('end', () => resolve({ ms: performance.now() - started, value: { status: res.statusCode ?? 0, bytes } }));
        res.on('error', reject);
      })
      .on('error', reject);
  });
}

export interface CannonResult {
  /** 2xx answers per second over the run. */
  rps: number;
  ok: number;
  non2xx: number;
  errors: number;
  p50Ms: number;
  p99Ms: number;
  seconds: number;
}

export interface CannonOptions {
  url: string;
  connections: number;
  /** Run for this long ... */
  durationSeconds?: number;
  /** ... or until this many requests (then maxSeconds bounds it). */
  amount?: number;
  maxSeconds?: number;
  method?: 'GET' | 'POST';
  headers?: Record<string, string>;
  setupRequest?: (request: autocannon.Request) => autocannon.Request;
}

export function cannon(options: CannonOptions): Promise<CannonResult> {
  return new Promise((resolve, reject) => {
    let stopTimer: NodeJS.Timeout | undefined;
    // Our own clock: autocannon's start/finish follow its 1 s sampling ticks, too coarse for short runs.
    const started = performance.now();
    let lastAnswer = started;
    const instance = autocannon(
      {
        url: options.url,
        connections: options.amount ? Math.min(options.connections, options.amount) : options.connections,
        ...(options.amount ? { amount: options.amount } : { duration: options.durationSeconds ?? 5 }),
        method: options.method ?? 'GET',
        headers: options.headers ?? {},
        requests: [
          {
            ...(options.setupRequest ? { setupRequest: options.setupRequest } : {}),
            onResponse: () => {
              lastAnswer = performance.now();
            },
          },
        ],
        timeout: 30,
      },
      (err, result) => {
        if (stopTimer) clearTimeout(stopTimer);
        if (err) return reject(err);
        // With amount, autocannon reports only at its next tick: the run ended with the last answer.
        const seconds = ((options.amount ? lastAnswer : performance.now()) - started) / 1000;
        resolve({
          rps: result['2xx'] / Math.max(seconds, 1e-9),
          ok: result['2xx'],
          non2xx: result.non2xx,
          errors: result.errors + result.timeouts,
          p50Ms: result.latency.p50,
          p99Ms: result.latency.p99,
          seconds,
        });
      },
    );
    if (options.amount && options.maxSeconds) stopTimer = setTimeout(() => instance.stop(), options.maxSeconds * 1000);
  });
}
