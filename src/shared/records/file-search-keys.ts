// The keys of files_search_keys_idx (migrations 20261206160000, 20261207100000) a search asks for: keys every file
// it matches must hold, so the GIN index narrows the files to a superset of the matches in one intersection of posting lists, and
// the search's own conditions then decide each of them. Words of plain letters and their prefixes are one key each
// there (a prefix through the search document's own index expands to every lexeme starting with it: 14,700 for
// 'invoice':* at 1,000,000 files), tags are keys, and so is the day each file was created (a window of the newest
// files is then the keys of its days, not a bitmap of the created_at index), and so is each pair of adjacent words (a
// phrase is then its pairs' postings, not every file holding its words).
import { Prisma } from './database.js';
import type { FileFilters } from './file-search-query.js';

/** The function of the index, as its expression (the planner matches it to files_search_keys_idx). */
const KEYS = Prisma.sql`files_search_keys(search_vector, tags, created_at)`;
// The index holds the prefixes of 3 to 24 characters of every run of letters and digits, and tags cut to 200.
const MIN_PREFIX = 3;
const MAX_PREFIX = 24;
const MAX_TAG = 200;
const DAY_MS = 86_400_000;

// A word of a phrase is a pair key's half when it is 1 to 24 plain letters, as the index makes them.
const MAX_PAIR_WORD = 24;

/**
 * The keys every file matching q holds, or undefined when q is not a plain list of words and phrases. Only words of
 * ASCII letters, each possibly negated ("-draft"), phrases of such words in double quotes ("annual report"), with no
 * "or": websearch_to_tsquery makes that an AND of one lexeme per positive word (the word in lower case; the last one
 * a prefix) and of 'a' <-> 'b' <-> ... per phrase. A file holding such a lexeme, or one starting with it, holds a run
 * of letters and digits starting with it, so its key; a file matching a phrase holds each two adjacent words at
 * adjacent positions, so their pair key '~p<a>_<b>'. Digits are left out because the parser may split such a word in
 * two ("12e3x" is '12e3' <-> 'x'), letters-only words it keeps whole.
 */
function wordKeys(q: string): string[] | undefined {
  // Anything else (a stray quote, punctuation, a negated phrase, "or") is left to the search's own conditions.
  if (!/^\s*(?:(?:-?[A-Za-z]+|"[A-Za-z\s]*")(?:\s+|$))+$/.test(q)) return undefined;
  const keys: string[] = [];
  for (const token of q.trim().match(/"[^"]*"|\S+/g) ?? []) {
    const words = token.replace(/"/g, ' ').trim().toLowerCase().split(/\s+/).filter((w) => w.length > 0);
    if (words.includes('or') || words.includes('-or')) return undefined;
    if (token.startsWith('-')) continue;
    // A phrase's words are whole lexemes, so one word alone is a key as long as the index keeps its prefixes; two or
    // more are their pairs.
    if (words.length === 1 && words[0]!.length >= MIN_PREFIX) keys.push(words[0]!.slice(0, MAX_PREFIX));
    for (let i = 1; i < words.length; i++) {
      const [a, b] = [words[i - 1]!, words[i]!];
      if (a.length <= MAX_PAIR_WORD && b.length <= MAX_PAIR_WORD) keys.push(`~p${a}_${b}`);
    }
  }
  return keys.length > 0 ? keys : undefined;
}

/** Whether a key is a pair of adjacent words (a phrase's). */
export const isPairKey = (key: string): boolean => key.startsWith('~p');

export interface SearchKeys {
  /** The keys, each required. */
  keys: string[];
  /** Whether they stand for q's words (the q condition is then only tested on the files they find). */
  q: boolean;
  /** Whether they stand for the tags. */
  tags: boolean;
}

/** The keys a search may ask files_search_keys_idx for, or undefined when its filters give none. */
export function searchKeysOf(filters: FileFilters): SearchKeys | undefined {
  const words = filters.q !== undefined ? wordKeys(filters.q) : undefined;
  // A tag the index holds whole (a search's tags have at most 100 characters; the index keeps 200).
  const tags = (filters.tags ?? []).filter((t) => t.length > 0 && [...t].length <= MAX_TAG).map((t) => `~t${t}`);
  const tagsKeyed = tags.length > 0 && tags.length === (filters.tags ?? []).length;
  const keys = [...(words ?? []), ...(tagsKeyed ? tags : [])];
  if (keys.length === 0) return undefined;
  return { keys: [...new Set(keys)], q: words !== undefined, tags: tagsKeyed };
}

/** A lexeme as a tsquery operand, taken as written: quoted, with its quotes and backslashes escaped. */
function operand(key: string): string {
  return `'${key.replace(/['\\]/g, (c) => `${c}${c}`)}'`;
}

/** The day key of an instant: days since 1970, UTC, as the index computes it. */
export function dayKey(at: Date): string {
  return `~d${Math.floor(at.getTime() / DAY_MS)}`;
}

/** The day keys from `from`'s day to `to`'s, oldest first. */
export function dayKeys(from: Date, to: Date): string[] {
  const first = Math.floor(from.getTime() / DAY_MS);
  const last = Math.floor(to.getTime() / DAY_MS);
  return Array.from({ length: Math.max(0, last - first + 1) }, (_, i) => `~d${first + i}`);
}

/** The condition: the file's keys hold every key, and one of `anyOf` when given. */
export function keysCondition(keys: SearchKeys, anyOf?: string[]): Prisma.Sql {
  const all = keys.keys.map(operand).join(' & ');
  const text = anyOf && anyOf.length > 0 ? `${all} & ( ${anyOf.map(operand).join(' | ')} )` : all;
  return Prisma.sql`${KEYS} @@ ${text}::tsquery`;
}
