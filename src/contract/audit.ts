// The audit trail as clients see it (SPEC §11): GET /api/v1/audit's query parameters and the page it answers.
// Imports only zod and other contract files.
import { z } from 'zod';
import { instant, param } from './file-search.js';

export const AUDIT_PAGE_MAX_LIMIT = 1000;
export const AUDIT_PAGE_DEFAULT_LIMIT = 50;
/** The largest seq (PostgreSQL bigint). */
const MAX_SEQ = 2n ** 63n - 1n;

export const AUDIT_ACTION_NAMES = [
  'ingest', 'download', 'metadata_update', 'delete', 'gc_delete', 'retention_change', 'legal_hold', 'mode_change',
  'fixity_failure', 'index_rebuild', 'auth_denied',
] as const;

export const auditQuerySchema = z
  .object({
    fileId: param(z.uuid('must be a UUID').transform((s) => s.toLowerCase())).describe('events of this file'),
    actor: param(z.string().max(256, 'at most 256 characters')).describe("events of this principal (token sub), exact"),
    action: param(z.enum(AUDIT_ACTION_NAMES, `one of ${AUDIT_ACTION_NAMES.join(', ')}`))
      .describe('events of this action')
      .meta({ enum: [...AUDIT_ACTION_NAMES] }),
    from: param(instant).describe('events at or after this ISO 8601 date-time (inclusive)'),
    to: param(instant).describe('events before this ISO 8601 date-time (exclusive)'),
    limit: param(
      z
        .string()
        .regex(/^\d{1,4}$/, `an integer from 1 to ${AUDIT_PAGE_MAX_LIMIT}`)
        .transform(Number)
        .refine((n) => n >= 1 && n <= AUDIT_PAGE_MAX_LIMIT, `an integer from 1 to ${AUDIT_PAGE_MAX_LIMIT}`),
    ).describe(`items per page, 1-${AUDIT_PAGE_MAX_LIMIT}; default ${AUDIT_PAGE_DEFAULT_LIMIT}`),
    // A seq is a PostgreSQL bigint: 19 digits past 2^63 - 1 would reach the database and fail there (a 500).
    cursor: param(
      z
        .string()
        .regex(/^[1-9]\d{0,18}$/, 'not a cursor of this listing')
        .refine((s) => BigInt(s) <= MAX_SEQ, 'not a cursor of this listing'),
    ).describe('nextCursor of the previous page (opaque)'),
  })
  .strict();

export type AuditQuery = z.output<typeof auditQuerySchema>;

export const auditEventSchema = z
  .object({
    seq: z.string().describe('position in the chain (a decimal integer; newest first in listings)'),
    time: z.string(),
    action: z.string(),
    actorSub: z.string().nullable(),
    actorName: z.string().nullable(),
    actorRole: z.string().nullable(),
    actorTokenType: z.string().nullable(),
    fileId: z.string().nullable(),
    sha256: z.string().nullable(),
    jobId: z.string().nullable(),
    requestId: z.string().nullable(),
    clientAddress: z.string().nullable(),
    outcome: z.enum(['success', 'failure']),
    errorCode: z.string().nullable(),
    details: z.record(z.string(), z.unknown()),
    prevHash: z.string().describe('hash of the event before (64 zeros for the first)'),
    hash: z.string().describe('sha256 hex of prevHash followed by the canonical JSON of the event (see README, Audit trail)'),
  })
  .meta({ id: 'AuditEvent' });

export const auditPageSchema = z
  .object({
    items: z.array(auditEventSchema),
    nextCursor: z.string().nullable().describe('pass as cursor to get the next (older) page; null on the last page'),
  })
  .meta({ id: 'AuditPage' });

export type AuditPage = z.output<typeof auditPageSchema>;
