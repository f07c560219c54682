// The files table's record: its columns for plain-SQL reads, the mapping of a row to the FileMetadata resource, and
// the reads of files by id and digest.
import type { FileMetadata } from '../../contract/files.js';
import type { File } from '../db/generated/client.js';
import { poolOf, type Db, type DbClient } from './database.js';

/** A row of the files table. */
export type FileRow = File;

/** A live file's row with its blob's integrity mark (set by the scrub). */
export type FileRowWithIntegrity = FileRow & { corruptAt: Date | null; corruptReason: string | null };

/**
 * The files columns under the names of the File row, for plain-SQL reads that map with toFileMetadata (int8 size
 * may arrive as text: Number() takes both). alias qualifies each column, for queries that join files.
 */
export function fileColumns(alias?: string): string {
  const c = (column: string) => (alias ? `${alias}.${column}` : column);
  return [
    `${c('id')} AS "id"`, `${c('file_name')} AS "fileName"`, `${c('content_type')} AS "contentType"`, `${c('size')} AS "size"`,
    `${c('sha256')} AS "sha256"`, `${c('description')} AS "description"`, `${c('version')} AS "version"`, `${c('tags')} AS "tags"`,
    `${c('metadata')} AS "metadata"`, `${c('owner')} AS "owner"`, `${c('owner_name')} AS "ownerName"`,
    `${c('element_id')} AS "elementId"`, `${c('created_at')} AS "createdAt"`, `${c('updated_at')} AS "updatedAt"`,
    `${c('revision')} AS "revision"`, `${c('deleted_at')} AS "deletedAt"`, `${c('attr_path')} AS "attrPath"`,
    `${c('retention_policy')} AS "retentionPolicy"`, `${c('expires_at')} AS "expiresAt"`, `${c('retain_until')} AS "retainUntil"`,
    `${c('retention_mode')} AS "retentionMode"`, `${c('legal_hold')} AS "legalHold"`,
  ].join(', ');
}

export function toFileMetadata(row: File): FileMetadata {
  return {
    id: row.id,
    fileName: row.fileName,
    contentType: row.contentType,
    size: Number(row.size),
    sha256: row.sha256,
    description: row.description,
    version: row.version,
    tags: row.tags,
    metadata: (row.metadata ?? {}) as Record<string, unknown>,
    owner: row.owner,
    ownerName: row.ownerName,
    createdAt: row.createdAt.toISOString(),
    updatedAt: row.updatedAt.toISOString(),
    revision: row.revision,
    elementId: row.elementId,
    retentionPolicy: row.retentionPolicy as FileMetadata['retentionPolicy'],
    expiresAt: row.expiresAt?.toISOString() ?? null,
    retainUntil: row.retainUntil?.toISOString() ?? null,
    retentionMode: row.retentionMode as FileMetadata['retentionMode'],
    legalHold: row.legalHold,
  };
}

/** A live file's row with its blob's integrity mark, in one query (plain SQL: downloads and metadata are hot). */
export async function findLiveFileWithIntegrity(db: Db, id: string): Promise<FileRowWithIntegrity | undefined> {
  const { rows: [row] } = await poolOf(db).query<FileRowWithIntegrity>(
    `SELECT ${fileColumns('f')}, b.corrupt_at AS "corruptAt", b.corrupt_reason AS "corruptReason"
     FROM files f JOIN blobs b ON b.sha256 = f.sha256
     WHERE f.id = $1 AND f.deleted_at IS NULL`,
    [id],
  );
  return row;
}

/** The live files among these ids. */
export async function findLiveFilesByIds(db: Db, ids: string[]): Promise<FileRow[]> {
  return db.file.findMany({ where: { id: { in: ids }, deletedAt: null } });
}

/** The digests among sha256s that some live file has. */
export async function findLiveSha256s(db: Db, sha256s: string[]): Promise<Set<string>> {
  const rows = await db.$queryRaw<Array<{ sha256: string }>>`
    SELECT DISTINCT sha256 FROM files WHERE sha256 = ANY(${sha256s}::char(64)[]) AND deleted_at IS NULL`;
  return new Set(rows.map((r) => r.sha256));
}

/** Up to limit ids of live files whose bytes are this blob. */
export async function findLiveFileIdsOfBlob(db: Db, sha256: string, limit: number): Promise<string[]> {
  const files = await db.file.findMany({ where: { sha256, deletedAt: null }, select: { id: true }, take: limit });
  return files.map((f) => f.id);
}

/** Fails (as the driver does) when the database is unreachable or the files table does not exist. */
export async function probeFilesTable(db: Db): Promise<void> {
  await db.$queryRaw`SELECT 1 FROM files LIMIT 0`;
}

/** The file's row, deleted or not. */
export async function findFileRow(client: DbClient, id: string): Promise<FileRow | null> {
  return client.file.findUnique({ where: { id } });
}

/** The file's row while it is not deleted. */
export async function findLiveFileRow(client: DbClient, id: string): Promise<FileRow | null> {
  return client.file.findFirst({ where: { id, deletedAt: null } });
}

/**
 * Inside a delete job's commit: the row ends deleted even when it was restored live meanwhile (an index rebuild
 * with --wipe between the job's WAL prepare and its tombstone restores the row from the attr.json it found).
 */
export async function keepFileDeleted(tx: DbClient, id: string, deletedAt: Date): Promise<void> {
  await tx.file.updateMany({ where: { id, deletedAt: null }, data: { deletedAt } });
}

/** Whether a row (deleted or not) holds this file id. */
export async function fileRowExists(client: DbClient, id: string): Promise<boolean> {
  return (await client.file.count({ where: { id } })) > 0;
}

/** Files readers can see. */
export async function countLiveFiles(db: Db): Promise<number> {
  return db.file.count({ where: { deletedAt: null } });
}
