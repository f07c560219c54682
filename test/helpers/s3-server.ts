// An in-process S3 server (s3rver) for tests: loopback, a random port, a temp directory, one bucket; closed after.
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import S3rver from 's3rver';

export interface S3TestServer {
  endpoint: string;
  bucket: string;
  accessKeyId: string;
  secretAccessKey: string;
  /** Stops the server and removes its directory (close the clients first: idle keep-alive sockets are dropped). */
  close(): Promise<void>;
}

/**
 * What s3rver lacks (STACK.md): If-None-Match on PUT is ignored, AbortMultipartUpload answers 405, and with the
 * SDK's default checksum mode a streamed body is stored with its aws-chunked framing (createS3Client sets
 * WHEN_REQUIRED for any custom endpoint, which avoids it).
 */
export async function startS3Server(): Promise<S3TestServer> {
  const directory = await fs.mkdtemp(path.join(os.tmpdir(), 's3rver-'));
  const bucket = `artstore-test-${randomBytes(4).toString('hex')}`;
  const server = new S3rver({ address: '127.0.0.1', port: 0, silent: true, directory, configureBuckets: [{ name: bucket, configs: [] }] });
  const { port } = await server.run();
  return {
    endpoint: `http://127.0.0.1:${port}`,
    bucket,
    // s3rver's documented test credentials: it checks signatures made with them.
    accessKeyId: 'S3RVER',
    secretAccessKey: 'S3RVER',
    async close() {
      await server.close();
      await fs.rm(directory, { recursive: true, force: true });
    },
  };
}

/** The element's environment for BLOB_BACKEND=s3 on this server (endpoint and bucket may be swapped for fault tests). */
export function s3EnvOf(server: S3TestServer, overrides: { endpoint?: string; bucket?: string } = {}): Record<string, string> {
  return {
    BLOB_BACKEND: 's3',
    S3_ENDPOINT: overrides.endpoint ?? server.endpoint,
    S3_BUCKET: overrides.bucket ?? server.bucket,
    S3_ACCESS_KEY_ID: server.accessKeyId,
    S3_SECRET_ACCESS_KEY: server.secretAccessKey,
  };
}
