// The API side of the upload request (SPEC §5): form fields into UploadFields, the Idempotency-Key header, and
// file-name sanitising. The fields' and query's schemas are the wire contract (src/contract/uploads.ts).
import { LONE_SURROGATE } from '../../contract/text.js';
import { uploadFieldsSchema } from '../../contract/uploads.js';
import { AppError } from '../../shared/errors.js';
import type { UploadFields } from '../../shared/domain/ingest-submit.js';
import { assertCleanInput } from './input-guards.js';

const FILE_NAME_MAX_BYTES = 255;

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
    ...(f.retentionPolicy ?? f.retainUntil ?? f.legalHold !== undefined
      ? {
          retention: {
            retentionPolicy: f.retentionPolicy ?? 'permanent',
            ttlDays: f.ttlDays ?? null,
            retainUntil: f.retainUntil ?? null,
            retentionMode: f.retentionMode ?? null,
            legalHold: f.legalHold ?? false,
          },
        }
      : {}),
  };
}

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
