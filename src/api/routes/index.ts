// Every route of the API, in one list: mounted by app.ts and described by the OpenAPI document.
import type { ApiContext } from '../context.js';
import type { RouteSpec } from '../http/route-spec.js';
import { fileRoutes } from './files.js';
import { healthRoutes } from './health.js';
import { jobRoutes } from './jobs.js';
import { uploadRoutes } from './uploads.js';

export function allRoutes(ctx: ApiContext): RouteSpec[] {
  return [...healthRoutes(ctx), ...uploadRoutes(ctx), ...jobRoutes(ctx), ...fileRoutes(ctx)];
}
