// Retention and legal hold (SPEC §10) on the wire: the fields every file record carries, the upload's retention
// fields and the bodies of PUT /files/{id}/retention and /files/{id}/legal-hold. Imports only zod (and the plain values).
import { z } from 'zod';
import { BYPASS_GOVERNANCE_HEADER, MAX_TTL_DAYS, RETENTION_MODES } from './wire-constants.js';

export { BYPASS_GOVERNANCE_HEADER, MAX_TTL_DAYS, RETENTION_MODES };

export const RETENTION_POLICIES = ['permanent', 'temporary'] as const;
export type RetentionPolicy = (typeof RETENTION_POLICIES)[number];
export type RetentionMode = (typeof RETENTION_MODES)[number];

/** The retention fields of FileMetadata (and so of attr.json and the client's types). */
export const retentionFieldsShape = {
  retentionPolicy: z.enum(RETENTION_POLICIES).describe('permanent (default) or temporary (removed after expiresAt in edit mode)'),
  expiresAt: z.iso.datetime().nullable().describe('a temporary file: when the lifecycle job may remove it'),
  retainUntil: z.iso.datetime().nullable().describe('no DELETE or GC before this time (409 retention_active)'),
  retentionMode: z.enum(RETENTION_MODES).nullable().describe('governance (an admin may shorten with the bypass header) or compliance (only extended)'),
  legalHold: z.boolean().describe('no DELETE or GC while true, whatever the retention'),
};

const instant = z.iso.datetime({ offset: true, message: 'an ISO 8601 date-time with offset, e.g. 2030-01-31T12:00:00Z' });
const inFuture = (s: string) => Date.parse(s) > Date.now();
const mode = z.enum(RETENTION_MODES, `one of ${RETENTION_MODES.join(', ')}`);

/** The upload's retention form fields (text on the wire); their combinations are checked by checkUploadRetention. */
export const uploadRetentionFieldsShape = {
  retentionPolicy: z.enum(RETENTION_POLICIES, `one of ${RETENTION_POLICIES.join(', ')}`).optional(),
  ttlDays: z
    .string()
    .regex(/^\d{1,6}$/, `a whole number of days from 1 to ${MAX_TTL_DAYS}`)
    .transform(Number)
    .refine((n) => n >= 1 && n <= MAX_TTL_DAYS, `a whole number of days from 1 to ${MAX_TTL_DAYS}`)
    .optional(),
  retainUntil: instant.refine(inFuture, 'must be in the future').optional(),
  retentionMode: mode.optional(),
  legalHold: z.enum(['true', 'false'], "'true' or 'false'").transform((v) => v === 'true').optional(),
};

type UploadRetentionInput = {
  retentionPolicy?: RetentionPolicy | undefined;
  ttlDays?: number | undefined;
  retainUntil?: string | undefined;
  retentionMode?: RetentionMode | undefined;
};

/** The combinations of the upload's retention fields: ttlDays with (and only with) temporary, a mode only with retainUntil. */
export function checkUploadRetention(v: UploadRetentionInput, ctx: z.RefinementCtx): void {
  if (v.ttlDays !== undefined && v.retentionPolicy !== 'temporary') {
    ctx.addIssue({ code: 'custom', path: ['ttlDays'], message: "only with retentionPolicy 'temporary'" });
  }
  if (v.retentionPolicy === 'temporary' && v.ttlDays === undefined) {
    ctx.addIssue({ code: 'custom', path: ['ttlDays'], message: "required with retentionPolicy 'temporary'" });
  }
  if (v.retentionMode !== undefined && v.retainUntil === undefined) {
    ctx.addIssue({ code: 'custom', path: ['retentionMode'], message: 'only with retainUntil' });
  }
}

/** PUT /api/v1/files/{id}/retention: a new retainUntil (null removes it) and its mode (governance when omitted). */
export const retentionRequestSchema = z
  .object({
    retainUntil: instant.refine(inFuture, 'must be in the future').nullable().describe('the new retain-until time; null removes the retention'),
    retentionMode: mode.optional().describe('governance (default) or compliance'),
  })
  .strict()
  .superRefine((v, ctx) => {
    if (v.retainUntil === null && v.retentionMode !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['retentionMode'], message: 'only with a retainUntil' });
    }
  })
  .meta({ id: 'RetentionRequest' });
export type RetentionRequest = z.output<typeof retentionRequestSchema>;

/** PUT /api/v1/files/{id}/legal-hold */
export const legalHoldRequestSchema = z.object({ on: z.boolean() }).strict().meta({ id: 'LegalHoldRequest' });
export type LegalHoldRequest = z.output<typeof legalHoldRequestSchema>;
