// File search and listing (SPEC §5): sort orders, keyset cursors and the meaning of a search request over the
// live files (the SQL is records/file-search-query.ts, the choice of plan records/file-search-plan.ts).
import { AppError } from '../errors.js';
import { unstorableTextReason } from '../../contract/text.js';
import { type FileMetadata } from '../../contract/files.js';
import { isStorableInstant, type FileSort } from '../../contract/file-search.js';
import { toFileMetadata, type FileRow } from '../records/files.js';
import { type FileFilters, type FileSearchQuery, type FileSortField } from '../records/file-search-query.js';
import { selectFileSearchRows } from '../records/file-search-plan.js';
import type { Db } from '../records/database.js';
import { LOWER_UUID } from '../../contract/ids.js';


export interface FileSearch extends FileFilters {
  sort: FileSort;
  limit: number;
  /** nextCursor of the previous page, made with the same sort. */
  cursor?: string;
}

export interface FilePage {
  items: FileMetadata[];
  nextCursor: string | null;
}

interface SortKey {
  field: FileSortField;
  descending: boolean;
  /** The row's sort value as the cursor keeps it. */
  keyOf(row: FileRow): string;
  /** Whether a cursor's sort value is one a row of this code can have (and PostgreSQL can take as the column's type). */
  isKey(raw: string): boolean;
}

const ISO_INSTANT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
const MAX_BIGINT = 2n ** 63n - 1n;

/** A cursor's createdAt as this code wrote it: a round trip of toISOString (2026-02-30 would roll over). */
function isInstantKey(raw: string): boolean {
  if (!ISO_INSTANT.test(raw)) return false;
  const date = new Date(raw);
  return isStorableInstant(date) && date.toISOString() === raw;
}

const createdAt = (descending: boolean): SortKey => ({
  field: 'createdAt',
  descending,
  keyOf: (row) => row.createdAt.toISOString(),
  isKey: isInstantKey,
});
const size = (descending: boolean): SortKey => ({
  field: 'size',
  descending,
  keyOf: (row) => String(row.size),
  isKey: (raw) => /^\d{1,19}$/.test(raw) && BigInt(raw) <= MAX_BIGINT,
});

const SORTS: Record<FileSort, SortKey> = {
  createdAt: createdAt(false),
  '-createdAt': createdAt(true),
  size: size(false),
  '-size': size(true),
  fileName: {
    field: 'fileName',
    descending: false,
    keyOf: (row) => row.fileName,
    // Text PostgreSQL refuses (NUL), or that no row this code wrote can hold, is not one of our cursors.
    isKey: (raw) => !unstorableTextReason(raw),
  },
};

function invalidCursor(reason: string): never {
  throw new AppError('validation_failed', `query parameter 'cursor': ${reason}`, { parameter: 'cursor' });
}

/** Opaque to clients: base64url of {"s": sort, "k": sort value of the last row, "id": its id}. */
export function encodeCursor(sort: FileSort, key: string, id: string): string {
  return Buffer.from(JSON.stringify({ s: sort, k: key, id })).toString('base64url');
}

function decodeCursor(raw: string, sort: FileSort): { key: string; id: string } {
  let value: unknown;
  try {
    if (!/^[A-Za-z0-9_-]+$/.test(raw)) throw new Error('not base64url');
    value = JSON.parse(Buffer.from(raw, 'base64url').toString('utf8'));
  } catch {
    return invalidCursor('not a cursor of this listing; pass nextCursor of the previous page unchanged');
  }
  const { s, k, id } = (value ?? {}) as Record<string, unknown>;
  if (typeof s !== 'string' || typeof k !== 'string' || typeof id !== 'string' || !LOWER_UUID.test(id)) {
    return invalidCursor('not a cursor of this listing; pass nextCursor of the previous page unchanged');
  }
  if (s !== sort) return invalidCursor(`the cursor belongs to sort '${s}', not '${sort}'; keep the sort while paging`);
  if (!SORTS[sort].isKey(k)) return invalidCursor('not a cursor of this listing; pass nextCursor of the previous page unchanged');
  return { key: k, id };
}

/**
 * The query of one page: limit + 1 rows (the extra one tells whether a next page exists), after the cursor's
 * row. 400 validation_failed for a cursor this listing did not make.
 */
export function toFileSearchQuery(search: FileSearch): FileSearchQuery {
  const { sort, limit, cursor, ...filters } = search;
  const { field, descending } = SORTS[sort];
  return {
    ...filters,
    order: { field, descending },
    ...(cursor !== undefined ? { after: decodeCursor(cursor, sort) } : {}),
    rows: limit + 1,
  };
}

/** One page of live files matching the search, in the sort's order, with the cursor of the next page (or null). */
export async function searchFiles(db: Db, search: FileSearch): Promise<FilePage> {
  const rows = await selectFileSearchRows(db, toFileSearchQuery(search));
  const page = rows.slice(0, search.limit);
  const last = page.at(-1);
  const nextCursor = rows.length > search.limit && last ? encodeCursor(search.sort, SORTS[search.sort].keyOf(last), last.id) : null;
  return { items: page.map(toFileMetadata), nextCursor };
}
