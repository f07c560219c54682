// Helpers of the resumable-upload tests: tus-js-client as a promise and digests (the proxy that cuts and moves
// connections is test/helpers/tcp-proxy.ts).
import { createHash } from 'node:crypto';
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
