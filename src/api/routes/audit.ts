// GET /api/v1/audit: the audit trail, filtered and keyset-paged newest first (SPEC §11).
import { auditPageSchema, auditQuerySchema } from '../../contract/audit.js';
import { listAuditEvents } from '../../shared/domain/audit-queries.js';
import { principalOf } from '../auth.js';
import type { ApiContext } from '../context.js';
import { errors } from '../http/openapi-errors.js';
import { defineRoute, type RouteSpec } from '../http/route-spec.js';

export function auditRoutes(ctx: ApiContext): RouteSpec[] {
  return [
    defineRoute({
      method: 'get',
      path: '/api/v1/audit',
      summary: 'Audit events, newest first (operator/admin: all; user: events of its own files; readonly: 403)',
      tag: 'audit',
      permission: 'audit:read',
      query: auditQuerySchema,
      responses: { 200: { description: 'one page of audit events', schema: auditPageSchema }, ...errors(400, 401, 403) },
      handler: async (_req, res, { query }) => {
        res.json(await listAuditEvents(ctx.db, principalOf(res), query));
      },
    }),
  ];
}
