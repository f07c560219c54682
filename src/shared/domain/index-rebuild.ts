// Rebuilds the File and Blob tables from the attr.json files alone (SPEC §7, `npm run rebuild-index`); reads the disk only.
import type { Dirent } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import type { Config } from '../config.js';
import { Prisma, type Db } from '../records/database.js';
import type { Logger } from '../logger.js';
import { ATTR_SCHEMA_VERSION, AttrFileStore, type AttrRecord } from '../storage/attr-files.js';
import type { BlobStore } from '../storage/blob-store.js';
import { FINAL_JOB_STATES } from '../../contract/jobs.js';
import { withMaintenanceLock } from '../records/maintenance-lock.js';

export interface RebuildDeps {
  db: Db;
  config: Pick<Config, 'storagePath' | 'elementId'>;
  blobStore: BlobStore;
  attrStore?: AttrFileStore;
  logger: Logger;
}

export interface RebuildOptions {
  /** Read and validate every attr file and count; write nothing to the database. */
  dryRun?: boolean;
  /** TRUNCATE files and blobs before the rebuild (the caller asks the operator first). */
  wipe?: boolean;
  /** Rows per multi-row INSERT (one transaction per batch). */
  batchSize?: number;
  /** Called after every progressEvery attr files. */
  onProgress?: (progress: RebuildProgress) => void;
  progressEvery?: number;
}

export const SKIP_REASONS = [
  'unreadable',
  'invalidJson',
  'invalidRecord',
  'unknownSchemaVersion',
  'duplicateId',
  'blobMissing',
  'blobSizeMismatch',
  'tombstoneWithoutBlob',
  /** A job is between writing this attr.json and its commit (pending WAL entry): its own commit or recovery settles it. */
  'inFlight',
] as const;
export type SkipReason = (typeof SKIP_REASONS)[number];

export interface RebuildProgress {
  attrFiles: number;
  filesRestored: number;
  filesSkipped: number;
}

export interface RebuildReport extends RebuildProgress {
  dryRun: boolean;
  wiped: boolean;
  /** Of filesRestored, the tombstones restored as deleted File rows (their blob still exists). */
  deletedFilesRestored: number;
  skipped: Record<SkipReason, number>;
  /** Distinct blobs the restored files reference (one Blob row each). */
  blobsRestored: number;
  /** Restored files whose attr.json names another element id (kept as recorded). */
  otherElementFiles: number;
  durationMs: number;
}

/** The rebuild cannot start: nothing was changed. */
export class RebuildRefusedError extends Error {
  override readonly name = 'RebuildRefusedError';
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const SHA256 = /^[0-9a-f]{64}$/;
const ATTR_NAME = /^(.+)\.attr\.json$/;
const INT4_MAX = 2_147_483_647;
// PostgreSQL text and jsonb cannot hold U+0000; such a record would fail its whole batch.
const noNul = (s: string) => !s.includes('\u0000');
// JSON.stringify writes U+0000 as \u0000 (an odd run of backslashes before u0000; an even run is a literal backslash).
const ESCAPED_NUL = /(?<!\\)(?:\\\\)*\\u0000/;
const text = z.string().refine(noNul, 'contains U+0000');
const instant = z.iso.datetime({ offset: true });

/** attr.json schemaVersion 1, as AttrRecord (src/shared/storage/attr-files.ts) describes it. */
const attrRecordSchema = z
  .object({
    schemaVersion: z.literal(ATTR_SCHEMA_VERSION),
    elementId: text.min(1),
    id: z.string().regex(UUID),
    fileName: text,
    contentType: text.min(1),
    size: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER),
    sha256: z.string().regex(SHA256),
    description: text.nullable(),
    version: text.nullable(),
    tags: z.array(text),
    metadata: z.record(z.string(), z.unknown()).refine((m) => !ESCAPED_NUL.test(JSON.stringify(m)), 'contains U+0000'),
    owner: text.min(1),
    ownerName: text.nullable(),
    createdAt: instant,
    updatedAt: instant,
    revision: z.number().int().min(1).max(INT4_MAX),
    blob: z.object({ sha256: z.string().regex(SHA256), size: z.number().int().min(0), storageKey: z.string() }),
    deletedAt: instant.optional(),
  })
  .refine((r) => r.blob.sha256 === r.sha256 && r.blob.size === r.size, 'blob.sha256/blob.size disagree with sha256/size');

// A field AttrRecord requires and the schema lacks (or types differently) fails to compile here.
type ParsedAttr = z.infer<typeof attrRecordSchema>;
const sameShape: (r: ParsedAttr) => AttrRecord = (r) => r;
void sameShape;

interface Candidate {
  attrPath: string;
  record: ParsedAttr;
}

type Verdict = { ok: Candidate } | { skip: SkipReason; attrPath: string; fileId?: string; detail: string };

/**
 * Reads and validates every attr.json, then upserts File and Blob rows batch by batch and recomputes ref counts.
 * A run that writes holds the index-maintenance lock throughout: commits that change reference counts (ingest,
 * delete, GC) wait for it, so a commit can never be counted away by the recount and then collected. A second
 * run meanwhile is refused (MaintenanceBusyError).
 */
export async function rebuildIndex(deps: RebuildDeps, options: RebuildOptions = {}): Promise<RebuildReport> {
  if (options.dryRun) return rebuildFromAttrFiles(deps, options);
  return withMaintenanceLock(deps.db, () => rebuildFromAttrFiles(deps, options));
}

async function rebuildFromAttrFiles(deps: RebuildDeps, options: RebuildOptions): Promise<RebuildReport> {
  const started = performance.now();
  const { db, logger } = deps;
  const dryRun = options.dryRun ?? false;
  const wipe = options.wipe ?? false;
  const batchSize = Math.max(1, Math.min(options.batchSize ?? 500, 2_000));
  const progressEvery = Math.max(1, options.progressEvery ?? 1_000);
  const attrStore = deps.attrStore ?? new AttrFileStore(deps.config.storagePath);
  if (dryRun && wipe) throw new RebuildRefusedError('--wipe and --dry-run exclude each other');

  const storageRoot = path.resolve(deps.config.storagePath);
  const filesRoot = path.join(storageRoot, 'files');
  if (!(await isDirectory(storageRoot))) throw new RebuildRefusedError(`STORAGE_PATH ${storageRoot} is not a directory`);
  const hasFiles = await isDirectory(filesRoot);
  // Wiping the index of an element whose attr files are not where we look would leave it empty.
  if (wipe && !hasFiles) throw new RebuildRefusedError(`no attr files at ${filesRoot}; refusing to wipe the index`);

  const report: RebuildReport = {
    dryRun,
    wiped: false,
    attrFiles: 0,
    filesRestored: 0,
    deletedFilesRestored: 0,
    filesSkipped: 0,
    skipped: Object.fromEntries(SKIP_REASONS.map((r) => [r, 0])) as Record<SkipReason, number>,
    blobsRestored: 0,
    otherElementFiles: 0,
    durationMs: 0,
  };

  if (wipe) {
    await db.$executeRaw`TRUNCATE files, blobs`;
    report.wiped = true;
    logger.warn('files and blobs tables truncated before the rebuild');
  }

  // Blobs never change once written, so one stat per digest is enough; the set of digests is what the run
  // keeps in memory (about 100 bytes per distinct blob), the file records themselves only one batch at a time.
  const blobSizes = new Map<string, number | null>();
  const statBlob = async (sha256: string): Promise<number | null> => {
    const known = blobSizes.get(sha256);
    if (known !== undefined) return known;
    const size = (await deps.blobStore.stat(sha256))?.size ?? null;
    blobSizes.set(sha256, size);
    return size;
  };
  const restoredBlobs = new Set<string>();

  const skip = (v: Exclude<Verdict, { ok: Candidate }>) => {
    report.filesSkipped += 1;
    report.skipped[v.skip] += 1;
    logger.warn({ attrPath: v.attrPath, fileId: v.fileId, reason: v.skip }, `attr file skipped: ${v.detail}`);
  };

  let nextAnalyzeAt = 2 * batchSize;
  // One batch is written while the next is read: a write failure surfaces at the next await of `writing`.
  let writing: Promise<void> = Promise.resolve();
  const flush = async (paths: string[]) => {
    const verdicts = await mapLimit(paths, 32, (p) => judge(attrStore, p, statBlob));
    const byId = new Map<string, Candidate>();
    for (const v of verdicts) {
      report.attrFiles += 1;
      if ('skip' in v) skip(v);
      else {
        const earlier = byId.get(v.ok.record.id);
        if (earlier) {
          const [keep, drop] = newer(v.ok, earlier) ? [v.ok, earlier] : [earlier, v.ok];
          byId.set(keep.record.id, keep);
          skip({ skip: 'duplicateId', attrPath: drop.attrPath, fileId: drop.record.id, detail: `another attr file (${keep.attrPath}) records the same file id` });
        } else byId.set(v.ok.record.id, v.ok);
      }
      if (report.attrFiles % progressEvery === 0) options.onProgress?.(progressOf(report, byId.size));
    }
    const inFlight = await filesWithPendingWal(db, [...byId.keys()]);
    for (const id of inFlight) {
      const c = byId.get(id)!;
      byId.delete(id);
      skip({ skip: 'inFlight', attrPath: c.attrPath, fileId: id, detail: 'a job is committing this file; its commit or WAL recovery settles it' });
    }
    const rows = [...byId.values()];
    for (const c of rows) {
      report.filesRestored += 1;
      if (c.record.deletedAt) report.deletedFilesRestored += 1;
      if (c.record.elementId !== deps.config.elementId) report.otherElementFiles += 1;
      restoredBlobs.add(c.record.sha256);
    }
    if (dryRun || rows.length === 0) return;
    await writing;
    // Fresh statistics whenever the restored rows have doubled: after a wipe the planner would otherwise
    // take tables of a million rows for empty ones.
    if (report.filesRestored >= nextAnalyzeAt) {
      nextAnalyzeAt = report.filesRestored * 2;
      await db.$executeRaw`ANALYZE files, blobs`;
    }
    writing = writeBatch(db, deps.blobStore, rows, blobSizes);
    writing.catch(() => undefined);
  };

  if (hasFiles) {
    let batch: string[] = [];
    for await (const attrPath of walkAttrFiles(storageRoot)) {
      batch.push(attrPath);
      if (batch.length >= batchSize) {
        await flush(batch);
        batch = [];
      }
    }
    await flush(batch);
  }
  await writing;
  if (!dryRun) await recomputeRefCounts(db);

  report.blobsRestored = restoredBlobs.size;
  report.durationMs = Math.round(performance.now() - started);
  if (report.otherElementFiles > 0) {
    logger.warn({ otherElementFiles: report.otherElementFiles, elementId: deps.config.elementId }, 'some attr files name another element id; restored as recorded');
  }
  return report;
}

function progressOf(report: RebuildReport, pendingInBatch: number): RebuildProgress {
  return { attrFiles: report.attrFiles, filesRestored: report.filesRestored + pendingInBatch, filesSkipped: report.filesSkipped };
}

/** Of two attr files with the same id, the later revision (then the later update) is the record. */
function newer(a: Candidate, b: Candidate): boolean {
  if (a.record.revision !== b.record.revision) return a.record.revision > b.record.revision;
  return Date.parse(a.record.updatedAt) >= Date.parse(b.record.updatedAt);
}

async function judge(attrStore: AttrFileStore, attrPath: string, statBlob: (sha256: string) => Promise<number | null>): Promise<Verdict> {
  let raw: unknown;
  try {
    raw = await attrStore.read(attrPath);
    if (raw === null) return { skip: 'unreadable', attrPath, detail: 'the file disappeared during the rebuild' };
  } catch (err) {
    if (err instanceof SyntaxError) return { skip: 'invalidJson', attrPath, detail: err.message };
    return { skip: 'unreadable', attrPath, detail: (err as Error).message };
  }
  const fileId = typeof raw === 'object' && raw !== null && 'id' in raw && typeof raw.id === 'string' ? raw.id : undefined;
  if (typeof raw === 'object' && raw !== null && 'schemaVersion' in raw && raw.schemaVersion !== ATTR_SCHEMA_VERSION) {
    return { skip: 'unknownSchemaVersion', attrPath, fileId, detail: `schemaVersion ${JSON.stringify(raw.schemaVersion)} is not ${ATTR_SCHEMA_VERSION}` };
  }
  const parsed = attrRecordSchema.safeParse(raw);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.') || '(record)'}: ${i.message}`).join('; ');
    return { skip: 'invalidRecord', attrPath, fileId, detail: problems };
  }
  const record = parsed.data;
  if (ATTR_NAME.exec(path.posix.basename(attrPath))?.[1] !== record.id) {
    return { skip: 'invalidRecord', attrPath, fileId, detail: `the file name does not match the record's id ${record.id}` };
  }
  const stored = await statBlob(record.sha256);
  if (stored === null) {
    if (record.deletedAt) return { skip: 'tombstoneWithoutBlob', attrPath, fileId, detail: 'deleted file whose blob is already garbage-collected' };
    return { skip: 'blobMissing', attrPath, fileId, detail: `blob ${record.sha256} is missing from the blob store` };
  }
  if (stored !== record.size) {
    return { skip: 'blobSizeMismatch', attrPath, fileId, detail: `blob ${record.sha256} holds ${stored} bytes, the record says ${record.size}` };
  }
  return { ok: { attrPath, record } };
}

/** Blob rows first (files reference them), then File rows, then the batch's ref counts: one transaction. */
async function writeBatch(db: Db, blobStore: BlobStore, rows: Candidate[], blobSizes: Map<string, number | null>): Promise<void> {
  const blobs = new Map<string, { size: number; createdAt: string; live: number }>();
  for (const { record } of rows) {
    const blob = blobs.get(record.sha256) ?? { size: blobSizes.get(record.sha256) ?? record.size, createdAt: record.createdAt, live: 0 };
    if (Date.parse(record.createdAt) < Date.parse(blob.createdAt)) blob.createdAt = record.createdAt;
    if (!record.deletedAt) blob.live += 1;
    blobs.set(record.sha256, blob);
  }
  // Sorted, so two writers that share blobs lock their rows in the same order.
  const digests = [...blobs.keys()].sort();
  const blobValues = digests.map((sha256) => {
    const b = blobs.get(sha256) as { size: number; createdAt: string; live: number };
    return Prisma.sql`(${sha256}::text, ${BigInt(b.size)}::bigint, ${blobStore.keyFor(sha256)}::text, ${b.createdAt}::timestamptz,
      ${b.live}::int, ${b.live === 0 ? Prisma.sql`now()` : Prisma.sql`NULL`})`;
  });
  const fileValues = rows.map(({ attrPath, record: r }) => Prisma.sql`(
    ${r.id}::uuid, ${r.fileName}::text, ${r.contentType}::text, ${BigInt(r.size)}::bigint, ${r.sha256}::text,
    ${r.description}::text, ${r.version}::text, ${r.tags}::text[], ${JSON.stringify(r.metadata)}::jsonb, ${r.owner}::text,
    ${r.ownerName}::text, ${r.elementId}::text, ${r.createdAt}::timestamptz, ${r.updatedAt}::timestamptz, ${r.revision}::int,
    ${r.deletedAt ?? null}::timestamptz, ${attrPath}::text)`);
  // A new blob starts with this batch's live files as its ref_count (right on a fresh index, so the recount
  // below rewrites only blobs shared with other batches or rows that were there before). Unchanged rows are
  // left alone (WHERE ... IS DISTINCT FROM): a second run rewrites nothing.
  await db.$transaction([
    db.$executeRaw`
      INSERT INTO blobs (sha256, size, storage_key, created_at, ref_count, orphaned_at)
      VALUES ${Prisma.join(blobValues)}
      ON CONFLICT (sha256) DO UPDATE SET
        size = EXCLUDED.size, storage_key = EXCLUDED.storage_key, created_at = LEAST(blobs.created_at, EXCLUDED.created_at)
      WHERE (blobs.size, blobs.storage_key) IS DISTINCT FROM (EXCLUDED.size, EXCLUDED.storage_key)
        OR blobs.created_at > EXCLUDED.created_at`,
    db.$executeRaw`
      INSERT INTO files (id, file_name, content_type, size, sha256, description, version, tags, metadata, owner,
        owner_name, element_id, created_at, updated_at, revision, deleted_at, attr_path)
      VALUES ${Prisma.join(fileValues)}
      ON CONFLICT (id) DO UPDATE SET
        file_name = EXCLUDED.file_name, content_type = EXCLUDED.content_type, size = EXCLUDED.size,
        sha256 = EXCLUDED.sha256, description = EXCLUDED.description, version = EXCLUDED.version, tags = EXCLUDED.tags,
        metadata = EXCLUDED.metadata, owner = EXCLUDED.owner, owner_name = EXCLUDED.owner_name,
        element_id = EXCLUDED.element_id, created_at = EXCLUDED.created_at, updated_at = EXCLUDED.updated_at,
        revision = EXCLUDED.revision, deleted_at = ${KEEP_DELETION_IN_FLIGHT}, attr_path = EXCLUDED.attr_path
      WHERE (files.file_name, files.content_type, files.size, files.sha256, files.description, files.version, files.tags,
          files.metadata, files.owner, files.owner_name, files.element_id, files.created_at, files.updated_at,
          files.revision, files.deleted_at, files.attr_path)
        IS DISTINCT FROM (EXCLUDED.file_name, EXCLUDED.content_type, EXCLUDED.size, EXCLUDED.sha256,
          EXCLUDED.description, EXCLUDED.version, EXCLUDED.tags, EXCLUDED.metadata, EXCLUDED.owner, EXCLUDED.owner_name,
          EXCLUDED.element_id, EXCLUDED.created_at, EXCLUDED.updated_at, EXCLUDED.revision, EXCLUDED.deleted_at,
          EXCLUDED.attr_path)`,
    // The batch's blobs are right as soon as it commits, so a run stopped half-way leaves consistent counts.
    // One index lookup per digest (files_sha256_idx); a join here lets the planner scan every file per batch.
    db.$executeRaw`${refCountUpdate(Prisma.sql`
      SELECT d.sha256, (SELECT count(*) FROM files f WHERE f.sha256 = d.sha256 AND ${HOLDS_REFERENCE})::int AS live
      FROM unnest(${digests}::char(64)[]) AS d(sha256)`)}`,
  ]);
}

/**
 * A file row holds a reference to its blob while it is live, and also once deleted until its delete job commits
 * (that commit releases it): counting only live files would release such a reference twice.
 */
const HOLDS_REFERENCE = Prisma.sql`(f.deleted_at IS NULL OR EXISTS (
  SELECT 1 FROM file_jobs j WHERE j.file_id = f.id AND j.kind = 'delete' AND j.state <> ALL(${[...FINAL_JOB_STATES]}::text[])))`;

/**
 * A deletion readers already see (the row) whose job has not yet tombstoned attr.json stays: the attr file is
 * the truth for everything else, but it is not yet the truth about this deletion.
 */
const KEEP_DELETION_IN_FLIGHT = Prisma.sql`CASE WHEN files.deleted_at IS NOT NULL AND EXISTS (
  SELECT 1 FROM file_jobs j WHERE j.file_id = files.id AND j.kind = 'delete' AND j.state <> ALL(${[...FINAL_JOB_STATES]}::text[]))
  THEN files.deleted_at ELSE EXCLUDED.deleted_at END`;

/** Of these file ids, those a job is committing right now (a pending WAL entry names them). */
async function filesWithPendingWal(db: Db, ids: string[]): Promise<string[]> {
  if (ids.length === 0) return [];
  const rows = await db.$queryRaw<Array<{ file_id: string }>>`
    SELECT DISTINCT file_id::text FROM wal_entries WHERE status = 'pending' AND file_id = ANY(${ids}::uuid[])`;
  return rows.map((r) => r.file_id);
}

/**
 * Every Blob row, in one pass over files: rows the attr files did not mention may be counted wrongly too, and a
 * blob no live file references must drop to 0 (so a LEFT JOIN, not only the files' own GROUP BY).
 */
async function recomputeRefCounts(db: Db): Promise<void> {
  await db.$executeRaw`${refCountUpdate(Prisma.sql`
    SELECT bl.sha256, count(f.id) FILTER (WHERE ${HOLDS_REFERENCE})::int AS live
    FROM blobs bl LEFT JOIN files f ON f.sha256 = bl.sha256
    GROUP BY bl.sha256`)}`;
}

/** ref_count = live files per blob; orphaned_at set (kept if already set) when none. Rows already right stay as they are. */
function refCountUpdate(liveCounts: Prisma.Sql): Prisma.Sql {
  return Prisma.sql`
    UPDATE blobs SET ref_count = c.live,
      orphaned_at = CASE WHEN c.live = 0 THEN COALESCE(blobs.orphaned_at, now()) ELSE NULL END
    FROM (${liveCounts}) c
    WHERE blobs.sha256 = c.sha256
      AND (blobs.ref_count <> c.live OR (c.live = 0) <> (blobs.orphaned_at IS NOT NULL))`;
}

/**
 * files/<yyyy>/<mm>/<dd>/<hh>/*.attr.json relative to the storage root (posix separators). Partition directories
 * are few and read whole; an hour directory is streamed, since one hour of a bulk import can hold very many files.
 */
async function* walkAttrFiles(storageRoot: string): AsyncGenerator<string> {
  const levels = [/^\d{4}$/, /^\d{2}$/, /^\d{2}$/, /^\d{2}$/];
  async function* descend(relative: string, depth: number): AsyncGenerator<string> {
    const full = path.join(storageRoot, ...relative.split('/'));
    const pattern = levels[depth];
    if (pattern) {
      for (const name of await subdirectories(full, pattern)) yield* descend(`${relative}/${name}`, depth + 1);
      return;
    }
    const dir = await fs.opendir(full).catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return null;
      throw err;
    });
    if (!dir) return;
    // Temp files of an atomic write start with a dot and end in .tmp: never records.
    for await (const entry of dir) {
      if (entry.isFile() && ATTR_NAME.test(entry.name) && !entry.name.startsWith('.')) yield `${relative}/${entry.name}`;
    }
  }
  yield* descend('files', 0);
}

async function subdirectories(dir: string, pattern: RegExp): Promise<string[]> {
  let entries: Dirent[];
  try {
    entries = await fs.readdir(dir, { withFileTypes: true });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  return entries.filter((e) => e.isDirectory() && pattern.test(e.name)).map((e) => e.name).sort();
}

async function isDirectory(dir: string): Promise<boolean> {
  try {
    return (await fs.stat(dir)).isDirectory();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw err;
  }
}

/** Maps items with at most `limit` calls in flight, keeping the order of the results. */
async function mapLimit<T, R>(items: T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const lane = async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, lane));
  return results;
}
