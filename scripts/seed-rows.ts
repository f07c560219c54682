// The rows seed-files.ts loads, as COPY text lines: plausible File rows and their Blob rows, every column derived
// from the row number (and a salt per run, so runs never collide) through hashes.
import { createHash } from 'node:crypto';

export const WORDS = [
  'annual', 'report', 'invoice', 'contract', 'budget', 'scan', 'photo', 'meeting', 'minutes', 'draft', 'final',
  'summary', 'archive', 'letter', 'plan', 'design', 'spec', 'memo', 'receipt', 'statement', 'proposal', 'catalogue',
  'inventory', 'portrait', 'landscape', 'sketch', 'manuscript', 'map', 'diagram', 'ledger', 'exhibition', 'loan',
  'restoration', 'condition', 'provenance', 'insurance', 'shipping', 'frame', 'canvas', 'bronze', 'ceramic', 'print',
  'etching', 'fresco', 'tapestry', 'gallery', 'museum', 'auction', 'appraisal', 'donation', 'acquisition', 'label',
  'poster', 'brochure', 'press', 'release', 'audit', 'payroll', 'schedule',
];
export const TAGS = [
  'finance', 'legal', 'hr', 'press', 'archive', 'draft', 'final', 'scan', 'photo', 'confidential', 'public', 'museum',
  'restoration', 'loan', 'exhibition', 'insurance', 'q1', 'q2', 'q3', 'q4', '2024', '2025', '2026', 'catalogue',
  'conservation', 'acquisition', 'shipping', 'board', 'grant', 'education',
];
// [content type, extension]; repeats weight the mix towards PDFs and images, as an archive's would be.
const TYPES: Array<[string, string]> = [
  ['application/pdf', 'pdf'], ['application/pdf', 'pdf'], ['application/pdf', 'pdf'], ['image/jpeg', 'jpg'],
  ['image/jpeg', 'jpg'], ['image/png', 'png'], ['image/tiff', 'tif'], ['text/plain', 'txt'], ['text/csv', 'csv'],
  ['application/vnd.openxmlformats-officedocument.spreadsheetml.sheet', 'xlsx'],
  ['application/vnd.openxmlformats-officedocument.wordprocessingml.document', 'docx'], ['application/zip', 'zip'],
  ['video/mp4', 'mp4'], ['audio/mpeg', 'mp3'],
];
export const OWNERS = [
  'alice', 'bob', 'carol', 'dave', 'erin', 'frank', 'grace', 'heidi', 'ivan', 'judy', 'mallory', 'niaj', 'olivia',
  'peggy', 'rupert', 'sybil', 'trent', 'victor', 'walter', 'wendy', 'svc-scanner', 'svc-import', 'svc-migration',
  'curator-1', 'curator-2', 'registrar', 'photographer', 'conservator', 'archivist', 'press-office',
];

export interface RowSpace {
  /** A number per run, so two runs' rows never collide. */
  salt: number;
  /** Rows in the whole seed: created_at spreads them over the two years before `now`. */
  count: number;
  now: number;
  owners: readonly string[];
  elementId: string;
  /** Run-unique text mixed into each blob's sha256. */
  saltText: string;
}

/** A 32-bit hash of (n, k) under a salt (murmur3's finaliser over a mix of the three). */
function hash(n: number, k: number, salt: number): number {
  let h = (Math.imul(n, 0x9e3779b1) ^ Math.imul(k + 1, 0x85ebca77) ^ salt) >>> 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

const DAY_MS = 24 * 3600 * 1000;
const hex = (n: number, digits: number) => n.toString(16).padStart(digits, '0').slice(-digits);

/** The blob a file row refers to: one in 25 files reuses the previous file's blob (dedup). */
const blobOf = (i: number) => (i % 25 === 24 ? i - 1 : i);
const shaOf = (space: RowSpace, b: number) => createHash('sha256').update(`${space.saltText}:blob:${b}`).digest('hex');
/** 10 bytes to 1 GB, evenly spread over the orders of magnitude. */
const sizeOf = (space: RowSpace, b: number) => Math.floor(10 ** (1 + ((hash(b, 4, space.salt) & 1048575) / 1048576) * 8));

export const BLOB_COLUMNS = 'blobs (sha256, size, storage_key, ref_count)';
export const FILE_COLUMNS =
  'files (id, file_name, content_type, size, sha256, description, version, tags, metadata, owner, owner_name, element_id, created_at, updated_at, revision, attr_path)';

/** COPY lines of the blobs of files from..to-1 (each blob once, with the number of files that refer to it). */
export function* blobLines(space: RowSpace, from: number, to: number): Generator<string> {
  for (let i = from; i < to; i++) {
    if (i % 25 === 24) continue;
    const sha = shaOf(space, i);
    const refs = i % 25 === 23 && i + 1 < space.count ? 2 : 1;
    yield `${sha}\t${sizeOf(space, i)}\tblobs/${sha.slice(0, 2)}/${sha.slice(2, 4)}/${sha}\t${refs}\n`;
  }
}

/**
 * Text as a column of COPY's text format: a backslash, tab, newline or carriage return is written as its escape
 * (COPY would read them as an escape, a column or a row end). PostgreSQL text cannot hold a NUL.
 */
export function copyText(value: string): string {
  if (value.includes('\0')) throw new Error(`seed-rows: ${JSON.stringify(value)} holds a NUL, which PostgreSQL text cannot`);
  return value.replace(/[\\\t\n\r]/g, (c) => ({ '\\': '\\\\', '\t': '\\t', '\n': '\\n', '\r': '\\r' })[c]!);
}

const pick = <T>(list: readonly T[], h: number): T => list[h % list.length]!;
const initcap = (word: string) => word[0]!.toUpperCase() + word.slice(1);

/** COPY lines of files from..to-1. */
export function* fileLines(space: RowSpace, from: number, to: number): Generator<string> {
  const { salt } = space;
  // The caller's text (owners, element id), escaped once; every other column is made of the lists above.
  const owners = space.owners.map((owner) => ({ owner: copyText(owner), name: copyText(initcap(owner)) }));
  const elementId = copyText(space.elementId);
  for (let i = from; i < to; i++) {
    const r = (k: number) => hash(i, k, salt);
    const [type, ext] = pick(TYPES, r(4));
    const fileName = `${initcap(pick(WORDS, r(1)))}-${pick(WORDS, r(2))}_${r(3) % 10000}.${ext}`;
    const description = r(5) % 10 < 3 ? '\\N' : `Scanned ${pick(WORDS, r(6))} for the ${pick(WORDS, r(7))} file, batch ${Math.floor(i / 1000)}`;
    const version = r(8) % 5 === 0 ? `1.${r(9) % 5}` : '\\N';
    // 0 to 3 distinct tags.
    const first = r(11) % TAGS.length;
    const tags = [first, (first + 1 + (r(12) % 7)) % TAGS.length, (first + 8 + (r(13) % 7)) % TAGS.length].slice(0, r(10) % 4);
    const owner = pick(owners, r(14));
    // Spread over the last two years in row order, as an archive fills up (so the table is physically in upload
    // order, which the planner's correlation statistics see), with jitter, to the millisecond of the column.
    const at = Math.floor(space.now - 730 * DAY_MS * (1 - (i + (r(15) % 1000) / 1000) / space.count));
    const created = new Date(at).toISOString();
    // UUIDv7 layout (creation millisecond first): the primary key index fills at its end, as a time-ordered id would.
    const id = `${hex(at, 12)}7${hex(r(16), 3)}8${hex(r(17), 7)}${hex(r(18), 8)}`;
    const uuid = `${id.slice(0, 8)}-${id.slice(8, 12)}-${id.slice(12, 16)}-${id.slice(16, 20)}-${id.slice(20)}`;
    const b = blobOf(i);
    const path = `files/${created.slice(0, 4)}/${created.slice(5, 7)}/${created.slice(8, 10)}/${created.slice(11, 13)}/${uuid}.attr.json`;
    yield `${uuid}\t${fileName}\t${type}\t${sizeOf(space, b)}\t${shaOf(space, b)}\t${description}\t${version}\t{${tags.map((t) => TAGS[t]).join(',')}}\t{"source": "seed"}\t${owner.owner}\t${owner.name}\t${elementId}\t${created}\t${created}\t1\t${path}\n`;
  }
}

/**
 * COPY lines of `count` files like the bench's other scenarios' uploads ("small.bin", no tags or description, 16 KiB,
 * one blob), created after every seeded row: what a search finds newest in a full bench run, matching none of its
 * words, tags or types.
 */
export function* unmatchedFileLines(space: RowSpace, sha: string, count: number, uploader: string): Generator<string> {
  const owner = copyText(uploader);
  const elementId = copyText(space.elementId);
  for (let j = 0; j < count; j++) {
    const at = space.now + 1 + j;
    const created = new Date(at).toISOString();
    const id = `${hex(at, 12)}7${hex(hash(j, 20, space.salt), 3)}8${hex(hash(j, 21, space.salt), 7)}${hex(hash(j, 22, space.salt), 8)}`;
    const uuid = `${id.slice(0, 8)}-${id.slice(8, 12)}-${id.slice(12, 16)}-${id.slice(16, 20)}-${id.slice(20)}`;
    yield `${uuid}\tsmall.bin\tapplication/octet-stream\t16384\t${sha}\t\\N\t\\N\t{}\t{}\t${owner}\t\\N\t${elementId}\t${created}\t${created}\t1\tfiles/unmatched/${uuid}.attr.json\n`;
  }
}
