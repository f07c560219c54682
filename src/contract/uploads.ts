// The upload request (SPEC §5): its form fields and its query, as the API validates them and the client sends
// them. Imports only zod and other contract files.
import { z } from 'zod';
import { checkUploadRetention, uploadRetentionFieldsShape } from './retention.js';
import { findInputFault, MAX_INPUT_DEPTH, storableText, utf8Bytes } from './text.js';

const METADATA_MAX_BYTES = 16 * 1024;
const MAX_TAGS = 50;
const TAG_MAX_CHARS = 100;
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
  if (utf8Bytes(raw) > METADATA_MAX_BYTES) {
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

/** The upload's form fields (all text on the wire); the API checks each field with the input guard first. */
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
    ...uploadRetentionFieldsShape,
  })
  .strict()
  .superRefine(checkUploadRetention);

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

