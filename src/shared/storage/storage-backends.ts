// The one place that picks the storage backend from the config (BLOB_BACKEND): the blob store, the attr store and
// the staging of uploads in flight.
import fs from 'node:fs/promises';
import type { Config } from '../config.js';
import type { Logger } from '../logger.js';
import { AttrFileStore } from './attr-files.js';
import type { AttrStore } from './attr-store.js';
import type { BlobStore } from './blob-store.js';
import { LocalBlobStore } from './local-blob-store.js';
import { S3AttrStore } from './s3-attr-store.js';
import { S3BlobStore } from './s3-blob-store.js';
import { createS3Client } from './s3-client.js';
import { LocalStagingStore } from './local-staging-store.js';
import { S3StagingStore } from './s3-staging-store.js';
import type { StagingStore } from './staging-store.js';

export interface Storage {
  blobStore: BlobStore;
  attrStore: AttrStore;
  /** Where accepted uploads wait for their jobs: STAGING_PATH with local blobs, the bucket with S3 blobs. */
  staging: StagingStore;
}

export type StorageConfig = Pick<Config, 'blobBackend' | 's3' | 'storagePath' | 'stagingPath'>;

export interface StorageOptions {
  /** writerId (writers.ts) names the local stores' temp files, so a sweep can remove what a dead process left. */
  writerId?: string;
  logger?: Logger;
}

/**
 * The stores for config.blobBackend. With 's3' all three share one S3 client, which the blob store's close() releases
 * (the processes close the blob store last of the two, at shutdown). Nothing async happens here: a bucket that
 * cannot be reached shows at the first request, and in checkBlobStore.
 */
export function openStorage(config: StorageConfig, options: StorageOptions = {}): Storage {
  if (config.blobBackend === 'local') {
    return {
      blobStore: new LocalBlobStore(config.storagePath, { writerId: options.writerId }),
      attrStore: new AttrFileStore(config.storagePath, { writerId: options.writerId }),
      staging: new LocalStagingStore(config.stagingPath),
    };
  }
  const s3 = config.s3;
  if (!s3) throw new Error("BLOB_BACKEND is 's3' but the S3 settings are missing");
  const client = createS3Client(s3);
  // Where the blobs live, never how to sign in: no credentials (nor a user:password@ in the endpoint) in the log.
  options.logger?.info({ endpoint: s3.endpoint ? new URL(s3.endpoint).origin : 'aws', bucket: s3.bucket, prefix: s3.prefix }, 'blob store: s3');
  return {
    blobStore: new S3BlobStore({ client, bucket: s3.bucket, prefix: s3.prefix }),
    attrStore: new S3AttrStore({ client, bucket: s3.bucket, prefix: s3.prefix }),
    staging: new S3StagingStore(config.stagingPath, s3, { writerId: options.writerId, client }),
  };
}

export type BlobStoreHealth = { ok: true; backend: string } | { ok: false; backend: string; detail: string };

/**
 * Readiness of the blob store, for a health route: the bucket answers HeadBucket (s3), or STORAGE_PATH is a
 * directory (local). Never throws; detail says what failed, without credentials.
 */
export async function checkBlobStore(blobStore: BlobStore, config: Pick<Config, 'storagePath'>, options: { timeoutMs?: number } = {}): Promise<BlobStoreHealth> {
  const backend = blobStore.backend;
  try {
    if (blobStore.ready) {
      await blobStore.ready(options);
    } else if (!(await fs.stat(config.storagePath)).isDirectory()) {
      return { ok: false, backend, detail: 'STORAGE_PATH is not a directory' };
    }
    return { ok: true, backend };
  } catch (err) {
    return { ok: false, backend, detail: describeStoreError(err) };
  }
}

function describeStoreError(err: unknown): string {
  const e = err as { name?: unknown; code?: unknown; message?: unknown; $metadata?: { httpStatusCode?: number } };
  const status = e.$metadata?.httpStatusCode;
  const name = typeof e.code === 'string' ? e.code : typeof e.name === 'string' ? e.name : 'Error';
  return status ? `${name} (HTTP ${status})` : `${name}: ${String(e.message ?? err)}`;
}
