// attr.json files: the per-file record beside the blobs from which the File and Blob tables can be rebuilt; the local
// AttrStore (STORAGE_PATH/files/...), the layout's path helpers and the record builder.
import type { Dirent } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { removeIfExists, writeFileAtomic, type TempFileOptions } from './durable-fs.js';
import { storeTempDir } from './store-temp.js';
import { ATTR_SCHEMA_VERSION, type AttrRecord } from './attr-record.js';
import type { AttrStore } from './attr-store.js';
import type { FileMetadata } from '../../contract/files.js';
import { LOWER_UUID } from '../../contract/ids.js';

const ATTR_NAME = /^(.+)\.attr\.json$/;
const PARTITION_LEVELS = [/^\d{4}$/, /^\d{2}$/, /^\d{2}$/, /^\d{2}$/];

/** files/<yyyy>/<mm>/<dd>/<hh>/<fileId>.attr.json, partitioned by the UTC upload hour. */
export function attrRelativePath(fileId: string, uploadedAt: Date): string {
  if (!LOWER_UUID.test(fileId)) throw new Error(`not a file id: ${JSON.stringify(fileId)}`);
  const iso = uploadedAt.toISOString();
  return path.posix.join('files', iso.slice(0, 4), iso.slice(5, 7), iso.slice(8, 10), iso.slice(11, 13), `${fileId}.attr.json`);
}

/** The file id an attr file's name gives (<fileId>.attr.json), or undefined when the name is not one. */
export function fileIdOfAttrPath(relative: string): string | undefined {
  return ATTR_NAME.exec(path.posix.basename(relative))?.[1];
}

export type { AttrStore };

export class AttrFileStore implements AttrStore {
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

  /** The record as written, not validated (attrRecordSchema does that); null when the file is absent. */
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

  /**
   * files/<yyyy>/<mm>/<dd>/<hh>/*.attr.json relative to the storage root (posix separators). Partition directories
   * are few and read whole; an hour directory is streamed, since one hour of a bulk import can hold very many files.
   */
  async *list(): AsyncGenerator<string> {
    const root = this.root;
    async function* descend(relative: string, depth: number): AsyncGenerator<string> {
      const full = path.join(root, ...relative.split('/'));
      const pattern = PARTITION_LEVELS[depth];
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

/** The attr.json record of a file: its metadata and where its bytes are. */
export function toAttrRecord(meta: FileMetadata, storageKey: string): AttrRecord {
  return {
    schemaVersion: ATTR_SCHEMA_VERSION,
    ...meta,
    blob: { sha256: meta.sha256, size: meta.size, storageKey },
  };
}
