// Validation of the upload request's form fields, query and headers (SPEC §5), and file-name sanitising.
import { z } from 'zod';
import { AppError } from '../../shared/errors.js';
import type { UploadFields } from '../../shared/domain/ingest-submit.js';
import { LONE_SURROGATE } from '../../shared/storable-text.js';
import { assertCleanInput, findInputFault, MAX_INPUT_DEPTH, storableText } from './input-guards.js';

const METADATA_MAX_BYTES = 16 * 1024;
const MAX_TAGS = 50;
const TAG_MAX_CHARS = 100;
const FILE_NAME_MAX_BYTES = 255;
const MAX_DECLARED_DIGESTS = 1000;

const tagList = z
  .string()
  .transform((raw, ctx): string[] => {
    const trimmed = raw.trim();
    let tags: unknown = trimmed === '' ? [] : trimmed.split(',');
    if (trimmed.startsWith('[')) {
      try {
        tags = JSON.parse(trimmed);
      } catch {
        ctx.addIssue({ code: 'custom', message: 'not a valid JSON array' });
        return z.NEVER;
      }
    }
    if (!Array.isArray(tags) || !tags.every((t) => typeof t === 'string')) {
      ctx.addIssue({ code: 'custom', message: 'must be comma-separated text or a JSON array of strings' });
      return z.NEVER;
    }
    return [...new Set(tags.map((t: string) => t.trim()).filter((t) => t.length > 0))];
  })
  // A JSON array's \u0000 escapes appear only now, after the form field itself passed the input guard.
  .pipe(z.array(storableText.max(TAG_MAX_CHARS, `a tag has at most ${TAG_MAX_CHARS} characters`)).max(MAX_TAGS, `at most ${MAX_TAGS} tags`));

const metadataObject = z.string().transform((raw, ctx): Record<string, unknown> => {
  if (Buffer.byteLength(raw) > METADATA_MAX_BYTES) {
    ctx.addIssue({ code: 'custom', message: `at most ${METADATA_MAX_BYTES} bytes` });
    return z.NEVER;
  }
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch {
    // fall through to the issue below
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    ctx.addIssue({ code: 'custom', message: 'must be a JSON object' });
    return z.NEVER;
  }
  // The form field itself was clean text; its JSON escapes (\u0000, thousands of levels) are checked here.
  const fault = findInputFault(value, MAX_INPUT_DEPTH - 1);
  if (fault) {
    ctx.addIssue({ code: 'custom', message: fault.reason, path: fault.path });
    return z.NEVER;
  }
  return value as Record<string, unknown>;
});

export const uploadFieldsSchema = z
  .object({
    description: z.string().max(1000, 'at most 1000 characters').optional(),
    version: z.string().max(50, 'at most 50 characters').optional(),
    tags: tagList.optional(),
    metadata: metadataObject.optional(),
    sha256: z
      .string()
      .regex(/^[0-9a-fA-F]{64}(,[0-9a-fA-F]{64})*$/, 'must be 64 hex digits, or a comma-separated list of them (one per file, in order)')
      .transform((s) => s.toLowerCase().split(','))
      .refine((list) => list.length <= MAX_DECLARED_DIGESTS, `at most ${MAX_DECLARED_DIGESTS} digests`)
      .optional(),
    fileId: z.uuid('must be a UUID').transform((s) => s.toLowerCase()).optional(),
  })
  .strict();

/** Parses multer's req.body into UploadFields; 400 validation_failed naming the offending field. */
export function parseUploadFields(body: unknown): UploadFields {
  assertCleanInput(body ?? {}, 'field');
  const parsed = uploadFieldsSchema.safeParse(body ?? {});
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const parameter = issue.code === 'unrecognized_keys' ? issue.keys.join(',') : issue.path.join('.');
    const message = issue.code === 'unrecognized_keys' ? 'unknown field' : issue.message;
    throw new AppError('validation_failed', `field '${parameter}': ${message}`, { parameter });
  }
  const f = parsed.data;
  return {
    description: f.description,
    version: f.version,
    tags: f.tags ?? [],
    metadata: f.metadata ?? {},
    sha256: f.sha256,
    fileId: f.fileId,
  };
}

/** Query of the upload route: `wait` (seconds, 0-60). */
export const uploadQuerySchema = z
  .object({
    wait: z
      .string()
      .regex(/^\d{1,2}$/, 'seconds from 0 to 60')
      .transform(Number)
      .refine((n) => n <= 60, 'seconds from 0 to 60')
      .optional()
      .describe('wait up to this many seconds for the jobs to finish (201 when they all did)'),
  })
  .strict();

/** Header Idempotency-Key: 1-255 visible ASCII characters. */
export function parseIdempotencyKey(raw: string | undefined): string | undefined {
  if (raw === undefined) return undefined;
  if (!/^[\x21-\x7e]{1,255}$/.test(raw)) {
    throw new AppError('validation_failed', 'Idempotency-Key: 1-255 visible ASCII characters', { parameter: 'Idempotency-Key' });
  }
  return raw;
}

/**
 * Longer names are refused, not truncated (uploadFileFilter): no file system keeps such a name, so it is noise
 * or an attack. Below it, names are truncated to FILE_NAME_MAX_BYTES.
 */
export const FILE_NAME_REFUSE_BYTES = 4096;

// C0 and C1 controls, DEL, and the bidi controls that make a name display as something else ("gpj.exe"
// shown as "exe.jpg"): U+061C, U+200E-U+200F, U+202A-U+202E, U+2066-U+2069. Unpaired surrogates become U+FFFD.
// eslint-disable-next-line no-control-regex
const UNSAFE_IN_NAME = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;
const LONE_SURROGATES = new RegExp(LONE_SURROGATE.source, 'g');

/** The longest prefix of `text` of at most `maxBytes` UTF-8 bytes that ends on a code point: one pass. */
function truncateUtf8(text: string, maxBytes: number): string {
  let bytes = 0;
  let end = 0;
  for (const ch of text) {
    const cp = ch.codePointAt(0)!;
    bytes += cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
    if (bytes > maxBytes) break;
    end += ch.length;
  }
  return text.slice(0, end);
}

/**
 * A client's file name as a safe display name: the last path segment only (no directories, no traversal),
 * no control or bidi characters, at most 255 UTF-8 bytes; "unnamed" when nothing is left. Linear in the name's
 * length (a loop that re-measured the name per character took minutes for a hundred 16 KB names).
 */
export function sanitizeFileName(raw: string | undefined): string {
  const text = raw ?? '';
  const lastSegment = text.slice(Math.max(text.lastIndexOf('/'), text.lastIndexOf('\\')) + 1);
  let name = lastSegment.replace(UNSAFE_IN_NAME, '').replace(LONE_SURROGATES, '\ufffd').trim();
  if (name === '.' || name === '..') name = '';
  name = truncateUtf8(name, FILE_NAME_MAX_BYTES).trim();
  return name || 'unnamed';
}

/** 400 validation_failed for a client file name longer than FILE_NAME_REFUSE_BYTES. */
export function assertFileNameAcceptable(raw: string | undefined): void {
  if (raw !== undefined && Buffer.byteLength(raw) > FILE_NAME_REFUSE_BYTES) {
    throw new AppError('validation_failed', `a file name has at most ${FILE_NAME_REFUSE_BYTES} bytes`, { parameter: 'file' });
  }
}

/** multer's fileFilter: refuses an overlong name before a byte of its part is staged. */
export function uploadFileFilter(_req: unknown, file: { originalname: string }, cb: (err: Error | null, accept?: boolean) => void): void {
  try {
    assertFileNameAcceptable(file.originalname);
    cb(null, true);
  } catch (err) {
    cb(err as Error);
  }
}
