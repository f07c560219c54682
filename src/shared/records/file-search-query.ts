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
  // No GIN bitmap in the plan: the planner finds the conditions too common for their index, so they are walked.
  const indexEntries = gin.length > 0 ? gin.reduce((sum, n) => sum + n['Plan Rows'], 0) : Number.MAX_SAFE_INTEGER;
  return { matches: plan['Plan Rows'], indexEntries };
}

/** The table as the planner's statistics see it: its rows, and how closely each sort column follows the heap. */
export interface TableShape {
  rows: number;
  /** pg_stats.correlation, -1 to 1: near 1 or -1 a walk of that column's index reads the heap in order. */
  correlation: Record<FileSortField, number>;
}

// Microseconds, measured at 1,000,000 rows (bench seed; pages in shared buffers or the OS cache, a loaded 2-core box):
// a walk in heap order (created_at): 173,000 rows in 113 ms, 60,000 in 97 ms;
const WALK_ROW_IN_ORDER_US = 1;
// a walk across the heap (size, file name): 18,000 rows in 137 ms;
const WALK_ROW_SCATTERED_US = 7;
// a GIN posting collected into a bitmap: 2 x 50,000 of a tag pair in 6.5 ms, 'finance' (50,000) in 8 ms;
const GIN_ENTRY_US = 0.15;
// a match read from the heap, tested and sorted: a phrase's 2,488 candidates in 5-10 ms, 2,800 rows of q+tag in 22 ms.
const MATCH_ROW_US = 5;
// The planner counts a phrase's matches as the rows holding all its words: "annual report" 3,353 estimated, 2,488
// such rows, 295 with the words adjacent. A walk finds the adjacent ones only.
const PHRASE_OVERESTIMATE = 8;

/**
 * How to run a query (PostgreSQL's planner alone gets the text searches wrong both ways; its cost model counts a
 * bitmap's heap page as 4 of the walk's and walked 173,000 rows for a page of the 295-match phrase):
 * - a walk of the sort's index visits about rows x table / matches rows, reading each from the heap to test it;
 * - matches first collects each GIN term's postings into bitmaps, combines them, reads every match from the heap
 *   and sorts them.
 * The cheaper by the costs above wins: at 1,000,000 rows and a page of 50 a single term goes first below about
 * 3,000 matches, and two common terms that are rare together (q=invoice&tag=finance: 105,000 postings for 2,800
 * matches) are walked in created_at order but read first for a size order, which scatters the walk over the heap.
 * The estimate is the planner's (the tsvector and array statistics are good within 2-3x), and an underestimate is
 * caught by the cap: a query that reads `cap` matches is not finished that way but walked.
 */
export function chooseFileSearchPlan(query: FileSearchQuery, estimate: MatchEstimate, table: TableShape): FileSearchPlan {
  if (!hasIndexedMatch(query)) return { kind: 'ordered', sql: fileSearchSql(query) };
  const order = Math.min(1, Math.abs(table.correlation[query.order.field] ?? 0));
  const walkRowUs = WALK_ROW_IN_ORDER_US * order + WALK_ROW_SCATTERED_US * (1 - order);
  const walkMatches = Math.max(1, query.q?.includes('"') ? estimate.matches / PHRASE_OVERESTIMATE : estimate.matches);
  const walkUs = ((query.rows * Math.max(table.rows, 1)) / walkMatches) * walkRowUs;
  const matchesFirstUs = GIN_ENTRY_US * estimate.indexEntries + MATCH_ROW_US * estimate.matches;
  if (matchesFirstUs >= walkUs) return { kind: 'ordered', sql: fileSearchSql(query) };
  const cap = Math.max(2000, Math.ceil(4 * estimate.matches));
  return { kind: 'matches-first', sql: fileSearchMatchesFirstSql(query, cap), cap };
}

// The table's shape changes slowly against a search's cost: read from the catalogue at most once a minute per pool.
const TABLE_TTL_MS = 60_000;
const tables = new WeakMap<pg.Pool, { shape: TableShape; at: number }>();
const SORT_FIELDS: Record<string, FileSortField> = { created_at: 'createdAt', size: 'size', file_name: 'fileName' };

async function filesTable(pool: pg.Pool): Promise<TableShape> {
  const cached = tables.get(pool);
  if (cached && Date.now() - cached.at < TABLE_TTL_MS) return cached.shape;
  // reltuples: the last VACUUM or ANALYZE's count (-1 before the first one); no statistics yet: correlation 0.
  const { rows } = await pool.query<{ n: number; attname: string | null; correlation: number | null }>(
    `SELECT greatest(c.reltuples, 0)::float8 AS n, s.attname, s.correlation FROM pg_class c
       LEFT JOIN pg_stats s ON s.schemaname = current_schema() AND s.tablename = 'files' AND s.attname IN ('created_at', 'size', 'file_name')
      WHERE c.oid = 'files'::regclass`,
  );
  const shape: TableShape = { rows: Number(rows[0]?.n ?? 0), correlation: { createdAt: 0, size: 0, fileName: 0 } };
  for (const row of rows) {
    const field = row.attname ? SORT_FIELDS[row.attname] : undefined;
    if (field) shape.correlation[field] = row.correlation ?? 0;
  }
  tables.set(pool, { shape, at: Date.now() });
  return shape;
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
  if (!hasIndexedMatch(query)) return { kind: 'ordered', sql: fileSearchSql(query) };
  const [estimate, table] = await Promise.all([matchEstimate(pool, query), filesTable(pool)]);
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
