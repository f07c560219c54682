// Expiry of resumable uploads (UPLOAD_EXPIRY_HOURS): an expired upload's bytes and row are removed. Incomplete ones
// lose their bytes; complete ones only their row (the ingest job owns the bytes). Run by a BullMQ job scheduler.
import type { Config } from '../config.js';
import type { Logger } from '../logger.js';
import type { Db } from '../records/database.js';
import { deleteResumableUpload, selectExpiredUploads } from '../records/resumable-uploads.js';
import type { RedisConnection } from '../redis.js';
import type { StagingStore } from '../storage/staging-store.js';
import { resumableBytesFor } from './resumable-bytes.js';
import { acquireUploadLease } from './resumable-lock.js';

const BATCH = 500;

export interface ExpiryDeps {
  db: Db;
  redis: RedisConnection;
  config: Pick<Config, 'queuePrefix' | 'uploadLockMs' | 'stagingPath'>;
  staging: StagingStore;
  logger: Logger;
}

export interface ExpiryReport {
  removed: number;
  /** Expired but being written right now (their lock was held): the next run takes them. */
  busy: number;
}

/** Removes every expired upload, taking each one's lock first so an append in flight is never cut under it. */
export async function expireUploads(deps: ExpiryDeps): Promise<ExpiryReport> {
  const report: ExpiryReport = { removed: 0, busy: 0 };
  const bytes = resumableBytesFor(deps.staging, deps.config.stagingPath);
  const skipped = new Set<string>();
  while (true) {
    const expired = (await selectExpiredUploads(deps.db, new Date(), BATCH + skipped.size)).filter((u) => !skipped.has(u.id));
    if (expired.length === 0) return report;
    for (const upload of expired) {
      const lease = await acquireUploadLease(deps.redis, deps.config.queuePrefix, upload.id, deps.config.uploadLockMs);
      if (!lease) {
        skipped.add(upload.id);
        report.busy++;
        continue;
      }
      try {
        // Bytes first: a row without its file answers 404 on resume, a file without a row would be a leak. A
        // complete upload's job holds its own link to the bytes; only the upload's name for them goes.
        await bytes.remove(upload.id);
        await deleteResumableUpload(deps.db, upload.id);
        report.removed++;
      } finally {
        await lease.release().catch((err: unknown) => deps.logger.warn({ err, uploadId: upload.id }, 'releasing an upload lock failed'));
      }
    }
    if (expired.length < BATCH) return report;
  }
}
