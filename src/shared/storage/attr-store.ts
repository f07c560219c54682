// The attr.json store interface: where each file's record lives beside the blobs. Every backend implements this.
import type { AttrRecord } from './attr-record.js';

/**
 * Records are addressed by their relative path, `files/<yyyy>/<mm>/<dd>/<hh>/<fileId>.attr.json` (attrRelativePath),
 * on every backend: a directory tree under STORAGE_PATH, or keys under S3_PREFIX.
 */
export interface AttrStore {
  /** Writes (or rewrites) the record; durable on return. */
  write(relative: string, record: AttrRecord): Promise<void>;
  /** The record as written, not validated (attrRecordSchema does that); null when absent. */
  read(relative: string): Promise<AttrRecord | null>;
  /** Removes the record; returns false when it was not there. */
  remove(relative: string): Promise<boolean>;
  /** Every record's relative path (posix separators), in no particular order. */
  list(): AsyncIterable<string>;
}

/** files/<yyyy>/<mm>/<dd>/<hh>/<lower-case uuid>.attr.json: the only relative paths a record may have. */
export const ATTR_RELATIVE_PATH = /^files\/\d{4}\/\d{2}\/\d{2}\/\d{2}\/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\.attr\.json$/;

/** Refuses anything but an attr layout path: a key built from it can then never leave `files/` under the prefix. */
export function assertAttrRelativePath(relative: string): void {
  if (!ATTR_RELATIVE_PATH.test(relative)) throw new Error(`not an attr.json path: ${JSON.stringify(relative)}`);
}
