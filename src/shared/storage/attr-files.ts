// attr.json files: the per-file record beside the blobs from which the File and Blob tables can be rebuilt.
import fs from 'node:fs/promises';
import path from 'node:path';
import { removeIfExists, writeFileAtomic, type TempFileOptions } from './durable-fs.js';
import { storeTempDir } from './store-temp.js';
import type { FileMetadata } from '../../contract/files.js';

export const ATTR_SCHEMA_VERSION = 1;

export interface AttrRecord {
  schemaVersion: number;
  elementId: string;
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
  blob: { sha256: string; size: number; storageKey: string };
  /** Set on a deleted file's tombstone: a rebuild restores it as deleted, never as live. */
  deletedAt?: string;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** files/<yyyy>/<mm>/<dd>/<hh>/<fileId>.attr.json, partitioned by the UTC upload hour. */
export function attrRelativePath(fileId: string, uploadedAt: Date): string {
  if (!UUID.test(fileId)) throw new Error(`not a file id: ${JSON.stringify(fileId)}`);
  const iso = uploadedAt.toISOString();
  return path.posix.join('files', iso.slice(0, 4), iso.slice(5, 7), iso.slice(8, 10), iso.slice(11, 13), `${fileId}.attr.json`);
}

export class AttrFileStore {
  private readonly root: string;
  private readonly temp: TempFileOptions;

  /** writerId (writers.ts) names this process's temp files, so a sweep can remove what a dead process left at once. */
  constructor(storagePath: string, options: { writerId?: string } = {}) {
    this.root = path.resolve(storagePath);
    this.temp = { tempDir: storeTempDir(this.root), tempTag: options.writerId };
  }

  private resolve(relative: string): string {
    const full = path.resolve(this.root, relative);
    if (!full.startsWith(this.root + path.sep)) throw new Error(`attr path escapes the store: ${relative}`);
    return full;
  }

  async write(relative: string, record: AttrRecord): Promise<void> {
    await writeFileAtomic(this.resolve(relative), `${JSON.stringify(record, null, 2)}\n`, this.temp);
  }

  async read(relative: string): Promise<AttrRecord | null> {
    try {
      return JSON.parse(await fs.readFile(this.resolve(relative), 'utf8')) as AttrRecord;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw err;
    }
  }

  async remove(relative: string): Promise<boolean> {
    return removeIfExists(this.resolve(relative));
  }
}

/** The attr.json record of a file: its metadata and where its bytes are. */
export function toAttrRecord(meta: FileMetadata, storageKey: string): AttrRecord {
  return {
    schemaVersion: ATTR_SCHEMA_VERSION,
    ...meta,
    blob: { sha256: meta.sha256, size: meta.size, storageKey },
  };
}
