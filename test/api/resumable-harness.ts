// Helpers of the resumable-upload tests: tus-js-client as a promise, a TCP proxy whose target can change (to move
// a client to another API process) and whose cut() resets every open connection, and digests.
import { createHash } from 'node:crypto';
import net from 'node:net';
import * as tus from 'tus-js-client';

export const sha256 = (data: Buffer): string => createHash('sha256').update(data).digest('hex');

export interface TusResult {
  url: string;
  jobId: string | null;
  chunks: number;
}

/** Uploads data with the real tus-js-client (tus-v1 or its IETF draft mode); resolves on success. */
export function uploadWithTusClient(
  endpoint: string,
  token: string,
  data: Buffer,
  options: { protocol?: 'tus-v1' | 'ietf-draft-03' | 'ietf-draft-05'; chunkSize?: number; metadata?: Record<string, string> } = {},
): Promise<TusResult> {
  return new Promise((resolve, reject) => {
    let chunks = 0;
    const upload = new tus.Upload(data, {
      endpoint,
      headers: { Authorization: `Bearer ${token}` },
      // The option exists in 4.3.1 (tus-js-client's own typings lag behind).
      ...({ protocol: options.protocol ?? 'tus-v1' } as object),
      chunkSize: options.chunkSize ?? Number.POSITIVE_INFINITY,
      metadata: options.metadata ?? { filename: 'scan.bin', filetype: 'application/octet-stream' },
      retryDelays: [0, 50, 100, 200, 400, 800, 1_000, 1_000, 1_000, 1_000, 1_000, 1_000],
      storeFingerprintForResuming: false,
      onChunkComplete: () => void chunks++,
      onSuccess: (payload) => {
        const res = (payload as { lastResponse?: tus.HttpResponse } | undefined)?.lastResponse;
        resolve({ url: upload.url!, jobId: res?.getHeader('Upload-Job-Id') ?? null, chunks });
      },
      onError: reject,
    });
    upload.start();
  });
}

/** A loopback TCP proxy to a port that can change; cut() resets every connection open through it. */
export class SwitchProxy {
  private readonly sockets = new Set<net.Socket>();
  private server?: net.Server;
  port = 0;

  constructor(private target: number) {}

  async open(): Promise<this> {
    this.server = net.createServer((client) => {
      const upstream = net.connect(this.target, '127.0.0.1');
      for (const s of [client, upstream]) {
        this.sockets.add(s);
        s.on('close', () => this.sockets.delete(s));
        s.on('error', () => s.destroy());
      }
      client.on('close', () => upstream.destroy());
      upstream.on('close', () => client.destroy());
      client.pipe(upstream);
      upstream.pipe(client);
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as net.AddressInfo).port;
    return this;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** New connections go to this port from now on. */
  switchTo(port: number): void {
    this.target = port;
  }

  /** Synchronous, for a test hook: resets every open connection (the client sees its request fail). */
  cut(): void {
    for (const s of this.sockets) s.resetAndDestroy();
    this.sockets.clear();
  }

  async close(): Promise<void> {
    this.cut();
    await new Promise<void>((resolve) => this.server?.close(() => resolve()) ?? resolve());
  }
}
