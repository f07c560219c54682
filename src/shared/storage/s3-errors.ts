// What an S3 store's answer means for the blob store beyond not-found (s3-objects.ts): a conditional create lost, an
// operation this store does not offer.
// Told by the SDK's error name and HTTP status, since S3-compatible stores differ in which of the two they get right.

interface SdkError {
  name?: unknown;
  $metadata?: { httpStatusCode?: number };
}

function statusOf(err: unknown): number | undefined {
  return (err as SdkError | null)?.$metadata?.httpStatusCode;
}

function nameOf(err: unknown): unknown {
  return (err as SdkError | null)?.name;
}

/**
 * A conditional create lost: 412 when the key exists (If-None-Match: *), 409 ConditionalRequestConflict when another
 * conditional write of the same key was in flight.
 */
export function isS3CreateConflict(err: unknown): boolean {
  const name = nameOf(err);
  return name === 'PreconditionFailed' || name === 'ConditionalRequestConflict' || statusOf(err) === 412 || statusOf(err) === 409;
}

/**
 * The store refuses this element: its bucket is missing or its credentials are refused (403). Not an outage (a
 * retry does not mend it), but not the job's fault either: an operator fixes it and the job runs again.
 */
export function isS3AccessRefused(err: unknown): boolean {
  const name = nameOf(err);
  return (
    name === 'NoSuchBucket' ||
    name === 'AccessDenied' ||
    name === 'InvalidAccessKeyId' ||
    name === 'SignatureDoesNotMatch' ||
    name === 'ExpiredToken' ||
    statusOf(err) === 403
  );
}

/** The store does not offer this operation (s3rver answers AbortMultipartUpload with 405). */
export function isS3Unsupported(err: unknown): boolean {
  const name = nameOf(err);
  const status = statusOf(err);
  return name === 'NotImplemented' || name === 'MethodNotAllowed' || status === 405 || status === 501;
}
