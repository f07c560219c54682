// S3 BlobStore: ${prefix}blobs/<aa>/<bb>/<sha256> in one bucket, created once (conditional create, then verified).
import fs from 'node:fs/promises';
import { createReadStream } from 'node:fs';
import type { Readable } from 'node:stream';
import {
  AbortMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  type GetObjectCommandOutput,
  HeadBucketCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  PutObjectCommand,
  paginateListObjectsV2,
  type S3Client,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { AppError } from '../errors.js';
import { assertSha256, type BlobStore, type ByteRange, type PutOptions, type PutResult } from './blob-store.js';
import { isS3CreateConflict, isS3NotFound, isS3Unsupported } from './s3-errors.js';

export interface S3BlobStoreOptions {
  client: S3Client;
  bucket: string;
  /** Used exactly as given (a trailing '/' included), as SPEC §8 says. */
  prefix: string;
  /**
   * Sources up to this size go up in one PutObject from a buffer (the SDK can retry it); larger ones stream through
   * a multipart upload. Default 8 MiB.
   */
  singlePutMaxBytes?: number;
  /** Multipart part size (S3's minimum is 5 MiB). Default 8 MiB. */
  partSize?: number;
  /** Parts in flight per upload: with partSize, the bound on what one put holds in memory. Default 2. */
  partsInFlight?: number;
}

const MIB = 1024 * 1024;
const BLOB_NAME = /^([0-9a-f]{2})\/([0-9a-f]{2})\/([0-9a-f]{64})$/;

export class S3BlobStore implements BlobStore {
  readonly backend = 's3';
  private readonly client: S3Client;
  private readonly bucket: string;
  private readonly blobsPrefix: string;
  private readonly singlePutMaxBytes: number;
  private readonly partSize: number;
  private readonly partsInFlight: number;

  constructor(options: S3BlobStoreOptions) {
    this.client = options.client;
    this.bucket = options.bucket;
    this.blobsPrefix = `${options.prefix}blobs/`;
    this.partSize = Math.max(5 * MIB, options.partSize ?? 8 * MIB);
    this.singlePutMaxBytes = options.singlePutMaxBytes ?? 8 * MIB;
    this.partsInFlight = Math.max(1, options.partsInFlight ?? 2);
  }

  keyFor(sha256: string): string {
    assertSha256(sha256);
    return `${this.blobsPrefix}${sha256.slice(0, 2)}/${sha256.slice(2, 4)}/${sha256}`;
  }

  async put(sha256: string, sourcePath: string, options: PutOptions = {}): Promise<PutResult> {
    const storageKey = this.keyFor(sha256);
    const sourceSize = (await fs.stat(sourcePath)).size;
    const present = await this.sizeOf(storageKey);
    if (present !== null) return this.settleExisting(storageKey, sourcePath, sourceSize, present, options);
    try {
      // If-None-Match: * makes the create atomic where the store honours it: of two jobs racing with the same
      // bytes, exactly one creates the object and the other is told it exists.
      await this.upload(storageKey, sourcePath, sourceSize, true);
    } catch (err) {
      if (!isS3CreateConflict(err)) throw err;
      const size = await this.sizeOf(storageKey);
      if (size === null) throw new Error(`conditional create of ${storageKey} conflicted, yet nothing is stored under it`, { cause: err });
      return this.settleExisting(storageKey, sourcePath, sourceSize, size, options);
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

  private async upload(key: string, sourcePath: string, size: number, createOnly: boolean): Promise<void> {
    const condition = createOnly ? { IfNoneMatch: '*' } : {};
    if (size <= this.singlePutMaxBytes) {
      // A buffer, not a stream: the SDK retries a buffered body, never a streamed one.
      const body = await fs.readFile(sourcePath);
      await this.client.send(new PutObjectCommand({ Bucket: this.bucket, Key: key, Body: body, ContentLength: body.length, ...condition }));
      return;
    }
    // Parts are buffered partSize at a time, partsInFlight at once: memory stays bounded whatever the file's size.
    // On failure the upload is aborted (leavePartsOnError false); sweepTemporaries takes what a crash leaves.
    const body = createReadStream(sourcePath, { highWaterMark: MIB });
    const upload = new Upload({
      client: this.client,
      params: { Bucket: this.bucket, Key: key, Body: body, ...condition },
      partSize: this.partSize,
      queueSize: this.partsInFlight,
      leavePartsOnError: false,
    });
    try {
      await upload.done();
    } finally {
      // A failed upload stops reading midway: the file's descriptor is released now, not at garbage collection.
      body.destroy();
    }
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
      if (isS3NotFound(err)) throw new AppError('not_found', 'blob is missing from the store');
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
    await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: key }));
    return true;
  }

  async *list(): AsyncIterable<string> {
    const pages = paginateListObjectsV2({ client: this.client, pageSize: 1000 }, { Bucket: this.bucket, Prefix: this.blobsPrefix });
    for await (const page of pages) {
      for (const object of page.Contents ?? []) {
        // Only keys of the blob layout count: anything else under the prefix is not ours to report.
        const m = BLOB_NAME.exec(object.Key?.slice(this.blobsPrefix.length) ?? '');
        if (m && m[3]!.startsWith(m[1]! + m[2]!)) yield m[3]!;
      }
    }
  }

  /** Aborts multipart uploads of blobs begun before olderThan (a crashed put's parts); 0 where the store has none. */
  async sweepTemporaries(olderThan: Date): Promise<number> {
    let aborted = 0;
    let keyMarker: string | undefined;
    let uploadIdMarker: string | undefined;
    try {
      while (true) {
        const page = await this.client.send(
          new ListMultipartUploadsCommand({ Bucket: this.bucket, Prefix: this.blobsPrefix, KeyMarker: keyMarker, UploadIdMarker: uploadIdMarker }),
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
      if (isS3NotFound(err)) return null;
      throw err;
    }
  }
}
