// A resumable upload's bytes on S3 staging (SPEC §9): objects cannot be appended to, so each durable step of an
// append is its own object `<S3_PREFIX>staging/resumable/<id>/<start offset, 20 digits>`, put before the offset
// moves in PostgreSQL (under the lease fence). Any API host continues any upload; completion concatenates the
// recorded parts, in order, into one staged file that submitUpload publishes like any other upload.
import fs from 'node:fs/promises';
import path from 'node:path';
import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { removeIfExists } from './durable-fs.js';
import type { AppendSink, ResumableByteStore } from './resumable-byte-store.js';
import { deleteObject, getObjectToFile, listObjects } from './s3-objects.js';
import { newStagedName } from './staging.js';

const OFFSET_DIGITS = 20;

interface Part {
  key: string;
  start: number;
  size: number;
}

export class S3ResumableBytes implements ResumableByteStore {
  constructor(
    private readonly client: S3Client,
    private readonly bucket: string,
    /** `<S3_PREFIX>staging/resumable/` */
    private readonly keyPrefix: string,
    /** This host's STAGING_PATH, where the concatenation is made before it is published. */
    private readonly stagingPath: string,
  ) {}

  private prefixOf(uploadId: string): string {
    // uploadId is a UUID we made; the key is never the client's.
    return `${this.keyPrefix}${uploadId}/`;
  }

  keyOf(uploadId: string, start: number): string {
    return this.prefixOf(uploadId) + String(start).padStart(OFFSET_DIGITS, '0');
  }

  /** The upload's parts by start offset (keys that are not a part are not ours to read). */
  private async parts(uploadId: string): Promise<Part[]> {
    const prefix = this.prefixOf(uploadId);
    const out: Part[] = [];
    for await (const o of listObjects(this.client, this.bucket, prefix)) {
      const name = o.key.slice(prefix.length);
      if (/^\d{20}$/.test(name)) out.push({ key: o.key, start: Number(name), size: o.size });
    }
    return out.sort((a, b) => a.start - b.start);
  }

  /** Nothing to make: an upload with no part holds 0 bytes. */
  async create(): Promise<void> {}

  /**
   * The recorded bytes as a chain of parts from 0, each starting where the one before ends, up to `limit`; the
   * parts off that chain (put by a writer that lost its lease before recording) are returned apart.
   */
  private async chain(uploadId: string, limit: number): Promise<{ chain: Part[]; held: number; stray: Part[] }> {
    const chain: Part[] = [];
    const stray: Part[] = [];
    let held = 0;
    for (const part of await this.parts(uploadId)) {
      if (part.start === held && part.start < limit) {
        chain.push(part);
        held += part.size;
      } else stray.push(part);
    }
    return { chain, held, stray };
  }

  /**
   * The chain's end, at most the recorded offset. Parts off the chain, at or past the recorded offset included,
   * were put but never recorded (the writer died or lost its lease before moving the offset): removed here.
   */
  async reconcile(uploadId: string, recordedOffset: number): Promise<number> {
    const { held, stray } = await this.chain(uploadId, recordedOffset);
    for (const part of stray) await deleteObject(this.client, this.bucket, part.key);
    return Math.min(held, recordedOffset);
  }

  async openAppend(uploadId: string, start: number): Promise<AppendSink> {
    return new PartSink(this.client, this.bucket, (at) => this.keyOf(uploadId, at), start);
  }

  /** The recorded parts up to size, downloaded in order into one new staged file of this writer. */
  async toStaging(uploadId: string, size: number, writerId?: string): Promise<string> {
    const staged = path.join(this.stagingPath, newStagedName(writerId));
    try {
      await fs.writeFile(staged, Buffer.alloc(0), { mode: 0o640, flag: 'wx' });
      const { chain, held } = await this.chain(uploadId, size);
      if (held !== size) throw new Error(`upload ${uploadId}: its parts hold ${held} of its ${size} bytes`);
      for (const part of chain) {
        if (!(await getObjectToFile(this.client, this.bucket, part.key, staged, undefined, 'a'))) throw new Error(`upload ${uploadId}: its part at ${part.start} is gone`);
      }
      // Durable before submitUpload publishes it: publish reads it back whole.
      const fh = await fs.open(staged, 'r');
      await fh.sync().finally(() => fh.close());
      return staged;
    } catch (err) {
      await removeIfExists(staged).catch(() => undefined);
      throw err;
    }
  }

  async remove(uploadId: string): Promise<void> {
    for (const part of await this.parts(uploadId)) await deleteObject(this.client, this.bucket, part.key);
  }
}

/**
 * Holds what arrived since the last durable step in memory and puts it as the part starting at that step: at most
 * two steps of CHECKPOINT_BYTES and a chunk (one part being put while the next arrives).
 */
class PartSink implements AppendSink {
  private chunks: Buffer[] = [];
  private bytes = 0;
  /** A put failed: its bytes are no longer held, so no later part may be put after the gap. */
  private failed?: unknown;

  constructor(
    private readonly client: S3Client,
    private readonly bucket: string,
    private readonly keyAt: (start: number) => string,
    private start: number,
  ) {}

  async write(chunks: Buffer[], position: number): Promise<void> {
    if (position !== this.start + this.bytes) throw new Error(`append at ${position}, expected ${this.start + this.bytes}`);
    for (const chunk of chunks) {
      this.chunks.push(chunk);
      this.bytes += chunk.length;
    }
  }

  /**
   * Puts what was written before this call as one part. The buffer is taken at once, so writes may go on while the
   * put runs (they become the next part); after a failed put this sink is done (the append ends with the error and
   * the next request resumes from the recorded offset).
   */
  async sync(): Promise<void> {
    if (this.failed !== undefined) throw this.failed;
    if (this.bytes === 0) return;
    const body = Buffer.concat(this.chunks, this.bytes);
    const start = this.start;
    this.start += this.bytes;
    this.chunks = [];
    this.bytes = 0;
    try {
      await this.client.send(new PutObjectCommand({ Bucket: this.bucket, Key: this.keyAt(start), Body: body, ContentLength: body.length }));
    } catch (err) {
      this.failed = err;
      throw err;
    }
  }

  async close(): Promise<void> {
    this.chunks = [];
    this.bytes = 0;
  }
}
