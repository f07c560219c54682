// The blobs table: rows for GC marking, adoption of unrecorded bytes, scrub marks and the
// reference recount of an index rebuild.
import { appendAuditEvents } from './audit-events.js';
import type { AuditEventInput } from './audit-record.js';
import { Prisma, type Db } from './database.js';
import { FINAL_JOB_STATES } from '../../contract/jobs.js';

export interface GcCandidateRow {
  refCount: number;
  orphanedAt: Date | null;
  gcStartedAt: Date | null;
  storageKey: string;
}

/** The blob's row locked FOR UPDATE until tx ends (the GC mark is decided under this lock), or undefined. */
export async function lockBlobForGc(tx: Prisma.TransactionClient, sha256: string): Promise<GcCandidateRow | undefined> {
  const [row] = await tx.$queryRaw<Array<{ ref_count: number; orphaned_at: Date | null; gc_started_at: Date | null; storage_key: string }>>`
    SELECT ref_count, orphaned_at, gc_started_at, storage_key FROM blobs WHERE sha256 = ${sha256} FOR UPDATE`;
  return row && { refCount: row.ref_count, orphanedAt: row.orphaned_at, gcStartedAt: row.gc_started_at, storageKey: row.storage_key };
}

/** The GC mark: from now on an ingest of the same bytes waits instead of reviving the row. */
export async function markBlobGcStarted(tx: Prisma.TransactionClient, sha256: string): Promise<void> {
  await tx.$executeRaw`UPDATE blobs SET gc_started_at = now() WHERE sha256 = ${sha256}`;
}

/** After its bytes are gone: the rows of deleted files that pointed at them (tombstones stay), then the blob row. */
export async function deleteCollectedBlob(tx: Prisma.TransactionClient, sha256: string): Promise<{ blobRemoved: boolean; fileRows: number }> {
  const fileRows = await tx.$executeRaw`DELETE FROM files WHERE sha256 = ${sha256} AND deleted_at IS NOT NULL`;
  const blobRows = await tx.$executeRaw`DELETE FROM blobs WHERE sha256 = ${sha256} AND ref_count = 0 AND gc_started_at IS NOT NULL`;
  return { blobRemoved: blobRows > 0, fileRows };
}

/** Unreferenced blobs orphaned before orphanedBefore, and those whose GC started and did not finish. */
export async function findGcDueBlobs(db: Db, orphanedBefore: Date, limit: number): Promise<Array<{ sha256: string; orphanedAt: Date | null }>> {
  return db.blob.findMany({
    where: { refCount: 0, OR: [{ gcStartedAt: { not: null } }, { orphanedAt: { lt: orphanedBefore } }] },
    select: { sha256: true, orphanedAt: true },
    take: limit,
  });
}

/** Of these digests, those that have a blob row. */
export async function findRecordedSha256s(db: Db, digests: string[]): Promise<Set<string>> {
  const rows = await db.$queryRaw<Array<{ sha256: string }>>`
    SELECT sha256 FROM blobs WHERE sha256 = ANY(${digests}::char(64)[])`;
  return new Set(rows.map((r) => r.sha256));
}

/** Unreferenced rows (ref_count 0, orphaned now) for blobs that have none; a row that exists is left alone. */
export async function insertUnreferencedBlobs(
  tx: Prisma.TransactionClient,
  blobs: Array<{ sha256: string; size: number; storageKey: string }>,
): Promise<number> {
  const rows = blobs.map((b) => ({ sha256: b.sha256, size: b.size, storage_key: b.storageKey }));
  return tx.$executeRaw`
    INSERT INTO blobs (sha256, size, storage_key, ref_count, orphaned_at, created_at)
    SELECT c.sha256, c.size, c.storage_key, 0, now(), now()
    FROM jsonb_to_recordset(${JSON.stringify(rows)}::jsonb) AS c(sha256 char(64), size bigint, storage_key text)
    ON CONFLICT (sha256) DO NOTHING`;
}

export interface BlobToScrub {
  sha256: string;
  size: bigint;
  corruptAt: Date | null;
}

/** The next blobs after `after` in sha256 order, except those being garbage-collected (they lose their bytes on purpose). */
export async function findBlobsToScrub(db: Db, after: string | null, limit: number): Promise<BlobToScrub[]> {
  return db.blob.findMany({
    where: { gcStartedAt: null, ...(after !== null ? { sha256: { gt: after } } : {}) },
    orderBy: { sha256: 'asc' },
    take: limit,
    select: { sha256: true, size: true, corruptAt: true },
  });
}

/** Verified now; a corrupt mark an earlier scrub left goes (the bytes were restored). */
export async function markBlobsIntact(db: Db, sha256s: string[]): Promise<void> {
  await db.blob.updateMany({
    where: { sha256: { in: sha256s } },
    data: { lastVerifiedAt: new Date(), corruptAt: null, corruptReason: null },
  });
}

/**
 * Marks the blob corrupt (keeping the first corrupt_at); returns false when it was not marked. Guarded: a GC
 * that started meanwhile removes the bytes on purpose.
 */
export async function markBlobCorrupt(db: Db, sha256: string, reason: string, audit?: AuditEventInput): Promise<boolean> {
  // Audit trail hook (issue 17): the mark commits with its fixity_failure event.
  // A blob found corrupt again by a later pass keeps its first mark and has its event already.
  return db.$transaction(async (tx) => {
    const [before] = await tx.$queryRaw<Array<{ corrupt_at: Date | null }>>`
      SELECT corrupt_at FROM blobs WHERE sha256 = ${sha256} AND gc_started_at IS NULL FOR UPDATE`;
    if (!before) return false;
    await tx.$executeRaw`
      UPDATE blobs SET corrupt_at = COALESCE(corrupt_at, now()), corrupt_reason = ${reason} WHERE sha256 = ${sha256}`;
    if (before.corrupt_at === null && audit) await appendAuditEvents(tx, [audit]);
    return true;
  });
}

/**
 * A file row holds a reference to its blob while it is live, and also once deleted until its delete job commits
 * (that commit releases it): counting only live files would release such a reference twice.
 */
const HOLDS_REFERENCE = Prisma.sql`(f.deleted_at IS NULL OR EXISTS (
  SELECT 1 FROM file_jobs j WHERE j.file_id = f.id AND j.kind = 'delete' AND j.state <> ALL(${[...FINAL_JOB_STATES]}::text[])))`;

/** ref_count = live files per blob; orphaned_at set (kept if already set) when none. Rows already right stay as they are. */
function refCountUpdate(liveCounts: Prisma.Sql): Prisma.Sql {
  return Prisma.sql`
    UPDATE blobs SET ref_count = c.live,
      orphaned_at = CASE WHEN c.live = 0 THEN COALESCE(blobs.orphaned_at, now()) ELSE NULL END
    FROM (${liveCounts}) c
    WHERE blobs.sha256 = c.sha256
      AND (blobs.ref_count <> c.live OR (c.live = 0) <> (blobs.orphaned_at IS NOT NULL))`;
}

/** The recount of these blobs' references, as a statement for the caller's batch transaction. */
export function recountBlobReferencesStatement(db: Db, digests: string[]): Prisma.PrismaPromise<number> {
  // One index lookup per digest (files_sha256_idx); a join here lets the planner scan every file per batch.
  return db.$executeRaw`${refCountUpdate(Prisma.sql`
    SELECT d.sha256, (SELECT count(*) FROM files f WHERE f.sha256 = d.sha256 AND ${HOLDS_REFERENCE})::int AS live
    FROM unnest(${digests}::char(64)[]) AS d(sha256)`)}`;
}

/**
 * Every Blob row, in one pass over files: rows the attr files did not mention may be counted wrongly too, and a
 * blob no live file references must drop to 0 (so a LEFT JOIN, not only the files' own GROUP BY).
 */
export async function recountAllBlobReferences(db: Db, audit?: AuditEventInput): Promise<void> {
  // Audit trail hook (issue 17): a rebuild's last change, the recount, commits with the rebuild's event.
  await db.$transaction(async (tx) => {
    await tx.$executeRaw`${refCountUpdate(Prisma.sql`
      SELECT bl.sha256, count(f.id) FILTER (WHERE ${HOLDS_REFERENCE})::int AS live
      FROM blobs bl LEFT JOIN files f ON f.sha256 = bl.sha256
      GROUP BY bl.sha256`)}`;
    if (audit) await appendAuditEvents(tx, [audit]);
  });
}
