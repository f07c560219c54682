// What an ingest sends and under which key: chunks of the walk (hashed and asked about together), the
// Idempotency-Keys of single files and of batches, and the batches an earlier run left unfinished.
import { createHash } from 'node:crypto';
import { resendableBatch, type AnyReportLine, type BatchRef } from './report.js';
import type { LocalFile } from './walk.js';

export interface HashedFile extends LocalFile {
  sha256: string;
  /** Bytes hashed (the walked size may be older): what the upload declares and sends. */
  hashedSize: number;
  /** A small file's bytes as read when hashed, sent as they are; dropped once sent. */
  bytes?: Buffer;
}

// exists takes up to 1000 digests; a chunk also stops at this many bytes so uploads start while big trees hash.
export const CHUNK_FILES = 1000;
const CHUNK_BYTES = 64 * 1024 * 1024;

export function chunked(files: LocalFile[]): LocalFile[][] {
  const out: LocalFile[][] = [];
  let current: LocalFile[] = [];
  let bytes = 0;
  for (const f of files) {
    if (current.length > 0 && (current.length >= CHUNK_FILES || bytes + f.size > CHUNK_BYTES)) {
      out.push(current);
      current = [];
      bytes = 0;
    }
    current.push(f);
    bytes += f.size;
  }
  if (current.length > 0) out.push(current);
  return out;
}

export function idempotencyKey(f: HashedFile): string {
  return createHash('sha256').update(`${f.path}|${f.size}|${f.mtimeMs}|${f.sha256}`).digest('hex');
}

/** A batch's key: derived from its members' own keys, in order. */
export function batchIdempotencyKey(files: HashedFile[]): string {
  return createHash('sha256').update(files.map(idempotencyKey).join('\n')).digest('hex');
}

/**
 * Batches an earlier run recorded as `sending` and did not finish, complete and unchanged, in their order:
 * they are sent again first, under their recorded keys. Members of a batch that changed since go the usual way.
 */
export function unfinishedBatches(todo: LocalFile[], previous: Map<string, AnyReportLine>): Array<{ key: string; files: HashedFile[] }> {
  const groups = new Map<string, Array<{ file: HashedFile; batch: BatchRef }>>();
  for (const f of todo) {
    const line = previous.get(f.path);
    const batch = resendableBatch(line);
    if (!batch || !line?.sha256 || line.size !== f.size || line.mtimeMs !== f.mtimeMs) continue;
    let group = groups.get(batch.key);
    if (!group) groups.set(batch.key, (group = []));
    group.push({ file: { ...f, sha256: line.sha256, hashedSize: f.size }, batch });
  }
  const out: Array<{ key: string; files: HashedFile[] }> = [];
  for (const [key, members] of groups) {
    const size = members[0]!.batch.size;
    members.sort((a, b) => a.batch.index - b.batch.index);
    const complete = members.length === size && members.every((m, i) => m.batch.index === i && m.batch.size === size);
    if (complete) out.push({ key, files: members.map((m) => m.file) });
  }
  return out;
}
