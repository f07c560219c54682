// The SQL of a file search (domain/file-search.ts decides what a request means): filters, full text, sort orders
// and keyset positions over the live files, run on the pg pool.
import type pg from 'pg';
import { poolOf, Prisma, type Db } from './database.js';
import { fileColumns, type FileRow } from './files.js';

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

function filterConditions(filters: FileFilters): Prisma.Sql[] {
  const where: Prisma.Sql[] = [Prisma.sql`deleted_at IS NULL`];
  if (filters.q !== undefined) where.push(Prisma.sql`search_vector @@ ${textQuery(filters.q)}`);
  if (filters.fileName !== undefined) where.push(Prisma.sql`file_name ILIKE ${`%${likeLiteral(filters.fileName)}%`}`);
  if (filters.contentType !== undefined) {
    // "image/*" -> starts with "image/" (^@, served by the SP-GiST index like =).
    where.push(
      filters.contentType.endsWith('/*')
        ? Prisma.sql`content_type ^@ ${filters.contentType.slice(0, -1)}`
        : Prisma.sql`content_type = ${filters.contentType}`,
    );
  }
  if (filters.tags !== undefined && filters.tags.length > 0) where.push(Prisma.sql`tags @> ${filters.tags}::text[]`);
  if (filters.owner !== undefined) where.push(Prisma.sql`owner = ${filters.owner}`);
  if (filters.minSize !== undefined) where.push(Prisma.sql`size >= ${filters.minSize}::bigint`);
  if (filters.maxSize !== undefined) where.push(Prisma.sql`size <= ${filters.maxSize}::bigint`);
  if (filters.createdFrom !== undefined) where.push(Prisma.sql`created_at >= ${filters.createdFrom.toISOString()}::timestamptz`);
  if (filters.createdTo !== undefined) where.push(Prisma.sql`created_at < ${filters.createdTo.toISOString()}::timestamptz`);
  if (filters.sha256 !== undefined) where.push(Prisma.sql`sha256 = ${filters.sha256}::bpchar`);
  return where;
}

/** The conditions of a query: its filters and, on a later page, the keyset position. */
function queryConditions(query: FileSearchQuery): Prisma.Sql[] {
  const where = filterConditions(query);
  if (query.after !== undefined) {
    const { column, value } = SORT_COLUMNS[query.order.field];
    const key = value(query.after.key);
    // A row comparison, so the index on (key, id) seeks straight to the first row after the position.
    where.push(
      query.order.descending
        ? Prisma.sql`(${column}, id) < (${key}, ${query.after.id}::uuid)`
        : Prisma.sql`(${column}, id) > (${key}, ${query.after.id}::uuid)`,
    );
  }
  return where;
}

/**
 * The SQL of one search query as the planner orders it: for a common match, a walk of the sort's index that stops
 * after `rows` rows. Exported for EXPLAIN (test/shared/search-plan.test.ts).
 */
export function fileSearchSql(query: FileSearchQuery): Prisma.Sql {
  const { column } = SORT_COLUMNS[query.order.field];
  const direction = query.order.descending ? Prisma.sql`DESC` : Prisma.sql`ASC`;
  return Prisma.sql`SELECT ${COLUMNS} FROM files
    WHERE ${Prisma.join(queryConditions(query), ' AND ')}
    ORDER BY ${column} ${direction}, id ${direction}
    LIMIT ${query.rows}`;
}

/**
 * The SQL of one search query, matches first: at most `cap` matching rows (found through the GIN index of the text,
 * trigram or tag condition, since no order is asked of them), then the top `rows` of them sorted. Each row also
 * carries how many matches were read ("matchCount"): `cap` of them means there may be more, and the page is not
 * complete. Exported for EXPLAIN.
 */
export function fileSearchMatchesFirstSql(query: FileSearchQuery, cap: number): Prisma.Sql {
  const key = Prisma.raw(`"${query.order.field}"`);
  const direction = query.order.descending ? Prisma.sql`DESC` : Prisma.sql`ASC`;
  // MATERIALIZED keeps the order and limit of the page out of the matches' plan, so the planner cannot turn it back
  // into a walk of the sort's index.
  return Prisma.sql`WITH matches AS MATERIALIZED (
      SELECT ${COLUMNS} FROM files WHERE ${Prisma.join(queryConditions(query), ' AND ')} LIMIT ${cap})
    SELECT m.*, (SELECT count(*) FROM matches)::int AS "matchCount" FROM matches m
    ORDER BY m.${key} ${direction}, m.id ${direction}
    LIMIT ${query.rows}`;
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

export type FileSearchPlan = { kind: 'ordered'; sql: Prisma.Sql } | { kind: 'matches-first'; sql: Prisma.Sql; cap: number };

/** What the planner expects of a query's conditions: the rows matched, and the entries its GIN indexes yield. */
export interface MatchEstimate {
  matches: number;
  /** Row pointers the GIN bitmaps produce before they are combined (each term's own matches). */
  indexEntries: number;
}

const GIN_INDEXES = new Set(['files_search_vector_idx', 'files_file_name_idx', 'files_tags_idx']);

interface EstimatePlanNode {
  'Node Type': string;
  'Index Name'?: string;
  'Plan Rows': number;
  Plans?: EstimatePlanNode[];
}

/** The estimate in an EXPLAIN (FORMAT JSON) of matchEstimateSql. */
export function matchEstimateOf(plan: EstimatePlanNode): MatchEstimate {
  const nodes = (n: EstimatePlanNode): EstimatePlanNode[] => [n, ...(n.Plans ?? []).flatMap(nodes)];
  const gin = nodes(plan).filter((n) => n['Node Type'] === 'Bitmap Index Scan' && GIN_INDEXES.has(n['Index Name'] ?? ''));
  // No GIN bitmap in the plan: count the matches themselves as the index's work.
  const indexEntries = gin.length > 0 ? gin.reduce((sum, n) => sum + n['Plan Rows'], 0) : plan['Plan Rows'];
  return { matches: plan['Plan Rows'], indexEntries };
}

/**
 * How to run a query (PostgreSQL's planner alone gets the text searches wrong both ways):
 * - a walk of the sort's index visits about rows x table / matches rows, reading each from the heap to test it;
 * - matches first reads every match through the GIN index (and the heap), then sorts them: about matches rows,
 *   plus each GIN term's own entries, which the bitmaps collect before they are combined (0.5 us each: 56,000
 *   for 'invoice':* took 20-30 ms, so two common terms that are rare together are walked, not read first).
 * The two cost the same near matches = sqrt(rows x table): 7,000 of 1,000,000 rows for a page of 50, 22,000 of
 * 10,000,000. Below that the matches come first; the planner's own cost model, which counts a heap page from the
 * bitmap as 4 of the index walk's, walked 173,000 rows to find a page of a 295-match phrase it estimated at 3,353.
 * The estimate is the planner's (the tsvector and array statistics are good within 2-3x; a phrase counts as the
 * rows with all its words), and an underestimate is caught by the cap: a query that reads `cap` matches is not
 * finished that way but walked.
 */
export function chooseFileSearchPlan(query: FileSearchQuery, estimate: MatchEstimate, tableRows: number): FileSearchPlan {
  if (!hasIndexedMatch(query)) return { kind: 'ordered', sql: fileSearchSql(query) };
  const breakEven = Math.sqrt(query.rows * Math.max(tableRows, 1));
  if (estimate.matches > breakEven || estimate.indexEntries > 4 * breakEven) return { kind: 'ordered', sql: fileSearchSql(query) };
  const cap = Math.max(1000, Math.ceil(2 * breakEven));
  return { kind: 'matches-first', sql: fileSearchMatchesFirstSql(query, cap), cap };
}

// The table's size changes slowly against a search's cost: read from the catalogue at most once a minute per pool.
const TABLE_ROWS_TTL_MS = 60_000;
const tableRows = new WeakMap<pg.Pool, { rows: number; at: number }>();

async function filesTableRows(pool: pg.Pool): Promise<number> {
  const cached = tableRows.get(pool);
  if (cached && Date.now() - cached.at < TABLE_ROWS_TTL_MS) return cached.rows;
  // reltuples: the last VACUUM or ANALYZE's count (-1 before the first one).
  const { rows } = await pool.query<{ n: number }>(`SELECT greatest(reltuples, 0)::float8 AS n FROM pg_class WHERE oid = 'files'::regclass`);
  const n = Number(rows[0]?.n ?? 0);
  tableRows.set(pool, { rows: n, at: Date.now() });
  return n;
}

// The estimates of recent filters, per pool: a search paged through, or asked again, plans without the EXPLAIN round
// trip (0.3-1 ms, more under load). A minute old at most, as the statistics behind them change slowly.
const ESTIMATE_TTL_MS = 60_000;
const ESTIMATES_KEPT = 1000;
const estimates = new WeakMap<pg.Pool, Map<string, { estimate: MatchEstimate; at: number }>>();

function filtersKey(query: FileSearchQuery): string {
  const { order: _order, after: _after, rows: _rows, ...filters } = query;
  return JSON.stringify(filters);
}

function rememberEstimate(pool: pg.Pool, key: string, estimate: MatchEstimate): void {
  let kept = estimates.get(pool);
  if (!kept) estimates.set(pool, (kept = new Map()));
  kept.delete(key);
  kept.set(key, { estimate, at: Date.now() });
  // Map keeps insertion order: the first key is the one written longest ago.
  if (kept.size > ESTIMATES_KEPT) kept.delete(kept.keys().next().value!);
}

async function matchEstimate(pool: pg.Pool, query: FileSearchQuery): Promise<MatchEstimate> {
  const key = filtersKey(query);
  const cached = estimates.get(pool)?.get(key);
  if (cached && Date.now() - cached.at < ESTIMATE_TTL_MS) return cached.estimate;
  const explain = matchEstimateSql(query);
  const { rows } = await pool.query<{ 'QUERY PLAN': Array<{ Plan: EstimatePlanNode }> }>(explain.text, explain.values as unknown[]);
  const plan = rows[0]?.['QUERY PLAN'][0]?.Plan;
  const estimate = plan ? matchEstimateOf(plan) : { matches: 0, indexEntries: 0 };
  rememberEstimate(pool, key, estimate);
  return estimate;
}

/** The plan of one search query on this database (the planner's estimate of its matches, the table's size). */
export async function planFileSearch(pool: pg.Pool, query: FileSearchQuery): Promise<FileSearchPlan> {
  if (!hasIndexedMatch(query)) return chooseFileSearchPlan(query, { matches: 0, indexEntries: 0 }, 0);
  const [estimate, table] = await Promise.all([matchEstimate(pool, query), filesTableRows(pool)]);
  return chooseFileSearchPlan(query, estimate, table);
}

/** The rows of a search query, in its order. */
export async function selectFileSearchRows(db: Db, query: FileSearchQuery): Promise<FileRow[]> {
  // On the pool, not $queryRaw: Prisma's per-row decoding cost about 3 ms of a 5 ms search returning 51 rows.
  const pool = poolOf(db);
  const plan = await planFileSearch(pool, query);
  if (plan.kind === 'matches-first') {
    const { rows } = await pool.query<FileRow & { matchCount?: number }>(plan.sql.text, plan.sql.values as unknown[]);
    // Fewer matches than the cap: these are all of them, so their top rows are the page.
    if ((rows[0]?.matchCount ?? 0) < plan.cap) return rows.map(({ matchCount: _, ...row }) => row);
    // The estimate was low: until it is made again, these filters walk straight away.
    rememberEstimate(pool, filtersKey(query), { matches: Number.MAX_SAFE_INTEGER, indexEntries: Number.MAX_SAFE_INTEGER });
  }
  const sql = fileSearchSql(query);
  const { rows } = await pool.query<FileRow>(sql.text, sql.values as unknown[]);
  return rows;
}
