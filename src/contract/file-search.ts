// The file search and listing (SPEC §5): its query parameters, sort orders and the page it answers. Imports only
// zod and other contract files.
import { z } from 'zod';
import { fileMetadataSchema } from './files.js';

export const FILE_SORTS = ['createdAt', '-createdAt', 'size', '-size', 'fileName'] as const;
export type FileSort = (typeof FILE_SORTS)[number];
export const DEFAULT_FILE_SORT: FileSort = '-createdAt';

export const FILE_PAGE_MAX_LIMIT = 1000;
export const FILE_PAGE_DEFAULT_LIMIT = 50;
const MAX_TAGS = 50;

/** A parameter given empty (`?owner=`, as HTML forms send unused fields) counts as absent. */
export function param<T extends z.ZodType<unknown, string>>(schema: T) {
  return z
    .string()
    .transform((s) => (s === '' ? undefined : s))
    .pipe(schema.optional())
    .optional();
}

/**
 * Whether an instant can be sent to PostgreSQL as its toISOString(): years 1-9999 only. JavaScript writes year 0
 * as "0000" and earlier ones as "-000001", both of which PostgreSQL refuses (it counts 1 BC, not year 0).
 */
export function isStorableInstant(date: Date): boolean {
  const year = date.getUTCFullYear();
  return !Number.isNaN(date.getTime()) && year >= 1 && year <= 9999;
}

const wholeBytes = z
  .string()
  .regex(/^\d{1,16}$/, 'a whole number of bytes (0 or more)')
  .transform(Number)
  .refine(Number.isSafeInteger, 'a whole number of bytes (0 or more)');

// ISO 8601: a date (midnight UTC) or a date-time with Z or an offset.
export const instant = z
  .string()
  .regex(/^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2}))?$/, 'an ISO 8601 date or date-time with offset, e.g. 2026-01-31T12:00:00Z')
  // Date.parse rolls 2026-02-30 over into March: the calendar day must survive a round trip.
  .refine((s) => {
    const day = new Date(`${s.slice(0, 10)}T00:00:00Z`);
    return !Number.isNaN(day.getTime()) && day.toISOString().slice(0, 10) === s.slice(0, 10) && !Number.isNaN(Date.parse(s));
  }, 'not a valid date')
  .transform((s) => new Date(s))
  .refine(isStorableInstant, 'a date from year 1 to 9999');

// One tag, comma-separated tags or the parameter repeated (the query parser keeps repeats as an array): all must match.
const tagList = z
  .union([z.string(), z.array(z.string())])
  .transform((raw) => [...new Set((Array.isArray(raw) ? raw : [raw]).flatMap((t) => t.split(',')).map((t) => t.trim()).filter(Boolean))])
  .pipe(z.array(z.string().max(100, 'a tag has at most 100 characters')).max(MAX_TAGS, `at most ${MAX_TAGS} tags`))
  .transform((tags) => (tags.length > 0 ? tags : undefined))
  .optional();

export const fileSearchQuerySchema = z
  .object({
    q: param(z.string().max(500, 'at most 500 characters')).describe(
      'full text over file name (and its words), tags and description; web search syntax ("exact phrase", -not, or); the last word also matches as a prefix',
    ),
    fileName: param(z.string().max(255, 'at most 255 characters')).describe('case-insensitive substring of the file name'),
    contentType: param(
      z
        .string()
        .regex(/^[\w.+-]+\/([\w.+-]+|\*)$/, 'a media type such as image/png, or image/* for every image type')
        .transform((s) => s.toLowerCase()),
    ).describe('exact media type (image/png), or type/* for every subtype (image/*)'),
    tag: tagList.describe('the file has this tag; comma-separated or repeated: the file has all of them'),
    owner: param(z.string().max(255, 'at most 255 characters')).describe("the uploader's principal (token sub), exact"),
    minSize: param(wholeBytes).describe('size in bytes at least this'),
    maxSize: param(wholeBytes).describe('size in bytes at most this'),
    createdFrom: param(instant).describe('uploaded at or after this ISO 8601 date-time (inclusive)'),
    createdTo: param(instant).describe('uploaded before this ISO 8601 date-time (exclusive)'),
    sha256: param(z.string().regex(/^[0-9a-fA-F]{64}$/, 'must be 64 hex digits').transform((s) => s.toLowerCase())).describe(
      'the content checksum (64 hex digits)',
    ),
    expiresBefore: param(instant).describe('a temporary file that expires before this ISO 8601 date-time (exclusive)'),
    legalHold: param(z.enum(['true', 'false'], "'true' or 'false'").transform((v) => v === 'true')).describe(
      'true: only files under a legal hold; false: only files without one',
    ),
    sort: param(z.enum(FILE_SORTS, `one of ${FILE_SORTS.join(', ')}`))
      .describe(`order of the items, id breaking ties: ${FILE_SORTS.join(', ')} (- = descending); default ${DEFAULT_FILE_SORT}`)
      .meta({ enum: [...FILE_SORTS] }),
    limit: param(
      z
        .string()
        .regex(/^\d{1,4}$/, `an integer from 1 to ${FILE_PAGE_MAX_LIMIT}`)
        .transform(Number)
        .refine((n) => n >= 1 && n <= FILE_PAGE_MAX_LIMIT, `an integer from 1 to ${FILE_PAGE_MAX_LIMIT}`),
    ).describe(`items per page, 1-${FILE_PAGE_MAX_LIMIT}; default ${FILE_PAGE_DEFAULT_LIMIT}`),
    cursor: param(z.string().max(2048, 'not a cursor of this listing')).describe(
      'nextCursor of the previous page (opaque; valid only with the same sort)',
    ),
  })
  .strict()
  .superRefine((v, ctx) => {
    if (v.minSize !== undefined && v.maxSize !== undefined && v.minSize > v.maxSize) {
      ctx.addIssue({ code: 'custom', path: ['maxSize'], message: 'must not be less than minSize' });
    }
    if (v.createdFrom !== undefined && v.createdTo !== undefined && v.createdFrom >= v.createdTo) {
      ctx.addIssue({ code: 'custom', path: ['createdTo'], message: 'must be later than createdFrom' });
    }
  });

export type FileSearchQuery = z.output<typeof fileSearchQuerySchema>;

export const filePageSchema = z
  .object({
    items: z.array(fileMetadataSchema),
    nextCursor: z.string().nullable().describe('pass as cursor to get the next page; null on the last page'),
  })
  .meta({ id: 'FilePage' });

export type FilePage = z.output<typeof filePageSchema>;
