// Reading files: metadata rows and their bytes through the blob store interface.
import type { Readable } from 'node:stream';
import type { Db } from '../db.js';
import { AppError } from '../errors.js';
import type { BlobStore, ByteRange } from '../storage/blob-store.js';
import { toFileMetadata, type FileMetadata } from './file-view.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** A live (not deleted) file's metadata; 404 otherwise. */
export async function getFileMetadata(db: Db, id: string): Promise<FileMetadata> {
  const row = UUID.test(id)
    ? await db.file.findFirst({ where: { id: id.toLowerCase(), deletedAt: null } })
    : null;
  if (!row) throw new AppError('not_found', `no file ${id}`);
  return toFileMetadata(row);
}

export async function getFilesByIds(db: Db, ids: string[]): Promise<Map<string, FileMetadata>> {
  if (ids.length === 0) return new Map();
  const rows = await db.file.findMany({ where: { id: { in: ids }, deletedAt: null } });
  return new Map(rows.map((r) => [r.id, toFileMetadata(r)]));
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
