// The SQL of an index rebuild (domain/index-rebuild.ts): File and Blob rows restored from attr.json records,
// one transaction per batch, and the statements around the run.
import { Prisma, type Db } from './database.js';
import { recountBlobReferencesStatement } from './blobs.js';
import { appendAuditEvents } from './audit-events.js';
import type { AuditEventInput } from './audit-record.js';
import { FINAL_JOB_STATES } from '../../contract/jobs.js';
import type { FileMetadata } from '../../contract/files.js';

/** A file as its attr.json records it, and where that attr.json is. */
export interface RestoredFile extends FileMetadata {
  deletedAt?: string | undefined;
  attrPath: string;
}

/** A blob the batch's files reference: its first upload and how many of them are live. */
export interface RestoredBlob {
  sha256: string;
  size: number;
  storageKey: string;
  createdAt: string;
  live: number;
}

/** The revision, update time and deletion of the rows among ids (an incremental rebuild's comparison). */
export async function findRowVersions(db: Db, ids: string[]): Promise<Map<string, { revision: number; updatedAt: Date; deletedAt: Date | null }>> {
  if (ids.length === 0) return new Map();
  const rows = await db.$queryRaw<Array<{ id: string; revision: number; updated_at: Date; deleted_at: Date | null }>>`
    SELECT id::text, revision, updated_at, deleted_at FROM files WHERE id = ANY(${ids}::uuid[])`;
  return new Map(rows.map((r) => [r.id, { revision: r.revision, updatedAt: r.updated_at, deletedAt: r.deleted_at }]));
}

export async function truncateFilesAndBlobs(db: Db, audit?: AuditEventInput): Promise<void> {
  // Audit trail hook (issue 17): the wipe commits with its event (a run that stops after it leaves the record).
  await db.$transaction(async (tx) => {
    await tx.$executeRaw`TRUNCATE files, blobs`;
    if (audit) await appendAuditEvents(tx, [audit]);
  });
}

export async function analyzeFilesAndBlobs(db: Db): Promise<void> {
  await db.$executeRaw`ANALYZE files, blobs`;
}

/**
 * A deletion readers already see (the row) whose job has not yet tombstoned attr.json stays: the attr file is
 * the truth for everything else, but it is not yet the truth about this deletion.
 */
const KEEP_DELETION_IN_FLIGHT = Prisma.sql`CASE WHEN files.deleted_at IS NOT NULL AND EXISTS (
  SELECT 1 FROM file_jobs j WHERE j.file_id = files.id AND j.kind = 'delete' AND j.state <> ALL(${[...FINAL_JOB_STATES]}::text[]))
  THEN files.deleted_at ELSE EXCLUDED.deleted_at END`;

/**
 * Blob rows first (files reference them), then File rows, then the batch's ref counts: one transaction.
 * blobs must be sorted by sha256, so two writers that share blobs lock their rows in the same order.
 */
export async function writeRestoredBatch(db: Db, files: RestoredFile[], blobs: RestoredBlob[]): Promise<void> {
  // A new blob starts with this batch's live files as its ref_count (right on a fresh index, so the recount
  // below rewrites only blobs shared with other batches or rows that were there before). Unchanged rows are
  // left alone (WHERE ... IS DISTINCT FROM): a second run rewrites nothing.
  await db.$transaction([
    upsertBlobs(db, blobs),
    upsertFiles(db, files),
    // The batch's blobs are right as soon as it commits, so a run stopped half-way leaves consistent counts.
    recountBlobReferencesStatement(db, blobs.map((b) => b.sha256)),
  ]);
}

function upsertBlobs(db: Db, blobs: RestoredBlob[]): Prisma.PrismaPromise<number> {
  const values = blobs.map((b) => Prisma.sql`(${b.sha256}::text, ${BigInt(b.size)}::bigint, ${b.storageKey}::text, ${b.createdAt}::timestamptz,
      ${b.live}::int, ${b.live === 0 ? Prisma.sql`now()` : Prisma.sql`NULL`})`);
  return db.$executeRaw`
      INSERT INTO blobs (sha256, size, storage_key, created_at, ref_count, orphaned_at)
      VALUES ${Prisma.join(values)}
      ON CONFLICT (sha256) DO UPDATE SET
        size = EXCLUDED.size, storage_key = EXCLUDED.storage_key, created_at = LEAST(blobs.created_at, EXCLUDED.created_at)
      WHERE (blobs.size, blobs.storage_key) IS DISTINCT FROM (EXCLUDED.size, EXCLUDED.storage_key)
        OR blobs.created_at > EXCLUDED.created_at`;
}

function upsertFiles(db: Db, files: RestoredFile[]): Prisma.PrismaPromise<number> {
  const values = files.map((r) => Prisma.sql`(
    ${r.id}::uuid, ${r.fileName}::text, ${r.contentType}::text, ${BigInt(r.size)}::bigint, ${r.sha256}::text,
    ${r.description}::text, ${r.version}::text, ${r.tags}::text[], ${JSON.stringify(r.metadata)}::jsonb, ${r.owner}::text,
    ${r.ownerName}::text, ${r.elementId}::text, ${r.createdAt}::timestamptz, ${r.updatedAt}::timestamptz, ${r.revision}::int,
    ${r.deletedAt ?? null}::timestamptz, ${r.attrPath}::text, ${r.retentionPolicy}::text, ${r.expiresAt}::timestamptz,
    ${r.retainUntil}::timestamptz, ${r.retentionMode}::text, ${r.legalHold}::boolean)`);
  return db.$executeRaw`
      INSERT INTO files (id, file_name, content_type, size, sha256, description, version, tags, metadata, owner,
        owner_name, element_id, created_at, updated_at, revision, deleted_at, attr_path, retention_policy, expires_at,
        retain_until, retention_mode, legal_hold)
      VALUES ${Prisma.join(values)}
      ON CONFLICT (id) DO UPDATE SET
        file_name = EXCLUDED.file_name, content_type = EXCLUDED.content_type, size = EXCLUDED.size,
        sha256 = EXCLUDED.sha256, description = EXCLUDED.description, version = EXCLUDED.version, tags = EXCLUDED.tags,
        metadata = EXCLUDED.metadata, owner = EXCLUDED.owner, owner_name = EXCLUDED.owner_name,
        element_id = EXCLUDED.element_id, created_at = EXCLUDED.created_at, updated_at = EXCLUDED.updated_at,
        revision = EXCLUDED.revision, deleted_at = ${KEEP_DELETION_IN_FLIGHT}, attr_path = EXCLUDED.attr_path,
        retention_policy = EXCLUDED.retention_policy, expires_at = EXCLUDED.expires_at, retain_until = EXCLUDED.retain_until,
        retention_mode = EXCLUDED.retention_mode, legal_hold = EXCLUDED.legal_hold
      WHERE (files.file_name, files.content_type, files.size, files.sha256, files.description, files.version, files.tags,
          files.metadata, files.owner, files.owner_name, files.element_id, files.created_at, files.updated_at,
          files.revision, files.deleted_at, files.attr_path, files.retention_policy, files.expires_at, files.retain_until,
          files.retention_mode, files.legal_hold)
        IS DISTINCT FROM (EXCLUDED.file_name, EXCLUDED.content_type, EXCLUDED.size, EXCLUDED.sha256,
          EXCLUDED.description, EXCLUDED.version, EXCLUDED.tags, EXCLUDED.metadata, EXCLUDED.owner, EXCLUDED.owner_name,
          EXCLUDED.element_id, EXCLUDED.created_at, EXCLUDED.updated_at, EXCLUDED.revision, EXCLUDED.deleted_at,
          EXCLUDED.attr_path, EXCLUDED.retention_policy, EXCLUDED.expires_at, EXCLUDED.retain_until,
          EXCLUDED.retention_mode, EXCLUDED.legal_hold)`;
}
