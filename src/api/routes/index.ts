// Every route of the API, in one list: mounted by app.ts and described by the OpenAPI document.
import type { AdminSessions } from '../admin-session.js';
import type { ApiContext } from '../context.js';
import { adminRoutes } from './admin.js';
import { adminScrubRoutes } from './admin-scrub.js';
import { clusterRoutes } from './cluster.js';
import { auditRoutes } from './audit.js';
import type { RouteSpec } from '../http/route-spec.js';
import { docsRoutes } from './docs.js';
import { elementRoutes } from './element.js';
import { fileEditRoutes } from './file-edits.js';
import { fileRoutes } from './files.js';
import { fileRetentionRoutes } from './file-retention.js';
import { healthRoutes } from './health.js';
import { indexMaintenanceRoutes } from './index-maintenance.js';
import { cleanupExpiredFiles } from '../../shared/domain/file-lifecycle.js';
import { jobRoutes } from './jobs.js';
import { resumableIetfRoutes } from './resumable-ietf.js';
import { resumableTusRoutes } from './resumable-tus.js';
import { searchRoutes } from './search.js';
import { uploadRoutes } from './uploads.js';

export function allRoutes(ctx: ApiContext, sessions: AdminSessions): RouteSpec[] {
  const routes: RouteSpec[] = [
    ...healthRoutes(ctx),
    ...adminRoutes(ctx, sessions),
    ...docsRoutes(() => routes),
    ...elementRoutes(ctx),
    ...adminScrubRoutes(ctx),
    ...clusterRoutes(ctx),
    // The same cleanup as the worker's scheduled lifecycle job, on demand.
    ...indexMaintenanceRoutes(ctx, async () => ({ ...(await cleanupExpiredFiles(ctx)) })),
    ...uploadRoutes(ctx),
    // tus's literal /uploads/tus before the IETF draft's /uploads/:id.
    ...resumableTusRoutes(ctx),
    ...resumableIetfRoutes(ctx),
    ...jobRoutes(ctx),
    ...auditRoutes(ctx),
    ...fileEditRoutes(ctx),
    ...fileRetentionRoutes(ctx),
    // Literal paths under /api/v1/files/ must come before the :fileId routes.
    ...searchRoutes(ctx),
    ...fileRoutes(ctx),
  ];
  return routes;
}
