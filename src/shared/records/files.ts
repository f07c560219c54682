// The files table's record: its columns for plain-SQL reads and the mapping of a row to the FileMetadata resource.
import type { FileMetadata } from '../../contract/files.js';
import type { File } from '../db/generated/client.js';

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
  };
}
