// Ingest of many small files as one unit (issue 12): one claim, hashing in parallel, one multi-row prepare, blobs
// and attr.json written in parallel with shared directory fsyncs, one multi-row commit. Each file keeps its own job
// row, outcome and error: a bad file fails alone, never its batch neighbours. The rules and their order are those
// of runIngestJob (ingest-commit.ts), step for step, so recovery and the crash points mean the same for a batch.
import type { FileMetadata } from '../../contract/files.js';
import { commitIngest, type CommitResult, type PreparedCommit } from '../records/file-commits.js';
import type { FileJob } from '../records/file-jobs.js';
import { claimFileJobs, commitIngests, prepareIngestCommits } from '../records/ingest-batches.js';
import { ingestEvent } from './audit-events.js';
import { isOutageError } from '../outage.js';
import { toAttrRecord } from '../storage/attr-files.js';
import type { PutResult } from '../storage/blob-store.js';
import type { StagedCopy } from '../storage/staging-store.js';
import {
  assertCommitted,
  assertDeclaredDigest,
  assertOwnStagedUpload,
  commitPlanOf,
  fileIdTaken,
  fileMetadataOf,
  hashStaged,
  latestOutcome,
  prepareCommit,
  putStaged,
  refuseUnvouched,
  copyStaged,
  settleUnclaimed,
  WAL_OPERATION,
  type StagedDigest,
  type IngestDeps,
  type IngestOutcome,
} from './ingest-commit.js';
import { assertModeAllows } from './modes.js';

export type BatchItemResult = { ok: true; outcome: IngestOutcome } | { ok: false; error: unknown };

/** One file on its way through the batch: what the steps so far found out about it. */
interface Item {
  job: FileJob;
  staged: string | null;
  digest: StagedDigest;
  hashSeconds: number;
  plan: ReturnType<typeof commitPlanOf>;
  prepared?: Extract<PreparedCommit, { kind: 'ready' }>;
  put?: PutResult | null;
  meta?: FileMetadata;
}

/** Collects each file's result; a file leaves the batch at its first result. */
class Results {
  readonly map = new Map<string, BatchItemResult>();
  done(id: string, outcome: IngestOutcome): void {
    this.map.set(id, { ok: true, outcome });
  }
  fail(id: string, error: unknown): void {
    this.map.set(id, { ok: false, error });
  }
}

/**
 * Runs step on every live item at once; an item whose step throws fails alone, one whose step returns an outcome
 * (an earlier run finished the job) is done. Returns the items that go on, in order.
 */
async function eachItem<T extends { job: { id: string } }, U>(
  items: T[],
  results: Results,
  step: (item: T) => Promise<U | IngestOutcome>,
): Promise<U[]> {
  const settled = await Promise.allSettled(items.map(step));
  const next: U[] = [];
  settled.forEach((s, i) => {
    const id = items[i]!.job.id;
    if (s.status === 'rejected') results.fail(id, s.reason);
    else if (isOutcome(s.value)) results.done(id, s.value);
    else next.push(s.value);
  });
  return next;
}

function isOutcome(value: unknown): value is IngestOutcome {
  return typeof value === 'object' && value !== null && 'ranNow' in value;
}

/** Runs the ingest jobs ids as one batch; every id gets its own result (never throws for one file's fault). */
export async function runIngestBatch(deps: IngestDeps, ids: string[]): Promise<Map<string, BatchItemResult>> {
  const results = new Results();
  const unique = [...new Set(ids)];
  let live: Item[] = [];
  // This host's copies of the staged bytes, released however each file ends.
  const copies: StagedCopy[] = [];
  try {
    // In the order asked for (the claim returns rows in no particular order): of two files with the same bytes,
    // the earlier one is committed and the later its duplicate, as one job after another would have it.
    const position = new Map(unique.map((id, i) => [id, i]));
    const jobs = (await claimFileJobs(deps.db, unique)).sort((a, b) => position.get(a.id)! - position.get(b.id)!);
    const claimed = new Set(jobs.map((j) => j.id));
    // Final already, or missing: each settles what an earlier run left, as a job run alone would.
    await eachItem(unique.filter((id) => !claimed.has(id)).map((id) => ({ job: { id } })), results, (u) => settleUnclaimed(deps, u.job.id));
    live = await eachItem(jobs.map((job) => ({ job })), results, ({ job }) => hashItem(deps, job, copies));
    if (live.length === 0) return results.map;
    await deps.crashPoint?.('after-hash');
    live = await eachItem(live, results, async (item) => (assertDeclaredDigest(item.job, item.digest), item));
    if (live.length > 0) await commitItems(deps, live, results);
  } catch (err) {
    // A step that failed for the whole batch (the database, the mode, a crash point): every file not yet settled.
    for (const id of unique) if (!results.map.has(id)) results.fail(id, err);
  } finally {
    // A copy that cannot be removed is the scratch sweep's later; it never changes a file's result.
    for (const r of await Promise.allSettled(copies.map((c) => c.release()))) {
      if (r.status === 'rejected') deps.logger.warn({ err: r.reason }, 'could not remove a scratch copy of a staged upload');
    }
  }
  return results.map;
}

/** 1. Hash one file (2., the check against what the client declared, comes after the crash point, as for one job). */
async function hashItem(deps: IngestDeps, job: FileJob, copies: StagedCopy[]): Promise<Item | IngestOutcome> {
  const staged = assertOwnStagedUpload(deps, job);
  const copy = await copyStaged(deps, staged);
  if (copy) copies.push(copy);
  const started = performance.now();
  const digest = await hashStaged(deps, job, copy);
  if (isOutcome(digest)) return digest;
  const hashSeconds = digest.hashed ? (performance.now() - started) / 1_000 : 0;
  return { job, staged, digest, hashSeconds, plan: commitPlanOf(deps, job, digest) };
}

/** Steps 3-6 for the files that hashed and verified. */
async function commitItems(deps: IngestDeps, hashed: Item[], results: Results): Promise<void> {
  // An upload staged before a switch to ro/ar is not committed (SPEC §4).
  assertModeAllows(await deps.modes.current(), 'upload');

  // 3. Jobs committing, WAL entries pending: one statement.
  const decisions = await prepareAll(deps, hashed);
  let live = await eachItem(hashed, results, async (item) => {
    let prepared = decisions.get(item.job.id);
    // GC is removing these bytes, or the batch statement failed: the one-job path settles it (it helps GC finish).
    if (!prepared || prepared.kind === 'blob-in-gc') prepared = await prepareCommit(deps, item.job, item.digest, item.plan.walPayload);
    if (prepared.kind === 'file-id-taken') return Promise.reject(fileIdTaken(item.job.fileId));
    if (prepared.kind !== 'ready') return latestOutcome(deps.db, item.job.id);
    return { ...item, prepared };
  });
  if (live.length === 0) return;
  await deps.crashPoint?.('after-wal');

  // 4. Blobs (the pending entries keep GC off them) and 5. attr.json files, every file at once; concurrent
  // directory fsyncs are shared (durable-fs).
  const puts = new Map<string, Promise<PutResult>>();
  live = await eachItem(live, results, async (item) => {
    if (!item.digest.source) return { ...item, put: refuseUnvouched(item.prepared!.existingBlob) };
    // One put per distinct bytes, as one job after another would do: a later file with the same bytes reuses
    // what the earlier one stored (and puts its own copy only if that failed).
    const earlier = puts.get(item.digest.sha256);
    if (earlier && (await earlier.then(() => true, () => false))) {
      return { ...item, put: { created: false, repaired: false, storageKey: item.plan.storageKey } };
    }
    const put = putStaged(deps, item.digest.sha256, item.digest.source, item.prepared!.existingBlob);
    puts.set(item.digest.sha256, put);
    return { ...item, put: await put };
  });
  if (live.length === 0) return;
  await deps.crashPoint?.('after-blob');
  live = await eachItem(live, results, async (item) => {
    const meta = fileMetadataOf(item.job, item.digest, deps.config.elementId);
    await deps.attrStore.write(item.plan.attrPath, toAttrRecord(meta, item.plan.storageKey));
    return { ...item, meta };
  });
  if (live.length === 0) return;
  await deps.crashPoint?.('after-attr');
  await deps.crashPoint?.('before-commit');

  // 6. Metadata, blob references, WAL entries and jobs committed: one statement (per set of distinct bytes).
  const committed = await commitAll(deps, live);
  // The staged copies of files now committed (by this run or a concurrent one); the others stay for their retry.
  const finished = live.filter((item) => ['committed', 'lost'].includes(committed.get(item.job.id)!.kind));
  await deps.staging.remove(finished.flatMap((item) => (item.staged ? [item.staged] : [])));
  await eachItem(live, results, async (item) => {
    const result = committed.get(item.job.id)!;
    if (result.kind === 'error') return Promise.reject(result.error);
    assertCommitted(result, item.meta!);
    if (result.kind === 'lost') return latestOutcome(deps.db, item.job.id);
    const { digest, put } = item;
    return { state: result.state, fileId: item.meta!.id, sha256: digest.sha256, size: digest.size, blobCreated: put?.created ?? false, ranNow: true, hashSeconds: item.hashSeconds, hashedBytes: digest.hashed ? digest.size : 0 };
  });
}

/** The batch prepare; when the statement fails as a whole (not an outage), each job's own statement decides (no entry). */
async function prepareAll(deps: IngestDeps, items: Item[]): Promise<Map<string, PreparedCommit>> {
  try {
    const decisions = await prepareIngestCommits(
      deps.db,
      WAL_OPERATION,
      items.map((item) => ({ job: item.job, sha256: item.digest.sha256, payload: item.plan.walPayload })),
    );
    return new Map(items.map((item, i) => [item.job.id, decisions[i]!]));
  } catch (err) {
    if (isOutageError(err)) throw err;
    deps.logger.warn({ err, jobs: items.length }, 'batch prepare failed as a whole; preparing each job on its own');
    return new Map();
  }
}

/** The batch commit; when a statement fails as a whole (not an outage), each job commits with its own statement. */
async function commitAll(deps: IngestDeps, items: Item[]): Promise<Map<string, CommitResult | CommitError>> {
  const inputs = items.map((item) => ({
    jobId: item.job.id,
    walId: item.prepared!.wal.id,
    meta: item.meta!,
    attrPath: item.plan.attrPath,
    storageKey: item.plan.storageKey,
    blobRepaired: item.put?.repaired ?? false,
    audit: ingestEvent(item.job, item.meta!),
  }));
  const results = new Map<string, CommitResult | CommitError>();
  try {
    await commitIngests(deps.db, inputs, results as Map<string, CommitResult>);
    return results;
  } catch (err) {
    if (isOutageError(err)) throw err;
    deps.logger.warn({ err, jobs: items.length }, 'batch commit failed as a whole; committing each job on its own');
  }
  // The rounds before the failed statement committed; each job after them commits alone, and fails alone.
  for (const i of inputs.filter((input) => !results.has(input.jobId))) {
    const result = await commitIngest(deps.db, i.jobId, i.walId, i.meta, i.attrPath, i.storageKey, i.blobRepaired, i.audit).catch(
      (error: unknown) => ({ kind: 'error', error }) as const,
    );
    results.set(i.jobId, result);
  }
  return results;
}

/** A job whose own commit statement threw (in the fallback): its error, not its neighbours'. */
type CommitError = { kind: 'error'; error: unknown };
