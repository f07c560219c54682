// The index consistency report (SPEC §10, GET /api/v1/index/consistency): attr.json files against file rows,
// with the orphans on each side. Reads only; commits go on meanwhile, so every orphan is checked again at the end.
import type { ConsistencyReport } from '../../contract/cluster.js';
import type { Db } from '../records/database.js';
import { countFileRows, findFileIdsWithRow, findLiveFileIds, pageLiveFileRows } from '../records/index-consistency.js';
import { findFileIdsWithPendingWal } from '../records/wal.js';
import { fileIdOfAttrPath, type AttrStore } from '../storage/attr-files.js';
import { mapLimit } from './index-rebuild-attrs.js';

const BATCH = 500;
const EXAMPLES = 10;

export interface ConsistencyDeps {
  db: Db;
  attrStore: AttrStore;
}

interface Orphan {
  fileId: string;
  attrPath: string;
}

/** One attr file as far as the report cares: its id, and whether it records a live file. */
async function readAttr(attrStore: AttrStore, attrPath: string): Promise<{ fileId: string; live: boolean } | null> {
  const fileId = fileIdOfAttrPath(attrPath);
  const record = await attrStore.read(attrPath).catch(() => null);
  if (!fileId || !record || typeof record !== 'object') return null;
  return { fileId, live: !('deletedAt' in record) || record.deletedAt === undefined || record.deletedAt === null };
}

/**
 * Walks every attr file (the ids it names are kept: about 100 bytes each) and then every live row. An attr file
 * of a live file without any row, and a live row whose id no attr file names, are orphans, unless a job is
 * committing that file (pending WAL entry) or a second look at the end finds the other side (a file committed
 * during the walk). A tombstone without a row is normal (its blob was collected) and a deleted row is not
 * counted: the delete job writes its tombstone.
 */
export async function checkIndexConsistency(deps: ConsistencyDeps): Promise<ConsistencyReport> {
  const { db, attrStore } = deps;
  const attrIds = new Set<string>();
  const orphanAttrs: Orphan[] = [];
  let attrFiles = 0;
  let liveAttrFiles = 0;
  let unreadable = 0;
  const flush = async (paths: string[]) => {
    const read = await mapLimit(paths, 32, async (p) => ({ attrPath: p, attr: await readAttr(attrStore, p) }));
    const withRow = await findFileIdsWithRow(db, read.flatMap((r) => (r.attr ? [r.attr.fileId] : [])));
    for (const { attrPath, attr } of read) {
      attrFiles += 1;
      if (!attr) {
        unreadable += 1;
        continue;
      }
      attrIds.add(attr.fileId);
      if (!attr.live) continue;
      liveAttrFiles += 1;
      if (!withRow.has(attr.fileId)) orphanAttrs.push({ fileId: attr.fileId, attrPath });
    }
  };
  let batch: string[] = [];
  for await (const attrPath of attrStore.list()) {
    batch.push(attrPath);
    if (batch.length >= BATCH) {
      await flush(batch);
      batch = [];
    }
  }
  await flush(batch);

  const orphanRows: Orphan[] = [];
  for (let after: string | null = null; ; ) {
    const page = await pageLiveFileRows(db, after, 5_000);
    for (const row of page) if (!attrIds.has(row.id)) orphanRows.push({ fileId: row.id, attrPath: row.attrPath });
    if (page.length < 5_000) break;
    after = page[page.length - 1]!.id;
  }
  const confirmedAttrs = await confirmOrphanAttrs(db, orphanAttrs);
  const confirmedRows = await confirmOrphanRows(deps, orphanRows);
  const counts = await countFileRows(db);
  return {
    attrFiles,
    liveAttrFiles,
    unreadableAttrFiles: unreadable,
    ...counts,
    orphanAttrFiles: { count: confirmedAttrs.length, examples: confirmedAttrs.slice(0, EXAMPLES) },
    orphanFileRows: { count: confirmedRows.length, examples: confirmedRows.slice(0, EXAMPLES) },
    isConsistent: confirmedAttrs.length === 0 && confirmedRows.length === 0 && unreadable === 0,
  };
}

/** Without the files a job is committing now, in batches. */
async function notInFlight(db: Db, orphans: Orphan[]): Promise<Orphan[]> {
  const kept: Orphan[] = [];
  for (let i = 0; i < orphans.length; i += BATCH) {
    const slice = orphans.slice(i, i + BATCH);
    const inFlight = new Set(await findFileIdsWithPendingWal(db, slice.map((o) => o.fileId)));
    kept.push(...slice.filter((o) => !inFlight.has(o.fileId)));
  }
  return kept;
}

/** Attr orphans whose file still has no row now. */
async function confirmOrphanAttrs(db: Db, orphans: Orphan[]): Promise<Orphan[]> {
  const kept: Orphan[] = [];
  for (let i = 0; i < orphans.length; i += BATCH) {
    const slice = orphans.slice(i, i + BATCH);
    const withRow = await findFileIdsWithRow(db, slice.map((o) => o.fileId));
    kept.push(...slice.filter((o) => !withRow.has(o.fileId)));
  }
  return notInFlight(db, kept);
}

/** Row orphans still live and still without their attr file now. */
async function confirmOrphanRows(deps: ConsistencyDeps, orphans: Orphan[]): Promise<Orphan[]> {
  const kept: Orphan[] = [];
  for (let i = 0; i < orphans.length; i += BATCH) {
    const slice = orphans.slice(i, i + BATCH);
    const live = await findLiveFileIds(deps.db, slice.map((o) => o.fileId));
    const present = await mapLimit(slice, 32, async (o) => (await deps.attrStore.read(o.attrPath).catch(() => null)) !== null);
    kept.push(...slice.filter((o, j) => live.has(o.fileId) && !present[j]));
  }
  return notInFlight(deps.db, kept);
}
