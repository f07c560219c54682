// Staging in the bucket (BLOB_BACKEND=s3, SPEC §8): each accepted upload becomes the object
// `<S3_PREFIX>staging/<writer>.<uuid>.part`, so any worker host can take its job; STAGING_PATH is only this host's
// scratch (the API's parts while they arrive, a worker's downloaded copies while it hashes and stores them).
import { randomUUID } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import type { S3Client } from '@aws-sdk/client-s3';
import type { S3Config } from '../config.js';
import { removeFilesOlderThan, removeIfExists } from './durable-fs.js';
import { createS3Client } from './s3-client.js';
import { deleteObject, getObjectToFile, listObjects, putFileObject } from './s3-objects.js';
import { removeStagedFiles } from './staging.js';
import type { StagedEntry, StagingStore } from './staging-store.js';

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
  private readonly writerId?: string;
  /** Scratch copies this process holds, by ref (one download per ref however many ask at once). */
  private readonly copies = new Map<string, Promise<string | null>>();

  constructor(stagingPath: string, s3: S3Config, options: { writerId?: string; client?: S3Client } = {}) {
    this.client = options.client ?? createS3Client(s3);
    this.bucket = s3.bucket;
    this.keyPrefix = `${s3.prefix}staging/`;
    this.scratchDir = path.join(stagingPath, 'fetched');
    this.writerId = options.writerId;
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

  localCopy(ref: string): Promise<string | null> {
    const held = this.copies.get(ref);
    if (held) return held;
    const file = path.join(this.scratchDir, `${this.writerId ? `${this.writerId}.` : ''}${randomUUID()}.copy`);
    const copy = (async () => {
      await fs.mkdir(this.scratchDir, { recursive: true, mode: 0o750 });
      // Not fsynced: the staged object stays the durable copy until the job's commit, a crash just fetches again.
      if (await getObjectToFile(this.client, this.bucket, ref, file)) return file;
      await removeIfExists(file);
      return null;
    })();
    // A failed download is not remembered: the next call tries again.
    copy.catch(() => this.copies.delete(ref));
    this.copies.set(ref, copy);
    return copy;
  }

  async release(ref: string): Promise<void> {
    const held = this.copies.get(ref);
    if (!held) return;
    this.copies.delete(ref);
    const file = await held.catch(() => null);
    if (file) await removeIfExists(file);
  }

  async remove(refs: Iterable<string>): Promise<Error[]> {
    const errors: Error[] = [];
    await eachLimited([...refs], async (ref) => {
      await this.release(ref).catch((err: Error) => void errors.push(err));
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

  /** Copies this process holds are skipped whatever their age (a slow hash of a very large file). */
  async sweepScratch(olderThan: Date): Promise<number> {
    const held = new Set<string>();
    for (const copy of this.copies.values()) {
      const file = await copy.catch(() => null);
      if (file) held.add(path.basename(file));
    }
    return removeFilesOlderThan(this.scratchDir, olderThan, (name) => name.endsWith('.copy') && !held.has(name));
  }
}

/** Runs fn over items with at most TRANSFERS_AT_ONCE at a time; the first failure is thrown after all settle. */
async function eachLimited<T>(items: T[], fn: (item: T, index: number) => Promise<void>): Promise<void> {
  let next = 0;
  let failure: unknown;
  const lane = async () => {
    while (next < items.length) {
      const i = next++;
      await fn(items[i]!, i).catch((err: unknown) => void (failure ??= err));
    }
  };
  await Promise.all(Array.from({ length: Math.min(TRANSFERS_AT_ONCE, items.length) }, lane));
  if (failure !== undefined) throw failure;
}
