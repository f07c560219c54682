// Staging in the bucket (BLOB_BACKEND=s3, SPEC §8): each accepted upload becomes the object
// `<S3_PREFIX>staging/<writer>.<uuid>.part`, so any worker host can take its job; STAGING_PATH is only this host's
// scratch (the API's parts while they arrive, a worker's downloaded copies while it hashes and stores them).
import { randomUUID } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import type { S3Client } from '@aws-sdk/client-s3';
import type { S3Config } from '../config.js';
import { removeIfExists } from './durable-fs.js';
import { createS3Client } from './s3-client.js';
import { deleteObject, getObjectToFile, listObjects, putFileObject } from './s3-objects.js';
import { S3ResumableBytes } from './s3-resumable-bytes.js';
import { removeStagedFiles } from './staging.js';
import { ScratchFullError, type StagedCopy, type StagedEntry, type StagingStore } from './staging-store.js';
import { removeAbandonedFiles } from './writers.js';

/** `<writer>.<uuid>.part` as newStagedName makes them: the only names a staged key may end in. */
const STAGED_NAME = /^(?:[0-9a-f]{16}\.)?[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\.part$/;
/** Uploads and downloads one process runs at once for one call: a 100-file upload does not open 100 connections. */
const TRANSFERS_AT_ONCE = 8;

export class S3StagingStore implements StagingStore {
  readonly backend = 's3' as const;
  private readonly client: S3Client;
  private readonly bucket: string;
  private readonly keyPrefix: string;
  private readonly scratchDir: string;
  private readonly stagingPath: string;
  private readonly writerId?: string;
  /** Scratch copies this process holds now (released ones are gone). */
  private readonly held = new Set<string>();

  constructor(stagingPath: string, s3: S3Config, options: { writerId?: string; client?: S3Client } = {}) {
    this.client = options.client ?? createS3Client(s3);
    this.bucket = s3.bucket;
    this.keyPrefix = `${s3.prefix}staging/`;
    this.scratchDir = path.join(stagingPath, 'fetched');
    this.stagingPath = stagingPath;
    this.writerId = options.writerId;
  }

  /** Resumable uploads' parts, under `<S3_PREFIX>staging/resumable/` (never a staged name: the janitor skips them). */
  resumableBytes(): S3ResumableBytes {
    return new S3ResumableBytes(this.client, this.bucket, `${this.keyPrefix}resumable/`, this.stagingPath);
  }

  async publish(localPaths: string[]): Promise<string[]> {
    const refs = localPaths.map((p) => this.keyPrefix + path.basename(p));
    const uploaded: string[] = [];
    try {
      await eachLimited(localPaths, async (p, i) => {
        const { size } = await fs.stat(p);
        await putFileObject(this.client, this.bucket, refs[i]!, p, size);
        uploaded.push(refs[i]!);
      });
    } catch (err) {
      await this.remove(uploaded);
      throw err;
    } finally {
      // The bytes are in the bucket (or the upload failed): the local parts are not needed either way.
      await removeStagedFiles(localPaths);
    }
    return refs;
  }

  async localCopy(ref: string): Promise<StagedCopy | null> {
    // A copy of this caller's own: two runs of one job never share a file that one of them could release.
    const file = path.join(this.scratchDir, `${this.writerId ? `${this.writerId}.` : ''}${randomUUID()}.copy`);
    await fs.mkdir(this.scratchDir, { recursive: true, mode: 0o750 });
    let found: boolean;
    try {
      // Not fsynced: the staged object stays the durable copy until the job's commit, a crash just fetches again.
      found = await getObjectToFile(this.client, this.bucket, ref, file, (length) => this.assertRoom(length));
    } catch (err) {
      // A download cut off (or a full scratch disk) leaves no partial copy behind.
      await removeIfExists(file).catch(() => undefined);
      throw err;
    }
    if (!found) {
      await removeIfExists(file);
      return null;
    }
    this.held.add(file);
    return {
      path: file,
      release: async () => {
        this.held.delete(file);
        await removeIfExists(file);
      },
    };
  }

  /**
   * A copy that cannot fit on this host's scratch disk is not begun: the job runs again later (a host fault, never
   * the upload's failure, so its staged object stays), rather than filling the disk other jobs' copies need.
   */
  private async assertRoom(length: number | undefined): Promise<void> {
    if (length === undefined) return;
    const disk = await fs.statfs(this.scratchDir);
    if (length > disk.bavail * disk.bsize) {
      throw new ScratchFullError(length, disk.bavail * disk.bsize);
    }
  }

  async remove(refs: Iterable<string>): Promise<Error[]> {
    const errors: Error[] = [];
    await eachLimited([...refs], async (ref) => {
      if (!this.owns(ref)) return;
      await deleteObject(this.client, this.bucket, ref).catch((err: Error) => void errors.push(err));
    });
    return errors;
  }

  owns(ref: string): boolean {
    return ref.startsWith(this.keyPrefix) && STAGED_NAME.test(ref.slice(this.keyPrefix.length));
  }

  async *list(): AsyncGenerator<StagedEntry> {
    for await (const o of listObjects(this.client, this.bucket, this.keyPrefix)) {
      if (this.owns(o.key)) yield { ref: o.key, modifiedMs: o.modifiedMs };
    }
  }

  /**
   * Copies whose writer (a worker process, named in the copy) is gone and that are older than a writer key's
   * lifetime (writers.ts); a live process releases its own copies on every path, and those it holds are skipped.
   */
  async sweepScratch(live: (writerIds: string[]) => Promise<Set<string>>, confirmDeadAfterMs?: number): Promise<number> {
    return removeAbandonedFiles(this.scratchDir, live, Infinity, Date.now(), confirmDeadAfterMs, (file) => file.endsWith('.copy') && !this.held.has(file));
  }
}

/**
 * Runs fn over items with at most TRANSFERS_AT_ONCE at a time. After a failure no new item starts (an upload to an
 * unreachable store answers at once instead of after every file's timeouts); it is thrown once the started settle.
 */
async function eachLimited<T>(items: T[], fn: (item: T, index: number) => Promise<void>): Promise<void> {
  let next = 0;
  let failure: unknown;
  const lane = async () => {
    while (next < items.length && failure === undefined) {
      const i = next++;
      await fn(items[i]!, i).catch((err: unknown) => void (failure ??= err));
    }
  };
  await Promise.all(Array.from({ length: Math.min(TRANSFERS_AT_ONCE, items.length) }, lane));
  if (failure !== undefined) throw failure;
}
