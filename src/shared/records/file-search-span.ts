// Spans of a size order for reading matches first: when a search's matches are many and spread over every size (at
// 10,000,000 files q=invoice&tag=finance has about 28,000), its page is read from the matches within a span of the
// size index that should hold a few pages of them, as a BitmapAnd of the GIN bitmap and the span's bitmap: the
// matches outside the span cost a GIN posting each, not a heap read. The span's far edge comes from the size column's
// histogram (pg_stats), assuming the matches spread over sizes as all files do; a span that holds fewer than a page
// is no page and the search reads again without it (file-search-plan.ts).
import type { FileSearchQuery } from './file-search-query.js';

// The span is sized for this many times a page of matches, so that an estimate a few times too high still fills one.
const SPAN_PAGES = 6;

/** A bound on the sort column: sizes up to `bound` (ascending) or from it (descending), and the share of files in the span. */
export interface SortSpan {
  bound: string;
  share: number;
}

/** The histogram bounds of a column (pg_stats.histogram_bounds as text, '{75,125,...}'), as numbers. */
export function histogramOf(text: string | null | undefined): number[] | undefined {
  if (!text || !/^\{[\d,]*\}$/.test(text)) return undefined;
  const bounds = text.slice(1, -1).split(',').filter((b) => b.length > 0).map(Number);
  return bounds.length >= 2 ? bounds : undefined;
}

/** The share of files below `value` by the histogram (each of its buckets holds the same share). */
function quantileOf(bounds: number[], value: number): number {
  let below = 0;
  while (below < bounds.length && bounds[below]! <= value) below++;
  return Math.min(1, Math.max(0, (below - 0.5) / (bounds.length - 1)));
}

/**
 * The span of the size order a page of `matches` spread matches should come from, from the cursor's position (the
 * first of the order without one), or undefined when it would hold most of the table or the order has none.
 */
export function sortSpanOf(query: FileSearchQuery, matches: number, bounds: number[] | undefined): SortSpan | undefined {
  if (query.order.field !== 'size' || !bounds || matches <= 0) return undefined;
  const share = (SPAN_PAGES * query.rows) / matches;
  const buckets = bounds.length - 1;
  const after = query.after ? Number(query.after.key) : undefined;
  if (!query.order.descending) {
    const from = after === undefined ? 0 : quantileOf(bounds, after);
    const to = Math.ceil((from + share) * buckets);
    return to < buckets && share < 0.5 ? { bound: String(bounds[to]), share } : undefined;
  }
  const from = after === undefined ? 1 : quantileOf(bounds, after);
  const to = Math.floor((from - share) * buckets);
  return to > 0 && share < 0.5 ? { bound: String(bounds[to]), share } : undefined;
}
