// PATCH /api/v1/files/{id}/metadata, DELETE /api/v1/files/{id} and POST /api/v1/files/exists.
import { z } from 'zod';
import { findPresentSha256 } from '../../shared/domain/file-queries.js';
import { parseRevision, requestDelete, requestMetadataUpdate } from '../../shared/domain/file-requests.js';
import { toJobView } from '../../shared/domain/job-view.js';
import { actingPrincipalOf } from '../auth.js';
import type { ApiContext } from '../context.js';
import { defineRoute, type RouteSpec } from '../http/route-spec.js';
import { errors } from '../http/openapi-errors.js';
import { answerUpdate } from '../http/update-answer.js';
import { fileMetadataSchema } from '../../contract/files.js';
import { jobSchema } from '../../contract/jobs.js';
import { existsAnswerSchema, existsRequestSchema, metadataPatchSchema } from '../../contract/file-edits.js';

export function fileEditRoutes(ctx: ApiContext): RouteSpec[] {
  const fileParams = z.object({ fileId: z.string() });
  return [
    defineRoute({
      method: 'patch',
      path: '/api/v1/files/:fileId/metadata',
      summary: 'Patch description, version, tags or metadata (owner, operator, admin); If-Match: <revision>',
      tag: 'files',
      permission: 'file:patch-own',
      mode: 'patch',
      params: fileParams,
      body: metadataPatchSchema,
      responses: {
        200: { description: 'FileMetadata with revision + 1', schema: fileMetadataSchema },
        202: { description: 'accepted but not applied within 10 s: poll the job', schema: jobSchema },
        ...errors(400, 401, 403, 404, 409, 412),
      },
      handler: async (req, res, { params, body }) => {
        const ifMatch = req.header('if-match');
        const expected = ifMatch === undefined ? undefined : parseRevision(ifMatch);
        const job = await requestMetadataUpdate(ctx, actingPrincipalOf(req, res), params.fileId, body, expected);
        await answerUpdate(ctx, res, job);
      },
    }),
    defineRoute({
      method: 'delete',
      path: '/api/v1/files/:fileId',
      summary: 'Delete a file (operator, admin; mode edit): 404 for readers at once, blob removed after a grace period',
      tag: 'files',
      permission: 'file:delete',
      mode: 'delete',
      params: fileParams,
      responses: { 202: { description: 'the delete job', schema: jobSchema }, ...errors(401, 403, 404, 409) },
      handler: async (req, res, { params }) => {
        const job = await requestDelete(ctx, actingPrincipalOf(req, res), params.fileId);
        res.status(202).setHeader('Location', `/api/v1/jobs/${job.id}`).json(toJobView(job));
      },
    }),
    defineRoute({
      method: 'post',
      path: '/api/v1/files/exists',
      summary: 'Which of these sha256 digests are stored (before uploading them)',
      tag: 'files',
      permission: 'file:read',
      mode: 'read',
      body: existsRequestSchema,
      responses: {
        200: { description: 'present and missing digests', schema: existsAnswerSchema },
        ...errors(400, 401, 403),
      },
      handler: async (_req, res, { body }) => {
        const wanted = [...new Set(body.sha256)];
        const present = await findPresentSha256(ctx.db, wanted);
        res.json({ present: wanted.filter((s) => present.has(s)), missing: wanted.filter((s) => !present.has(s)) });
      },
    }),
  ];
}
