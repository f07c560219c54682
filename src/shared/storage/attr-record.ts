// The attr.json record: one zod schema, derived from the FileMetadata contract, and the type inferred from it.
import { z } from 'zod';
import { fileMetadataSchema, type FileMetadata } from '../../contract/files.js';
import { LOWER_UUID } from '../../contract/ids.js';
import { RETENTION_MODES, RETENTION_POLICIES } from '../../contract/retention.js';

export const ATTR_SCHEMA_VERSION = 1;

const SHA256 = /^[0-9a-f]{64}$/;
const INT4_MAX = 2_147_483_647;
// PostgreSQL text and jsonb cannot hold U+0000; such a record would fail its whole rebuild batch.
const noNul = (s: string) => !s.includes('\u0000');
// JSON.stringify writes U+0000 as \u0000 (an odd run of backslashes before u0000; an even run is a literal backslash).
const ESCAPED_NUL = /(?<!\\)(?:\\\\)*\\u0000/;
const text = z.string().refine(noNul, 'contains U+0000');
// Offsets other than Z are accepted: the rebuild has always taken them, whoever wrote the record.
const instant = z.iso.datetime({ offset: true });

/**
 * attr.json schemaVersion 1: the FileMetadata resource, where its bytes are (blob) and, on a deleted file's
 * tombstone, when it was deleted. A field added to fileMetadataSchema is part of the record at once; the fields
 * overridden here are narrowed to what the files table can hold (no NUL, int4 revision, a 64-hex digest), so a
 * rebuild skips a bad record alone instead of failing its batch. id accepts any lower-case hex UUID (not only the
 * RFC 9562 versions the contract checks), as the rebuild always has. The retention fields default to a permanent,
 * unheld file, so records written before them still restore.
 */
export const attrRecordSchema = fileMetadataSchema
  .extend({
    schemaVersion: z.literal(ATTR_SCHEMA_VERSION),
    elementId: text.min(1),
    id: z.string().regex(LOWER_UUID),
    fileName: text,
    contentType: text.min(1),
    size: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER),
    sha256: z.string().regex(SHA256),
    description: text.nullable(),
    version: text.nullable(),
    tags: z.array(text),
    metadata: z.record(z.string(), z.unknown()).refine((m) => !ESCAPED_NUL.test(JSON.stringify(m)), 'contains U+0000'),
    owner: text.min(1),
    ownerName: text.nullable(),
    createdAt: instant,
    updatedAt: instant,
    revision: z.number().int().min(1).max(INT4_MAX),
    blob: z.object({ sha256: z.string().regex(SHA256), size: z.number().int().min(0), storageKey: z.string() }),
    // Records written before retention existed (SPEC §10) have none of these: such a file is permanent and unheld.
    retentionPolicy: z.enum(RETENTION_POLICIES).default('permanent'),
    expiresAt: instant.nullable().default(null),
    retainUntil: instant.nullable().default(null),
    retentionMode: z.enum(RETENTION_MODES).nullable().default(null),
    legalHold: z.boolean().default(false),
    /** Set on a deleted file's tombstone: a rebuild restores it as deleted, never as live. */
    deletedAt: instant.optional(),
  })
  .refine((r) => r.blob.sha256 === r.sha256 && r.blob.size === r.size, 'blob.sha256/blob.size disagree with sha256/size');

export type AttrRecord = z.output<typeof attrRecordSchema>;

// An override that stopped fitting the contract's type (say a field made optional here) fails to compile here.
const isFileMetadata: (r: AttrRecord) => FileMetadata = (r) => r;
void isFileMetadata;
