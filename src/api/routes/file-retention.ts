// PUT /api/v1/files/{id}/retention and PUT /api/v1/files/{id}/legal-hold (SPEC §10); the rules are
// src/shared/domain/retention-rules.ts, the change is written as a metadata update (WAL, attr.json, row).
import { z } from 'zod';
import { requestRetentionChange } from '../../shared/domain/retention-requests.js';
import { AppError } from '../../shared/errors.js';
import { actingPrincipalOf } from '../auth.js';
import type { ApiContext } from '../context.js';
import { defineRoute, type RouteSpec } from '../http/route-spec.js';
import { errors } from '../http/openapi-errors.js';
import { answerUpdate } from '../http/update-answer.js';
import { fileMetadataSchema } from '../../contract/files.js';
import { jobSchema } from '../../contract/jobs.js';
import { BYPASS_GOVERNANCE_HEADER, legalHoldRequestSchema, retentionRequestSchema } from '../../contract/retention.js';

const applied = {
  200: { description: 'FileMetadata with revision + 1', schema: fileMetadataSchema },
  202: { description: 'accepted but not applied within 10 s: poll the job', schema: jobSchema },
};

/** The bypass header: absent or `false` is no bypass, `true` asks for one; anything else is a 400. */
function bypassOf(raw: string | undefined): boolean {
  if (raw === undefined || raw.toLowerCase() === 'false') return false;
  if (raw.toLowerCase() === 'true') return true;
  throw new AppError('validation_failed', `${BYPASS_GOVERNANCE_HEADER} must be true or false`, { parameter: BYPASS_GOVERNANCE_HEADER });
}

export function fileRetentionRoutes(ctx: ApiContext): RouteSpec[] {
  const fileParams = z.object({ fileId: z.string() });
  return [
    defineRoute({
      method: 'put',
      path: '/api/v1/files/:fileId/retention',
      summary:
        `Set, extend or remove a file's retain-until (owner, operator, admin; modes edit and rw). Compliance can only be ` +
        `extended; governance is shortened or removed only by an admin with ${BYPASS_GOVERNANCE_HEADER}: true (else 409 retention_active)`,
      tag: 'files',
      permission: 'file:patch-own',
      mode: 'patch',
      params: fileParams,
      body: retentionRequestSchema,
      responses: { ...applied, ...errors(400, 401, 403, 404, 409) },
      handler: async (req, res, { params, body }) => {
        const bypassGovernance = bypassOf(req.header(BYPASS_GOVERNANCE_HEADER));
        const job = await requestRetentionChange(ctx, actingPrincipalOf(req, res), params.fileId, {
          kind: 'retention',
          retainUntil: body.retainUntil,
          retentionMode: body.retentionMode ?? null,
          bypassGovernance,
        });
        await answerUpdate(ctx, res, job);
      },
    }),
    defineRoute({
      method: 'put',
      path: '/api/v1/files/:fileId/legal-hold',
      summary: 'Set or release a legal hold (operator, admin; every mode): while on, DELETE and GC answer 409 retention_active',
      tag: 'files',
      permission: 'file:legal-hold',
      mode: 'hold',
      params: fileParams,
      body: legalHoldRequestSchema,
      responses: { ...applied, ...errors(400, 401, 403, 404, 409) },
      handler: async (req, res, { params, body }) => {
        const job = await requestRetentionChange(ctx, actingPrincipalOf(req, res), params.fileId, { kind: 'legal-hold', on: body.on });
        await answerUpdate(ctx, res, job);
      },
    }),
  ];
}
