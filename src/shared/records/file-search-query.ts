// The SQL of a file search (domain/file-search.ts decides what a request means): filters, full text, sort orders
// and keyset positions over the live files, as a walk of the sort's index or matches first (file-search-plan.ts
// chooses between them and runs them on the pg pool).
import { Prisma } from './database.js';
import { fileColumns } from './files.js';
import { dayKeys, keysCondition, searchKeysOf, type SearchKeys } from './file-search-keys.js';
import type { SortSpan } from './file-search-span.js';

export type FileSortField = 'createdAt' | 'size' | 'fileName';

export interface FileFilters {
  /** Full text (websearch syntax) over file name, tags and description; the last word also matches as a prefix. */
  q?: string;
  /** Case-insensitive substring of the file name. */
  fileName?: string;
  /** Exact media type, or "type/*" for every subtype of a type. */
  contentType?: string;
  /** The file carries every one of these tags. */
  tags?: string[];
  owner?: string;
  minSize?: number;
  maxSize?: number;
  /** Inclusive. */
  createdFrom?: Date;
  /** Exclusive. */
  createdTo?: Date;
  /** Lower-case hex. */
  sha256?: string;
  /** Exclusive: temporary files expiring before this. */
  expiresBefore?: Date;
  legalHold?: boolean;
}

export interface FileSearchQuery extends FileFilters {
  order: { field: FileSortField; descending: boolean };
  /**
   * The position after which the rows start: the sort value of the last row read (in the text form a value of its
   * column takes: an ISO instant, a decimal, the name) and that row's id. The caller has checked both.
   */
  after?: { key: string; id: string };
  /** Rows to read. */
  rows: number;
}

// Each order is served by an index that ends in id (files_created_at_id_idx, files_size_id_idx,
// files_file_name_id_idx), read forwards or backwards; id breaks ties so pages never skip or repeat a row.
const SORT_COLUMNS: Record<FileSortField, { column: Prisma.Sql; value: (key: string) => Prisma.Sql }> = {
  createdAt: { column: Prisma.sql`created_at`, value: (key) => Prisma.sql`${key}::timestamptz` },
  size: { column: Prisma.sql`size`, value: (key) => Prisma.sql`${key}::bigint` },
  fileName: { column: Prisma.sql`file_name`, value: (key) => Prisma.sql`${key}::text` },
};

const COLUMNS = Prisma.raw(fileColumns());
const FILE_COLUMNS = Prisma.raw(fileColumns('f'));

/** LIKE pattern that matches the text literally (the default escape character is the backslash). */
function likeLiteral(text: string): string {
  return text.replace(/[\\%_]/g, (c) => `\\${c}`);
}

/**
 * websearch_to_tsquery of q; when q ends in a plain word (not quoted, not negated), that word also matches as a
 * prefix, so results follow what is being typed ("annual rep" finds "annual report").
 */
function textQuery(q: string): Prisma.Sql {
  const query = Prisma.sql`websearch_to_tsquery('simple', ${q})`;
  const last = q.trim().split(/\s+/).pop() ?? '';
  if (last.startsWith('-') || last.includes('"') || !/[\p{L}\p{N}]$/u.test(last)) return query;
  // The query's text form ends with its last lexeme in quotes; ':*' after it makes that lexeme a prefix. The text is
  // read back with the tsquery cast, which takes lexemes as written: to_tsquery would parse them again, and a
  // hyphenated word ('search-1a2b' <-> 'search' <-> '1a2b') would come back as that phrase twice over, matching nothing.
  return Prisma.sql`(regexp_replace((${query})::text, '''$', ''':*'))::tsquery`;
}

/**
 * The filters as conditions. `walk` hides the text, file-name and tag conditions from their GIN indexes (as
 * `(...) IS TRUE`, the same rows: NULL counts as false in WHERE either way), so the planner walks an index in order
 * and tests them on each row. Chosen when that is cheaper (file-search-plan.ts): at 10,000,000 rows the planner
 * itself combined two common bitmaps for q=invoice&tag=finance&sort=size and read the whole table (2.0-2.5 s)
 * where the walk took 168 ms.
 */
function filterConditions(filters: FileFilters, walk = false, keys?: SearchKeys): Prisma.Sql[] {
  const where: Prisma.Sql[] = [Prisma.sql`deleted_at IS NULL`];
  const gin = (condition: Prisma.Sql, keyed = false) => (walk || keyed ? Prisma.sql`(${condition}) IS TRUE` : condition);
  if (filters.q !== undefined) where.push(gin(Prisma.sql`search_vector @@ ${textQuery(filters.q)}`, keys?.q));
  if (filters.fileName !== undefined) where.push(gin(Prisma.sql`file_name ILIKE ${`%${likeLiteral(filters.fileName)}%`}`));
  if (filters.contentType !== undefined) {
    // "image/*" -> starts with "image/" (^@, served by the SP-GiST index like =), and its type is "image": the
    // expression of files_content_major_created_at_id_idx, which lists a type's files newest first.
    const type = contentTypeKey(filters);
    if (type?.major) where.push(Prisma.sql`content_type ^@ ${`${type.value}/`}`);
    // As a range of one value, not `=`: the planner drops a sort column equal to a constant from the order it
    // needs, and then walks the created_at index (see walkOrder).
    if (type) where.push(Prisma.sql`${type.column} >= ${type.value} AND ${type.column} <= ${type.value}`);
  }
  if (filters.tags !== undefined && filters.tags.length > 0) where.push(gin(Prisma.sql`tags @> ${filters.tags}::text[]`, keys?.tags));
  if (filters.owner !== undefined) where.push(Prisma.sql`owner = ${filters.owner}`);
  if (filters.minSize !== undefined) where.push(Prisma.sql`size >= ${filters.minSize}::bigint`);
  if (filters.maxSize !== undefined) where.push(Prisma.sql`size <= ${filters.maxSize}::bigint`);
  if (filters.createdFrom !== undefined) where.push(Prisma.sql`created_at >= ${filters.createdFrom.toISOString()}::timestamptz`);
  if (filters.createdTo !== undefined) where.push(Prisma.sql`created_at < ${filters.createdTo.toISOString()}::timestamptz`);
  if (filters.sha256 !== undefined) where.push(Prisma.sql`sha256 = ${filters.sha256}::bpchar`);
  if (filters.expiresBefore !== undefined) where.push(Prisma.sql`expires_at < ${filters.expiresBefore.toISOString()}::timestamptz`);
  if (filters.legalHold !== undefined) where.push(Prisma.sql`legal_hold = ${filters.legalHold}`);
  return where;
}

/**
 * A contentType filter as the leading column of its index by creation time: the exact type
 * (files_content_type_created_at_id_idx), or for "type/*" the type before the slash
 * (files_content_major_created_at_id_idx, an expression index; the contract allows no slash in a type).
 */
function contentTypeKey(filters: FileFilters): { column: Prisma.Sql; value: string; major: boolean } | undefined {
  if (filters.contentType === undefined) return undefined;
  return filters.contentType.endsWith('/*')
    ? { column: Prisma.sql`split_part(content_type, '/', 1)`, value: filters.contentType.slice(0, -2), major: true }
    : { column: Prisma.sql`content_type`, value: filters.contentType, major: false };
}

/**
 * The columns a walk orders by: the sort's column and id, led by the content type when the filter names one and the
 * sort is by creation time (and no owner, whose index leads the same way). Equal on every row, the leading column
 * leaves the order as it is but makes it one only the type's index yields, so the planner walks that index, which
 * holds the type's files alone; by created_at it would test each file's type on its heap row, and it cannot know
 * when the newest files are all of other types (a full bench run's uploads).
 */
function walkOrder(query: FileSearchQuery): { lead?: { column: Prisma.Sql; value: Prisma.Sql }; column: Prisma.Sql } {
  const { column } = SORT_COLUMNS[query.order.field];
  const type = contentTypeKey(query);
  if (!type || query.order.field !== 'createdAt' || query.owner !== undefined) return { column };
  return { lead: { column: type.column, value: Prisma.sql`${type.value}` }, column };
}

/** The conditions of a query: its filters and, on a later page, the keyset position. */
function queryConditions(query: FileSearchQuery, walk = false, keys?: SearchKeys): Prisma.Sql[] {
  const where = filterConditions(query, walk, keys);
  if (query.after !== undefined) {
    const { lead, column } = walkOrder(query);
    const key = SORT_COLUMNS[query.order.field].value(query.after.key);
    // A row comparison, so the index on ([lead,] key, id) seeks straight to the first row after the position.
    const left = lead ? Prisma.sql`(${lead.column}, ${column}, id)` : Prisma.sql`(${column}, id)`;
    const right = lead ? Prisma.sql`(${lead.value}, ${key}, ${query.after.id}::uuid)` : Prisma.sql`(${key}, ${query.after.id}::uuid)`;
    where.push(query.order.descending ? Prisma.sql`${left} < ${right}` : Prisma.sql`${left} > ${right}`);
  }
  return where;
}

/**
 * The SQL of one search query in its order: a walk of the sort's index (or of another B-tree a filter narrows, such
 * as owner's) that stops after `rows` rows, testing the GIN conditions on each row. Exported for EXPLAIN
 * (test/shared/search-plan.test.ts).
 */
export function fileSearchSql(query: FileSearchQuery): Prisma.Sql {
  const { lead, column } = walkOrder(query);
  const direction = query.order.descending ? Prisma.sql`DESC` : Prisma.sql`ASC`;
  return Prisma.sql`SELECT ${COLUMNS} FROM files
    WHERE ${Prisma.join(queryConditions(query, true), ' AND ')}
    ORDER BY ${lead ? Prisma.sql`${lead.column} ${direction}, ` : Prisma.empty}${column} ${direction}, id ${direction}
    LIMIT ${query.rows}`;
}

/**
 * The SQL of one search query, matches first: at most `cap` matching rows (found through the GIN index of the text,
 * trigram or tag condition, since no order is asked of them), then the top `rows` of them sorted. Each row also
 * carries how many matches were read ("matchCount"): `cap` of them means there may be more, and the page is not
 * complete; within a span, fewer than `rows` mean the same. Exported for EXPLAIN.
 */
export function fileSearchMatchesFirstSql(query: FileSearchQuery, cap: number, span?: SortSpan): Prisma.Sql {
  const { column, value } = SORT_COLUMNS[query.order.field];
  const direction = query.order.descending ? Prisma.sql`DESC` : Prisma.sql`ASC`;
  // With keys (file-search-keys.ts) the files are found by them alone, in one GIN scan; the text and tag conditions
  // are tested on each file found. A span (file-search-span.ts) bounds the sort column on the far side, so its index's
  // bitmap is combined with the GIN one before any row is read.
  const keys = searchKeysOf(query);
  const where = [...queryConditions(query, false, keys), ...(keys ? [keysCondition(keys)] : [])];
  if (span) where.push(query.order.descending ? Prisma.sql`${column} >= ${value(span.bound)}` : Prisma.sql`${column} <= ${value(span.bound)}`);
  // MATERIALIZED keeps the order and limit of the page out of the matches' plan, so the planner cannot turn it back
  // into a walk of the sort's index. The matches carry their id and sort value alone, and only the page's rows are
  // read whole (by primary key): 2,785 matches of q=invoice&tag=finance sorted by size in 12-14 ms, against 30 with
  // every column of each match kept and sorted.
  return Prisma.sql`WITH matches AS MATERIALIZED (
      SELECT id, ${column} AS k FROM files WHERE ${Prisma.join(where, ' AND ')} LIMIT ${cap}),
    page AS (SELECT id, k FROM matches ORDER BY k ${direction}, id ${direction} LIMIT ${query.rows})
    SELECT ${FILE_COLUMNS}, (SELECT count(*) FROM matches)::int AS "matchCount" FROM page p JOIN files f ON f.id = p.id
    ORDER BY p.k ${direction}, p.id ${direction}`;
}

/**
 * The SQL of a first page in a creation-time order, read from the files created at or after `bound` (at or before,
 * oldest first) alone: newest first with keys (file-search-keys.ts), the keys and the span's days' keys in one GIN
 * scan; otherwise the bitmaps of the GIN conditions and of that span of the created_at index, combined. Either way
 * the span's files that do not match cost an index entry each and no heap read (file-search-window.ts). When the
 * span holds `rows` rows, they are the page: every file before the bound in the order is in it.
 */
export function fileSearchWindowSql(query: FileSearchQuery, bound: Date, now = new Date()): Prisma.Sql {
  const direction = query.order.descending ? Prisma.sql`DESC` : Prisma.sql`ASC`;
  const edge = query.order.descending
    ? Prisma.sql`created_at >= ${bound.toISOString()}::timestamptz`
    : Prisma.sql`created_at <= ${bound.toISOString()}::timestamptz`;
  const keys = searchKeysOf(query);
  const days = keys && query.order.descending ? windowDays(bound, now) : undefined;
  // With keys, newest first, over a few days: the keys and the days' keys in one GIN scan, the span's edge and the
  // search's own conditions tested on the files found. Otherwise the GIN bitmaps and the created_at span, combined.
  // The days end tomorrow by this clock; a file created later (another host's clock ahead, an index rebuilt from
  // attr files written elsewhere) holds none of their keys, so the files after them are read from the created_at
  // index as well (none, as a rule: one index probe).
  const after = days ? Prisma.sql`created_at >= ${new Date(days.end).toISOString()}::timestamptz` : undefined;
  const where = days
    ? [...queryConditions(query, false, keys), Prisma.sql`(${keysCondition(keys!, days.keys)} OR ${after!})`, Prisma.sql`(${edge}) IS TRUE`]
    : [...queryConditions(query), edge];
  // MATERIALIZED keeps the page's order and limit out of the span's plan, as in fileSearchMatchesFirstSql.
  return Prisma.sql`WITH span AS MATERIALIZED (
      SELECT ${COLUMNS} FROM files WHERE ${Prisma.join(where, ' AND ')})
    SELECT * FROM span ORDER BY "createdAt" ${direction}, id ${direction}
    LIMIT ${query.rows}`;
}

// A window newest first asks for the keys of the days from its bound's to tomorrow's, when that is at most this many
// days; a longer one uses the created_at span.
const MAX_WINDOW_DAYS = 31;
const DAY_MS = 86_400_000;

/** The day keys of a window from `bound` to tomorrow, and the instant their last day ends (ms). */
function windowDays(bound: Date, now: Date): { keys: string[]; end: number } | undefined {
  const tomorrow = new Date(now.getTime() + DAY_MS);
  const keys = dayKeys(bound, tomorrow);
  const end = (Math.floor(tomorrow.getTime() / DAY_MS) + 1) * DAY_MS;
  return keys.length > 0 && keys.length <= MAX_WINDOW_DAYS ? { keys, end } : undefined;
}

/** How many files (up to cap) a walk in creation-time order passes before `bound`: index entries only. */
export function walkedRowsSql(query: FileSearchQuery, bound: Date, cap: number): Prisma.Sql {
  const edge = query.order.descending
    ? Prisma.sql`created_at >= ${bound.toISOString()}::timestamptz`
    : Prisma.sql`created_at <= ${bound.toISOString()}::timestamptz`;
  return Prisma.sql`SELECT count(*)::int AS n FROM (SELECT 1 FROM files WHERE ${edge} LIMIT ${cap}) walked`;
}

/**
 * The planner's estimate of the rows the filters match (EXPLAIN of the conditions alone: planning, no execution).
 * Without the keyset position: a later page matches at most as many, so its pages follow the first page's plan.
 */
export function matchEstimateSql(filters: FileFilters): Prisma.Sql {
  return Prisma.sql`EXPLAIN (FORMAT JSON) SELECT 1 FROM files WHERE ${Prisma.join(filterConditions(filters), ' AND ')}`;
}

/** Whether the query has a condition only a GIN index serves: full text, file name substring or tags. */
export function hasIndexedMatch(filters: FileFilters): boolean {
  return filters.q !== undefined || filters.fileName !== undefined || (filters.tags !== undefined && filters.tags.length > 0);
}
