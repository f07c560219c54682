// The FileMetadata resource as clients see it (SPEC §5), and the attr.json record of the same file.
import type { File } from '../db/generated/client.js';
import { ATTR_SCHEMA_VERSION, type AttrRecord } from '../storage/attr-files.js';

export interface FileMetadata {
  id: string;
  fileName: string;
  contentType: string;
  size: number;
  sha256: string;
  description: string | null;
  version: string | null;
  tags: string[];
  metadata: Record<string, unknown>;
  owner: string;
  ownerName: string | null;
  createdAt: string;
  updatedAt: string;
  revision: number;
  elementId: string;
}

type FileFields = File;

export function toFileMetadata(row: FileFields): FileMetadata {
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

export function toAttrRecord(meta: FileMetadata, storageKey: string): AttrRecord {
  return {
    schemaVersion: ATTR_SCHEMA_VERSION,
    ...meta,
    blob: { sha256: meta.sha256, size: meta.size, storageKey },
  };
}
