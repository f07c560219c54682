// Validation of the upload request's form fields, query and headers (SPEC §5), and file-name sanitising.
import { z } from 'zod';
import { AppError } from '../../shared/errors.js';
import type { UploadFields } from '../../shared/domain/ingest-submit.js';

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
  .pipe(z.array(z.string().max(TAG_MAX_CHARS, `a tag has at most ${TAG_MAX_CHARS} characters`)).max(MAX_TAGS, `at most ${MAX_TAGS} tags`));

const metadataObject = z.string().transform((raw, ctx): Record<string, unknown> => {
  if (Buffer.byteLength(raw) > METADATA_MAX_BYTES) {
    ctx.addIssue({ code: 'custom', message: `at most ${METADATA_MAX_BYTES} bytes` });
    return z.NEVER;
  }
  try {
    const value: unknown = JSON.parse(raw);
    if (value !== null && typeof value === 'object' && !Array.isArray(value)) return value as Record<string, unknown>;
  } catch {
    // fall through to the issue below
  }
  ctx.addIssue({ code: 'custom', message: 'must be a JSON object' });
  return z.NEVER;
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
 * A client's file name as a safe display name: the last path segment only (no directories, no traversal),
 * no control characters, at most 255 UTF-8 bytes; "unnamed" when nothing is left.
 */
export function sanitizeFileName(raw: string | undefined): string {
  const lastSegment = (raw ?? '').split(/[/\\]/).pop() ?? '';
  // eslint-disable-next-line no-control-regex
  let name = lastSegment.replace(/[\u0000-\u001f\u007f]/g, '').trim();
  if (name === '.' || name === '..') name = '';
  while (Buffer.byteLength(name) > FILE_NAME_MAX_BYTES) name = [...name].slice(0, -1).join('');
  return name || 'unnamed';
}
