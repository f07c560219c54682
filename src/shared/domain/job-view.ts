// The Job resource as clients see it (SPEC §5), built from a FileJob row.
import type { FileMetadata } from '../../contract/files.js';
import type { JobState } from '../../contract/jobs.js';
import type { FileJobStatusRow } from '../records/file-jobs.js';

export interface JobView {
  id: string;
  kind: string;
  state: JobState;
  progress: number;
  fileName: string;
  size: number;
  sha256?: string;
  fileId?: string;
  duplicateOf?: string;
  error?: { code: string; message: string };
  attempts: number;
  createdAt: string;
  updatedAt: string;
  finishedAt?: string;
  file?: FileMetadata;
  result?: Record<string, unknown>;
}

/** What a Job view is built from: a FileJob row, or the leaner status row (timestamps already ISO text). */
export type JobViewSource = FileJobStatusRow;

const iso = (d: Date | string) => (typeof d === 'string' ? d : d.toISOString());

export function toJobView(row: JobViewSource): JobView {
  // An ingest job's file exists only once it is done; update and delete jobs name their file from the start.
  // A maintenance job acts on no file (its file_id column holds its own id).
  const showFile = row.kind === 'maintenance' ? false : row.kind !== 'ingest' || row.state === 'committed' || row.state === 'duplicate';
  return {
    id: row.id,
    kind: row.kind,
    state: row.state as JobState,
    progress: row.progress,
    fileName: row.fileName,
    size: Number(row.size),
    ...(row.sha256 ? { sha256: row.sha256 } : {}),
    ...(showFile ? { fileId: row.fileId } : {}),
    ...(row.duplicateOf ? { duplicateOf: row.duplicateOf } : {}),
    ...(row.errorCode ? { error: { code: row.errorCode, message: row.errorMessage ?? '' } } : {}),
    attempts: row.attempts,
    createdAt: iso(row.createdAt),
    updatedAt: iso(row.updatedAt),
    ...(row.finishedAt ? { finishedAt: iso(row.finishedAt) } : {}),
    ...(row.result && typeof row.result === 'object' && !Array.isArray(row.result) ? { result: row.result as Record<string, unknown> } : {}),
  };
}
