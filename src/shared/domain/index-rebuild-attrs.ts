// The reading side of an index rebuild: each attr.json read, validated against attrRecordSchema and its blob, and
// judged restorable or skipped with a reason.
import { ATTR_SCHEMA_VERSION, attrRecordSchema, type AttrRecord } from '../storage/attr-record.js';
import { fileIdOfAttrPath, type AttrStore } from '../storage/attr-files.js';
import type { BlobStore } from '../storage/blob-store.js';

export const SKIP_REASONS = [
  'unreadable',
  'invalidJson',
  'invalidRecord',
  'unknownSchemaVersion',
  'duplicateId',
  'blobMissing',
  'blobSizeMismatch',
  'tombstoneWithoutBlob',
  /** A job is between writing this attr.json and its commit (pending WAL entry): its own commit or recovery settles it. */
  'inFlight',
] as const;
export type SkipReason = (typeof SKIP_REASONS)[number];

/** A record that passed every check, and the attr file it came from. */
export interface Candidate {
  attrPath: string;
  record: AttrRecord;
}

export interface Skip {
  skip: SkipReason;
  attrPath: string;
  fileId?: string;
  detail: string;
}

export type Verdict = { ok: Candidate } | Skip;

/**
 * Blob sizes by digest, one stat each: blobs never change once written. The set of digests is what a run keeps in
 * memory (about 100 bytes per distinct blob), the file records themselves only one batch at a time.
 */
export class BlobSizes {
  private readonly sizes = new Map<string, number | null>();

  constructor(private readonly blobStore: BlobStore) {}

  async stat(sha256: string): Promise<number | null> {
    const known = this.sizes.get(sha256);
    if (known !== undefined) return known;
    const size = (await this.blobStore.stat(sha256))?.size ?? null;
    this.sizes.set(sha256, size);
    return size;
  }

  /** The stored size, once stat() has seen the blob. */
  known(sha256: string): number | undefined {
    return this.sizes.get(sha256) ?? undefined;
  }
}

/** Of two attr files with the same id, the later revision (then the later update) is the record. */
export function newer(a: Candidate, b: Candidate): boolean {
  if (a.record.revision !== b.record.revision) return a.record.revision > b.record.revision;
  return Date.parse(a.record.updatedAt) >= Date.parse(b.record.updatedAt);
}

/** Reads one attr file and judges it: restorable (its blob is there with the recorded size) or skipped, and why. */
export async function judgeAttrFile(attrStore: AttrStore, attrPath: string, blobSizes: BlobSizes): Promise<Verdict> {
  let raw: unknown;
  try {
    raw = await attrStore.read(attrPath);
    if (raw === null) return { skip: 'unreadable', attrPath, detail: 'the file disappeared during the rebuild' };
  } catch (err) {
    if (err instanceof SyntaxError) return { skip: 'invalidJson', attrPath, detail: err.message };
    return { skip: 'unreadable', attrPath, detail: (err as Error).message };
  }
  const fileId = typeof raw === 'object' && raw !== null && 'id' in raw && typeof raw.id === 'string' ? raw.id : undefined;
  if (typeof raw === 'object' && raw !== null && 'schemaVersion' in raw && raw.schemaVersion !== ATTR_SCHEMA_VERSION) {
    return { skip: 'unknownSchemaVersion', attrPath, fileId, detail: `schemaVersion ${JSON.stringify(raw.schemaVersion)} is not ${ATTR_SCHEMA_VERSION}` };
  }
  const parsed = attrRecordSchema.safeParse(raw);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.') || '(record)'}: ${i.message}`).join('; ');
    return { skip: 'invalidRecord', attrPath, fileId, detail: problems };
  }
  const record = parsed.data;
  if (fileIdOfAttrPath(attrPath) !== record.id) {
    return { skip: 'invalidRecord', attrPath, fileId, detail: `the file name does not match the record's id ${record.id}` };
  }
  const stored = await blobSizes.stat(record.sha256);
  if (stored === null) {
    if (record.deletedAt) return { skip: 'tombstoneWithoutBlob', attrPath, fileId, detail: 'deleted file whose blob is already garbage-collected' };
    return { skip: 'blobMissing', attrPath, fileId, detail: `blob ${record.sha256} is missing from the blob store` };
  }
  if (stored !== record.size) {
    return { skip: 'blobSizeMismatch', attrPath, fileId, detail: `blob ${record.sha256} holds ${stored} bytes, the record says ${record.size}` };
  }
  return { ok: { attrPath, record } };
}

/** Maps items with at most `limit` calls in flight, keeping the order of the results. */
export async function mapLimit<T, R>(items: T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const lane = async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, lane));
  return results;
}
