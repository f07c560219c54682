// The report line of a file that failed: the error as the element named it (code and detail), or the local one.
import { ArtstoreError } from '../client/index.js';
import type { ReportLine } from './report.js';
import type { LocalFile } from './walk.js';

export function failedLine(f: LocalFile, sha256: string | null, err: unknown, jobId: string | null = null): ReportLine {
  return {
    path: f.path,
    size: f.size,
    mtimeMs: f.mtimeMs,
    sha256,
    jobId,
    fileId: null,
    state: 'failed',
    error:
      err instanceof ArtstoreError
        ? { code: err.code, message: err.detail }
        : { code: (err as NodeJS.ErrnoException)?.code ?? 'error', message: err instanceof Error ? err.message : String(err) },
  };
}
