// The reads of an index consistency report (domain/index-consistency.ts): which file rows exist, page by page.
import type { Db } from './database.js';

/** Of these ids, those that have a file row (live or deleted). */
export async function findFileIdsWithRow(db: Db, ids: string[]): Promise<Set<string>> {
  if (ids.length === 0) return new Set();
  const rows = await db.$queryRaw<Array<{ id: string }>>`SELECT id::text FROM files WHERE id = ANY(${ids}::uuid[])`;
  return new Set(rows.map((r) => r.id));
}

/** The next live file rows after `after` in id order (keyset: one index range per page). */
export async function pageLiveFileRows(db: Db, after: string | null, limit: number): Promise<Array<{ id: string; attrPath: string }>> {
  const rows = await db.$queryRaw<Array<{ id: string; attr_path: string }>>`
    SELECT id::text, attr_path FROM files
    WHERE deleted_at IS NULL AND (${after}::uuid IS NULL OR id > ${after}::uuid)
    ORDER BY id LIMIT ${limit}`;
  return rows.map((r) => ({ id: r.id, attrPath: r.attr_path }));
}

/** Of these ids, those whose row is live now. */
export async function findLiveFileIds(db: Db, ids: string[]): Promise<Set<string>> {
  if (ids.length === 0) return new Set();
  const rows = await db.$queryRaw<Array<{ id: string }>>`
    SELECT id::text FROM files WHERE id = ANY(${ids}::uuid[]) AND deleted_at IS NULL`;
  return new Set(rows.map((r) => r.id));
}

export async function countFileRows(db: Db): Promise<{ fileRows: number; liveFileRows: number }> {
  const [row] = await db.$queryRaw<Array<{ total: bigint; live: bigint }>>`
    SELECT count(*)::bigint AS total, count(*) FILTER (WHERE deleted_at IS NULL)::bigint AS live FROM files`;
  return { fileRows: Number(row?.total ?? 0n), liveFileRows: Number(row?.live ?? 0n) };
}
