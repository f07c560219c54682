// Header parsing of the resumable-upload dialects (SPEC §9): tus Upload-Metadata, Upload-Offset / Upload-Length,
// the IETF draft's structured-field booleans (Upload-Complete), Repr-Digest, and the answers' common headers.
import type { Request, Response } from 'express';
import type { Config } from '../../shared/config.js';
import { AppError } from '../../shared/errors.js';
import type { NewUploadRequest } from '../../shared/domain/resumable-uploads.js';
import type { ResumableProtocol } from '../../shared/domain/resumable-uploads.js';
import { assertFileNameAcceptable, parseUploadFields, sanitizeFileName } from './upload-fields.js';

const METADATA_MAX_BYTES = 64 * 1024;
/**
 * Upload-Metadata keys of SPEC §9 besides filename and filetype: the multipart upload's fields, retention (SPEC §10)
 * included, so a large file sent resumably (the CLI's --resumable-mib) keeps the retention it asked for.
 */
const FIELD_KEYS = [
  'description', 'version', 'tags', 'metadata', 'sha256', 'fileId',
  'retentionPolicy', 'ttlDays', 'retainUntil', 'retentionMode', 'legalHold',
] as const;

function invalid(header: string, message: string): AppError {
  return new AppError('validation_failed', `${header}: ${message}`, { parameter: header });
}

/** A non-negative integer header (Upload-Offset, Upload-Length); undefined when absent unless required. */
export function parseByteCount(req: Request, header: string, required: boolean): number | undefined {
  const raw = req.header(header);
  if (raw === undefined) {
    if (required) throw invalid(header, 'required');
    return undefined;
  }
  if (!/^\d{1,16}$/.test(raw.trim())) throw invalid(header, 'must be a non-negative integer');
  const value = Number(raw.trim());
  if (!Number.isSafeInteger(value)) throw invalid(header, 'too large');
  return value;
}

/** tus Upload-Metadata: `key base64value,key2 base64value2` (a key alone means an empty value). */
export function parseTusMetadata(raw: string | undefined): Record<string, string> {
  if (raw === undefined || raw.trim() === '') return {};
  if (raw.length > METADATA_MAX_BYTES) throw invalid('Upload-Metadata', `at most ${METADATA_MAX_BYTES} bytes`);
  const out: Record<string, string> = {};
  for (const pair of raw.split(',')) {
    const [key, value, extra] = pair.trim().split(' ');
    if (!key || extra !== undefined || !/^[\x21-\x7e]+$/.test(key)) throw invalid('Upload-Metadata', 'pairs of a key and a base64 value, comma-separated');
    if (value !== undefined && !/^[A-Za-z0-9+/]*={0,2}$/.test(value)) throw invalid('Upload-Metadata', `the value of '${key}' is not base64`);
    if (key in out) throw invalid('Upload-Metadata', `key '${key}' appears twice`);
    out[key] = Buffer.from(value ?? '', 'base64').toString('utf8');
  }
  return out;
}

/** IETF Repr-Digest `sha-256=:<base64>:` -> hex; other algorithms are ignored (RFC 9530 lets a receiver do so). */
export function parseReprDigest(raw: string | undefined): string | undefined {
  if (raw === undefined) return undefined;
  const match = /(?:^|,)\s*sha-256=:([A-Za-z0-9+/]+=*):/.exec(raw);
  if (!match) return undefined;
  const digest = Buffer.from(match[1]!, 'base64');
  if (digest.length !== 32) throw invalid('Repr-Digest', 'sha-256 must be 32 bytes');
  return digest.toString('hex');
}

/**
 * An append's Repr-Digest: the header is parsed now (a malformed one is a 400 before any byte is taken), a trailer
 * once the body has ended (chunked requests carry it there when the client hashed while sending). Both given and
 * different: 400. A creation's header is one of its fields already (newUploadRequest): only its trailer counts here.
 */
export function appendDigestOf(req: Request, withHeader = true): () => string | undefined {
  const header = withHeader ? parseReprDigest(req.header('repr-digest')) : undefined;
  return () => {
    const raw = req.trailers['repr-digest'];
    const trailer = parseReprDigest(Array.isArray(raw) ? raw.join(',') : raw);
    if (header !== undefined && trailer !== undefined && header !== trailer) throw invalid('Repr-Digest', 'the header and the trailer name different digests');
    return header ?? trailer;
  };
}

/** A structured-field boolean (`?1` / `?0`), e.g. Upload-Complete. */
export function parseSfBoolean(req: Request, header: string, required: boolean): boolean | undefined {
  const raw = req.header(header)?.trim();
  if (raw === undefined) {
    if (required) throw invalid(header, 'required (?1 or ?0)');
    return undefined;
  }
  if (raw === '?1') return true;
  if (raw === '?0') return false;
  throw invalid(header, 'must be ?1 or ?0');
}

/** The new upload's name, type and fields from Upload-Metadata (+ Repr-Digest): 400 before anything is created. */
export function newUploadRequest(req: Request, protocol: ResumableProtocol, length: number | null): NewUploadRequest {
  const meta = parseTusMetadata(req.header('upload-metadata'));
  const fieldValues: Record<string, string> = {};
  for (const key of FIELD_KEYS) if (meta[key] !== undefined && meta[key] !== '') fieldValues[key] = meta[key];
  const digest = parseReprDigest(req.header('repr-digest'));
  if (digest && !fieldValues.sha256) fieldValues.sha256 = digest;
  const fields = parseUploadFields(fieldValues);
  assertFileNameAcceptable(meta.filename);
  const type = (meta.filetype ?? '').trim().toLowerCase();
  return {
    protocol,
    length,
    fileName: sanitizeFileName(meta.filename),
    contentType: /^[a-z0-9!#$&^_.+-]+\/[a-z0-9!#$&^_.+-]+$/.test(type) ? type : 'application/octet-stream',
    fields,
  };
}

/** True when the request carries a body (Content-Length > 0 or chunked). */
export function hasBody(req: Request): boolean {
  const length = req.header('content-length');
  if (length !== undefined) return Number(length) > 0;
  return req.header('transfer-encoding') !== undefined;
}

/** The IETF draft's Upload-Limit: what this element accepts for one upload. */
export function setUploadLimit(res: Response, config: Pick<Config, 'maxUploadBytes'>, expiresAt?: Date): void {
  const expires = expiresAt ? `, expires=${Math.max(0, Math.floor((expiresAt.getTime() - Date.now()) / 1_000))}` : '';
  res.setHeader('Upload-Limit', `max-size=${config.maxUploadBytes}${expires}`);
}
