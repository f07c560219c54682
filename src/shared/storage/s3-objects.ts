// Small S3 object operations shared by the S3 staging and blob stores: a local file up, an object down to a file,
// not-found recognised, keys listed with their age.
import fs from 'node:fs';
import { pipeline } from 'node:stream/promises';
import type { Readable } from 'node:stream';
import { DeleteObjectCommand, GetObjectCommand, ListObjectsV2Command, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';

/**
 * Above this a file goes up as a multipart upload (lib-storage), with this part size and parts in flight; up to it,
 * in one PutObject of the file read whole: a buffered body is one the SDK can retry, a streamed one it cannot.
 */
export const MULTIPART_THRESHOLD_BYTES = 8 * 1024 * 1024;
const PART_BYTES = 8 * 1024 * 1024;
const PARTS_IN_FLIGHT = 4;

/**
 * The SDK's answer for a key or bucket that is not there (NoSuchKey, NotFound, a bare 404): for HEAD, which has no
 * body to tell a missing key from a missing bucket. A GET says which (isNoSuchKey).
 */
export function isNotFound(err: unknown): boolean {
  const e = err as { name?: string; Code?: string; $metadata?: { httpStatusCode?: number } };
  return e?.name === 'NoSuchKey' || e?.name === 'NotFound' || e?.Code === 'NoSuchKey' || e?.$metadata?.httpStatusCode === 404;
}

/** A GET's answer that this key is not there; a missing bucket (NoSuchBucket, also 404) is not this. */
export function isNoSuchKey(err: unknown): boolean {
  const e = err as { name?: string; Code?: string };
  return e?.name === 'NoSuchKey' || e?.Code === 'NoSuchKey';
}

/**
 * Uploads the file at path (size bytes) as bucket/key: one PutObject up to the multipart threshold, a multipart
 * upload above it with bounded memory (parts in flight x part size).
 */
export async function putFileObject(client: S3Client, bucket: string, key: string, path: string, size: number, extra: { ifNoneMatch?: '*' } = {}): Promise<void> {
  if (size <= MULTIPART_THRESHOLD_BYTES) {
    const body = await fs.promises.readFile(path);
    if (body.length !== size) throw new Error(`${path} holds ${body.length} bytes, not the ${size} expected`);
    await client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body, ContentLength: size, IfNoneMatch: extra.ifNoneMatch }));
    return;
  }
  const upload = new Upload({
    client,
    params: { Bucket: bucket, Key: key, Body: fs.createReadStream(path), IfNoneMatch: extra.ifNoneMatch },
    partSize: PART_BYTES,
    queueSize: PARTS_IN_FLIGHT,
    leavePartsOnError: false,
  });
  await upload.done();
}

/**
 * Downloads bucket/key into the file at path (created or truncated); false when the key is not there. beforeBody
 * sees the announced length first and may refuse (throw) before a byte is written.
 */
export async function getObjectToFile(
  client: S3Client,
  bucket: string,
  key: string,
  path: string,
  beforeBody?: (length: number | undefined) => Promise<void>,
  /** 'a' appends to the file instead (a resumable upload's parts, concatenated). */
  flags: 'w' | 'a' = 'w',
): Promise<boolean> {
  let body: Readable;
  try {
    const answer = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    body = answer.Body as Readable;
    try {
      await beforeBody?.(answer.ContentLength);
    } catch (err) {
      body.destroy();
      throw err;
    }
  } catch (err) {
    if (isNoSuchKey(err)) return false;
    throw err;
  }
  await pipeline(body, fs.createWriteStream(path, { mode: 0o640, flags }));
  return true;
}

/** Deletes bucket/key (S3 answers the same whether it was there or not). */
export async function deleteObject(client: S3Client, bucket: string, key: string): Promise<void> {
  await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }));
}

/** Every key under prefix with its last modification, page by page. */
export async function* listObjects(client: S3Client, bucket: string, prefix: string): AsyncGenerator<{ key: string; modifiedMs: number; size: number }> {
  let token: string | undefined;
  do {
    const page = await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }));
    for (const o of page.Contents ?? []) {
      if (o.Key) yield { key: o.Key, modifiedMs: o.LastModified?.getTime() ?? 0, size: o.Size ?? 0 };
    }
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
}
