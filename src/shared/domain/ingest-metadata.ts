// The metadata an ingest commits for a file: the job's upload parameters over the verified digest (used by the
// one-job and the batch path alike).
import type { FileMetadata } from '../../contract/files.js';
import type { FileJob } from '../records/file-jobs.js';
import { retentionAtUpload, type UploadRetention } from './retention-rules.js';

export type Digest = { sha256: string; size: number };

interface UploadParams {
  description: string | null;
  version: string | null;
  tags: string[];
  metadata: Record<string, unknown>;
  /** Absent on jobs recorded before retention existed. */
  retention?: UploadRetention;
}

/** The file's metadata as the commit records it: the job's upload parameters over the verified digest. */
export function fileMetadataOf(job: FileJob, digest: Digest, elementId: string): FileMetadata {
  const params = job.params as unknown as UploadParams;
  return {
    id: job.fileId,
    fileName: job.fileName,
    contentType: job.contentType,
    size: digest.size,
    sha256: digest.sha256,
    description: params.description ?? null,
    version: params.version ?? null,
    tags: params.tags ?? [],
    metadata: params.metadata ?? {},
    owner: job.principal,
    ownerName: job.principalName,
    createdAt: job.createdAt.toISOString(),
    updatedAt: job.createdAt.toISOString(),
    revision: 1,
    elementId,
    ...retentionAtUpload(params.retention, job.createdAt),
  };
}

