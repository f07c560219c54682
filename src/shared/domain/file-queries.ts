// Reading files: metadata rows and their bytes through the blob store interface.
import type { Readable } from 'node:stream';
import { poolOf, type Db } from '../db.js';
import { AppError } from '../errors.js';
import type { BlobStore, ByteRange } from '../storage/blob-store.js';
import { toFileMetadata, type FileMetadata } from './file-view.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

const FILE_COLUMNS = `f.id, f.file_name, f.content_type, f.size, f.sha256, f.description, f.version, f.tags, f.metadata, f.owner,
  f.owner_name, f.element_id, f.created_at, f.updated_at, f.revision`;

interface FileRow {
  id: string;
  file_name: string;
  content_type: string;
  size: string;
  sha256: string;
  description: string | null;
  version: string | null;
  tags: string[];
  metadata: Record<string, unknown> | null;
  owner: string;
  owner_name: string | null;
  element_id: string;
  created_at: Date;
  updated_at: Date;
  revision: number;
  corrupt_at: Date | null;
  corrupt_reason: string | null;
}

function metadataOf(r: FileRow): FileMetadata {
  return {
    id: r.id,
    fileName: r.file_name,
    contentType: r.content_type,
    size: Number(r.size),
    sha256: r.sha256,
    description: r.description,
    version: r.version,
    tags: r.tags,
    metadata: r.metadata ?? {},
    owner: r.owner,
    ownerName: r.owner_name,
    createdAt: r.created_at.toISOString(),
    updatedAt: r.updated_at.toISOString(),
    revision: r.revision,
    elementId: r.element_id,
  };
}

/** A live file's row with its blob's integrity mark, in one query (plain SQL: downloads and metadata are hot). */
async function liveFile(db: Db, id: string): Promise<FileRow> {
  const { rows: [row] } = UUID.test(id)
    ? await poolOf(db).query<FileRow>(
        `SELECT ${FILE_COLUMNS}, b.corrupt_at, b.corrupt_reason FROM files f JOIN blobs b ON b.sha256 = f.sha256
         WHERE f.id = $1 AND f.deleted_at IS NULL`,
        [id.toLowerCase()],
      )
    : { rows: [] };
  if (!row) throw new AppError('not_found', `no file ${id}`);
  return row;
}

/** A live (not deleted) file's metadata; 404 otherwise. */
export async function getFileMetadata(db: Db, id: string): Promise<FileMetadata> {
  return metadataOf(await liveFile(db, id));
}

/**
 * A live file whose bytes may be served: 404 when there is none, 409 corrupt when the integrity scrub found its
 * blob changed or gone (the metadata stays readable through getFileMetadata).
 */
export async function getServableFile(db: Db, id: string): Promise<FileMetadata> {
  const row = await liveFile(db, id);
  if (row.corrupt_at) {
    throw new AppError('corrupt', `the stored bytes of this file failed an integrity check (${row.corrupt_reason ?? 'mismatch'}); they are withheld until an operator restores them`);
  }
  return metadataOf(row);
}

export async function getFilesByIds(db: Db, ids: string[]): Promise<Map<string, FileMetadata>> {
  if (ids.length === 0) return new Map();
  const rows = await db.file.findMany({ where: { id: { in: ids }, deletedAt: null } });
  return new Map(rows.map((r) => [r.id, toFileMetadata(r)]));
}

/** Ranges up to this size are read into memory at once; larger ones and whole files are streamed. */
export const SMALL_RANGE_MAX_BYTES = 64 * 1024;

/** A small inclusive byte range of the file, read at once (see SMALL_RANGE_MAX_BYTES). */
export function readFileRange(blobStore: BlobStore, file: FileMetadata, range: ByteRange): Promise<Buffer> {
  return blobStore.readRange(file.sha256, range);
}

/** The file's bytes, or the inclusive byte range of them. */
export function openFileContent(blobStore: BlobStore, file: FileMetadata, range?: ByteRange): Promise<Readable> {
  return blobStore.openRead(file.sha256, range);
}

/** The digests among sha256s that some live file has. */
export async function findPresentSha256(db: Db, sha256s: string[]): Promise<Set<string>> {
  if (sha256s.length === 0) return new Set();
  const rows = await db.$queryRaw<Array<{ sha256: string }>>`
    SELECT DISTINCT sha256 FROM files WHERE sha256 = ANY(${sha256s}::char(64)[]) AND deleted_at IS NULL`;
  return new Set(rows.map((r) => r.sha256));
}
