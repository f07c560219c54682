// Where a resumable upload's bytes wait, as one interface with two backends: local staging appends in place to
// STAGING_PATH/resumable/<id>.upload (this file); S3 staging keeps one object per durable step in the bucket
// (storage/s3-resumable-bytes.ts). The staging janitor lists only STAGING_PATH's own files and STAGED_NAME keys,
// so it never takes these; completion, cancel and expiry remove them.
import type { FileHandle } from 'node:fs/promises';
import fs from 'node:fs/promises';
import path from 'node:path';
import { AppError } from '../errors.js';
import { ensureDirDurable, fsyncDir, removeIfExists } from '../storage/durable-fs.js';
import type { AppendSink, ResumableByteStore } from '../storage/resumable-byte-store.js';
import { S3StagingStore } from '../storage/s3-staging-store.js';
import { newStagedName } from '../storage/staging.js';
import type { StagingStore } from '../storage/staging-store.js';

export type { AppendSink, ResumableByteStore };

export const RESUMABLE_DIR = 'resumable';

/** The byte store of the staging in use: the bucket's with S3 staging, STAGING_PATH/resumable otherwise. */
export function resumableBytesFor(staging: StagingStore, stagingPath: string): ResumableByteStore {
  return staging instanceof S3StagingStore ? staging.resumableBytes() : new ResumableBytes(stagingPath);
}

export class ResumableBytes implements ResumableByteStore {
  private readonly dir: string;

  constructor(private readonly stagingPath: string) {
    this.dir = path.join(stagingPath, RESUMABLE_DIR);
  }

  pathOf(uploadId: string): string {
    // uploadId is a UUID we made; the name is never the client's.
    return path.join(this.dir, `${uploadId}.upload`);
  }

  /** An empty file whose directory entry is durable before the upload's row promises it exists. */
  async create(uploadId: string): Promise<void> {
    await ensureDirDurable(this.dir);
    const fh = await fs.open(this.pathOf(uploadId), 'wx', 0o640);
    await fh.close();
    await fsyncDir(this.dir);
  }

  /** min(recorded offset, file size): a tail past the offset (the writer died before its fsync and record) is cut. */
  async reconcile(uploadId: string, recordedOffset: number): Promise<number> {
    const file = this.pathOf(uploadId);
    const size = await fs.stat(file).then((s) => s.size, () => -1);
    if (size < 0) return -1;
    if (size > recordedOffset) {
      await fs.truncate(file, recordedOffset);
      return recordedOffset;
    }
    return size;
  }

  async openAppend(uploadId: string): Promise<AppendSink> {
    return new FileSink(await fs.open(this.pathOf(uploadId), 'r+'));
  }

  /** A hard link: the ingest job owns that name (and removes it); the upload's own name for the bytes stays. */
  async toStaging(uploadId: string, _size: number, writerId?: string): Promise<string> {
    const staged = path.join(this.stagingPath, newStagedName(writerId));
    await fs.link(this.pathOf(uploadId), staged);
    return staged;
  }

  async remove(uploadId: string): Promise<void> {
    await removeIfExists(this.pathOf(uploadId));
  }
}

class FileSink implements AppendSink {
  /** A sync failed: the kernel may have dropped the dirty pages, and a later sync could succeed without them. */
  private failed?: unknown;

  constructor(private readonly fh: FileHandle) {}

  async write(chunks: Buffer[], position: number): Promise<void> {
    // pwritev may write less than asked (a full disk): finish the chunks or fail, never leave a hole under the offset.
    let rest = chunks.filter((c) => c.length > 0);
    let at = position;
    while (rest.length > 0) {
      const { bytesWritten } = await this.fh.writev(rest, at);
      if (bytesWritten === 0) throw new AppError('insufficient_storage', 'the staging disk took no more bytes');
      at += bytesWritten;
      rest = unwritten(rest, bytesWritten);
    }
  }

  async sync(): Promise<void> {
    if (this.failed !== undefined) throw this.failed;
    try {
      await this.fh.datasync();
    } catch (err) {
      this.failed = err;
      throw err;
    }
  }

  close(): Promise<void> {
    return this.fh.close();
  }
}

/** What is left of chunks after the first `written` bytes of them. */
export function unwritten(chunks: Buffer[], written: number): Buffer[] {
  let skip = written;
  let i = 0;
  while (i < chunks.length && skip >= chunks[i]!.length) skip -= chunks[i++]!.length;
  const rest = chunks.slice(i);
  if (skip > 0 && rest.length > 0) rest[0] = rest[0]!.subarray(skip);
  return rest;
}
