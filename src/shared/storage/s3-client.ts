// The one place an S3 client is built from the config: addressing, checksum mode and credentials (SPEC §8).
import { S3Client } from '@aws-sdk/client-s3';
import type { S3Config } from '../config.js';

const CONNECT_TIMEOUT_MS = 5_000;
const IDLE_TIMEOUT_MS = 120_000;

/**
 * With a non-AWS endpoint: path-style addressing (no bucket subdomains on a loopback or private host), and the SDK's
 * checksums only WHEN_REQUIRED, since some S3 implementations store the SDK's default aws-chunked framing of a
 * streamed body as the object's bytes (STACK.md). The element verifies sha256 itself and never relies on them.
 */
export function createS3Client(s3: S3Config): S3Client {
  const custom = s3.endpoint !== undefined;
  return new S3Client({
    region: s3.region,
    ...(custom
      ? {
          endpoint: s3.endpoint,
          forcePathStyle: true,
          requestChecksumCalculation: 'WHEN_REQUIRED',
          responseChecksumValidation: 'WHEN_REQUIRED',
        }
      : {}),
    ...(s3.credentials ? { credentials: { ...s3.credentials } } : {}),
    // Bounded retries with the SDK's backoff; an outage beyond them surfaces as a retryable job error.
    maxAttempts: 3,
    // A store that never accepts the connection, or stops sending or reading mid-transfer, fails the call instead
    // of holding a job (or a download) forever; idle rather than total time, so a large transfer may take long.
    requestHandler: { connectionTimeout: CONNECT_TIMEOUT_MS, socketTimeout: IDLE_TIMEOUT_MS },
  });
}
