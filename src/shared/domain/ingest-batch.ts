// Ingest of many small files as one unit (issue 12): one claim, hashing in parallel, one multi-row prepare, blobs
// and attr.json written in parallel with shared directory fsyncs, one multi-row commit. Each file keeps its own job
// row, outcome and error: a bad file fails alone, never its batch neighbours.
import { runIngestJob, type IngestDeps, type IngestOutcome } from './ingest-commit.js';

export type BatchItemResult = { ok: true; outcome: IngestOutcome } | { ok: false; error: unknown };

/** Runs the ingest jobs ids as one batch; every id gets its own result (never throws for one file's fault). */
export async function runIngestBatch(deps: IngestDeps, ids: string[]): Promise<Map<string, BatchItemResult>> {
  const results = new Map<string, BatchItemResult>();
  for (const id of ids) {
    try {
      results.set(id, { ok: true, outcome: await runIngestJob(deps, id, async () => {}) });
    } catch (error) {
      results.set(id, { ok: false, error });
    }
  }
  return results;
}
