// S3 BlobStore: ${prefix}blobs/<aa>/<bb>/<sha256> in one bucket, created once (conditional create, then verified).
import fs from 'node:fs/promises';
import type { Readable } from 'node:stream';
import {
  AbortMultipartUploadCommand,
  GetObjectCommand,
  type GetObjectCommandOutput,
  HeadBucketCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { AppError } from '../errors.js';
import { assertSha256, type BlobStore, type ByteRange, type PutOptions, type PutResult } from './blob-store.js';
import { isS3CreateConflict, isS3Unsupported } from './s3-errors.js';
import { deleteObject, isNoSuchKey, isNotFound, listObjects, putFileObject } from './s3-objects.js';

export interface S3BlobStoreOptions {
  client: S3Client;
  bucket: string;
  /** Used exactly as given (a trailing '/' included), as SPEC §8 says. */
  prefix: string;
}

/** Conditional creates of one key that lose to a concurrent one before put gives up (the job then retries). */
const CREATE_ATTEMPTS = 3;
const BLOB_NAME = /^([0-9a-f]{2})\/([0-9a-f]{2})\/([0-9a-f]{64})$/;

/** A staged upload's multipart upload older than this was left by an API process that died mid-way. */
const STAGED_UPLOAD_MAX_MS = 24 * 3_600_000;

export class S3BlobStore implements BlobStore {
  readonly backend = 's3';
  private readonly client: S3Client;
  private readonly bucket: string;
  private readonly blobsPrefix: string;
  /** Where staged uploads lie (S3 staging): their multipart parts are swept too. */
  private readonly stagingPrefix: string;

  constructor(options: S3BlobStoreOptions) {
    this.client = options.client;
    this.bucket = options.bucket;
    this.blobsPrefix = `${options.prefix}blobs/`;
    this.stagingPrefix = `${options.prefix}staging/`;
  }

  keyFor(sha256: string): string {
    assertSha256(sha256);
    return `${this.blobsPrefix}${sha256.slice(0, 2)}/${sha256.slice(2, 4)}/${sha256}`;
  }

  async put(sha256: string, sourcePath: string, options: PutOptions = {}): Promise<PutResult> {
    const storageKey = this.keyFor(sha256);
    const sourceSize = (await fs.stat(sourcePath)).size;
    for (let attempt = 1; ; attempt++) {
      const present = await this.sizeOf(storageKey);
      if (present !== null) return this.settleExisting(storageKey, sourcePath, sourceSize, present, options);
      try {
        // If-None-Match: * makes the create atomic where the store honours it: of two jobs racing with the same
        // bytes, exactly one creates the object and the other is told it exists (412).
        await this.upload(storageKey, sourcePath, sourceSize, true);
        break;
      } catch (err) {
        // A store that refuses the condition itself (501): create, then verify below, as where it is ignored.
        if (isS3Unsupported(err)) {
          await this.upload(storageKey, sourcePath, sourceSize, false);
          break;
        }
        // A 409 means another conditional write of the key was in flight: look again, and create if it failed.
        if (!isS3CreateConflict(err) || attempt >= CREATE_ATTEMPTS) throw err;
      }
    }
    // Where the store ignores the condition (s3rver), a racing job may have written too: only verified bytes of
    // this sha256 are ever written under its key, so the object must now hold exactly sourceSize bytes.
    await this.verifySize(storageKey, sourceSize);
    return { created: true, repaired: false, storageKey };
  }

  /** Bytes are stored under the key already: reused when the caller vouches for them and the size matches. */
  private async settleExisting(storageKey: string, sourcePath: string, sourceSize: number, presentSize: number, options: PutOptions): Promise<PutResult> {
    if ((options.existing ?? 'reuse') === 'reuse' && presentSize === sourceSize) return { created: false, repaired: false, storageKey };
    // An S3 PUT replaces an object atomically: readers see the old bytes or the new, never a mix.
    await this.upload(storageKey, sourcePath, sourceSize, false);
    await this.verifySize(storageKey, sourceSize);
    return { created: false, repaired: true, storageKey };
  }

  /**
   * Streams the file up: one PutObject for a small one, a multipart upload with bounded memory above the threshold
   * (s3-objects.ts); a failed multipart upload is aborted, and sweepTemporaries takes what a crash leaves.
   */
  private async upload(key: string, sourcePath: string, size: number, createOnly: boolean): Promise<void> {
    await putFileObject(this.client, this.bucket, key, sourcePath, size, createOnly ? { ifNoneMatch: '*' } : {});
  }

  private async verifySize(key: string, expected: number): Promise<void> {
    const size = await this.sizeOf(key);
    if (size !== expected) throw new Error(`${key} holds ${size ?? 'no'} bytes right after a put of ${expected}`);
  }

  async openRead(sha256: string, range?: ByteRange): Promise<Readable> {
    const out = await this.get(sha256, range);
    // In Node the SDK's body is an http.IncomingMessage (a Readable) with its stream helpers mixed in.
    return out.Body as Readable;
  }

  async readRange(sha256: string, range: ByteRange): Promise<Buffer> {
    const bytes = await (await this.get(sha256, range)).Body!.transformToByteArray();
    if (bytes.length !== range.end - range.start + 1) throw new Error(`blob ${sha256} is shorter than the range ${range.start}-${range.end}`);
    return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
  }

  /**
   * GetObject of the blob or a range of it. A store that answers a range with another number of bytes (one that
   * ignores Range, or s3rver's whole object for bytes=0-0) is refused here rather than served as the range.
   */
  private async get(sha256: string, range?: ByteRange): Promise<GetObjectCommandOutput> {
    const key = this.keyFor(sha256);
    let out: GetObjectCommandOutput;
    try {
      out = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: key, ...(range ? { Range: `bytes=${range.start}-${range.end}` } : {}) }));
    } catch (err) {
      if (isNoSuchKey(err)) throw new AppError('not_found', 'blob is missing from the store');
      throw err;
    }
    const expected = range ? range.end - range.start + 1 : undefined;
    if (expected !== undefined && out.ContentLength !== undefined && out.ContentLength !== expected) {
      (out.Body as Readable | undefined)?.destroy();
      throw new Error(`the store answered the range ${range!.start}-${range!.end} of blob ${sha256} with ${out.ContentLength} bytes`);
    }
    return out;
  }

  async stat(sha256: string): Promise<{ size: number } | null> {
    const size = await this.sizeOf(this.keyFor(sha256));
    return size === null ? null : { size };
  }

  async delete(sha256: string): Promise<boolean> {
    const key = this.keyFor(sha256);
    // DeleteObject answers 204 whether or not the key existed: only a HEAD first can tell.
    if ((await this.sizeOf(key)) === null) return false;
    await deleteObject(this.client, this.bucket, key);
    return true;
  }

  async *list(): AsyncIterable<string> {
    for await (const object of listObjects(this.client, this.bucket, this.blobsPrefix)) {
      // Only keys of the blob layout count: anything else under the prefix is not ours to report.
      const m = BLOB_NAME.exec(object.key.slice(this.blobsPrefix.length));
      if (m && m[3]!.startsWith(m[1]! + m[2]!)) yield m[3]!;
    }
  }

  /**
   * Aborts multipart uploads begun before olderThan under blobs/ (a crashed put's parts), and those under staging/
   * begun over a day ago (an API process that died while a staged upload went up; a live one finishes long before).
   * Neither shows in a listing, both cost storage. 0 where the store has no multipart listing.
   */
  async sweepTemporaries(olderThan: Date): Promise<number> {
    const stagingOlderThan = new Date(Math.min(olderThan.getTime(), Date.now() - STAGED_UPLOAD_MAX_MS));
    return (await this.abortUploadsUnder(this.blobsPrefix, olderThan)) + (await this.abortUploadsUnder(this.stagingPrefix, stagingOlderThan));
  }

  private async abortUploadsUnder(prefix: string, olderThan: Date): Promise<number> {
    let aborted = 0;
    let keyMarker: string | undefined;
    let uploadIdMarker: string | undefined;
    try {
      while (true) {
        const page = await this.client.send(
          new ListMultipartUploadsCommand({ Bucket: this.bucket, Prefix: prefix, KeyMarker: keyMarker, UploadIdMarker: uploadIdMarker }),
        );
        for (const upload of page.Uploads ?? []) {
          if (!upload.Key || !upload.UploadId || !upload.Initiated || upload.Initiated >= olderThan) continue;
          await this.client.send(new AbortMultipartUploadCommand({ Bucket: this.bucket, Key: upload.Key, UploadId: upload.UploadId }));
          aborted += 1;
        }
        if (!page.IsTruncated || (!page.NextKeyMarker && !page.NextUploadIdMarker)) return aborted;
        keyMarker = page.NextKeyMarker;
        uploadIdMarker = page.NextUploadIdMarker;
      }
    } catch (err) {
      if (isS3Unsupported(err)) return aborted;
      throw err;
    }
  }

  /** The bucket answers (HeadBucket): for a readiness check. Throws what the store said otherwise. */
  async ready(options: { timeoutMs?: number } = {}): Promise<void> {
    await this.client.send(new HeadBucketCommand({ Bucket: this.bucket }), { abortSignal: AbortSignal.timeout(options.timeoutMs ?? 5_000) });
  }

  async close(): Promise<void> {
    this.client.destroy();
  }

  private async sizeOf(key: string): Promise<number | null> {
    try {
      const head = await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: key }));
      return head.ContentLength ?? 0;
    } catch (err) {
      if (isNotFound(err)) return null;
      throw err;
    }
  }
}
