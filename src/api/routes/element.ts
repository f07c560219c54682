// GET /api/v1/info (element, mode, capacity, files, queues) and PUT /api/v1/mode (admin).
import { z } from 'zod';
import { readElementInfo } from '../../shared/domain/element-status.js';
import { changeMode } from '../../shared/domain/modes.js';
import { principalOf } from '../auth.js';
import type { ApiContext } from '../context.js';
import { defineRoute, type RouteSpec } from '../http/route-spec.js';
import { errors } from '../http/schemas.js';

const MODES = ['edit', 'rw', 'ro', 'ar'] as const;


const infoSchema = z
  .object({
    elementId: z.string(),
    mode: z.enum(MODES),
    version: z.string(),
    capacity: z.object({
      totalBytes: z.number().int(),
      usedBytes: z.number().int(),
      freeBytes: z.number().int(),
      status: z.enum(['ok', 'warning', 'critical', 'full']),
    }),
    files: z.number().int(),
    queue: z.object({ waiting: z.number().int(), active: z.number().int(), failed: z.number().int(), delayed: z.number().int() }),
  })
  .meta({ id: 'ElementInfo' });

export function elementRoutes(ctx: ApiContext): RouteSpec[] {
  return [
    defineRoute({
      method: 'get',
      path: '/api/v1/info',
      summary: 'The element: id, mode, version, capacity, file count, queue depth',
      tag: 'element',
      permission: 'element:info',
      responses: { 200: { description: 'ElementInfo', schema: infoSchema }, ...errors(401, 403) },
      handler: async (_req, res) => {
        res.json(await readElementInfo(ctx));
      },
    }),
    defineRoute({
      method: 'put',
      path: '/api/v1/mode',
      summary: 'Change the element mode (rw -> ro -> ar; an edit element stays edit)',
      tag: 'element',
      permission: 'element:mode',
      body: z.object({ mode: z.enum(MODES), reason: z.string().max(500).optional() }).strict(),
      responses: {
        200: { description: 'the mode now', schema: z.object({ mode: z.enum(MODES) }) },
        ...errors(400, 401, 403, 409),
      },
      handler: async (_req, res, { body }) => {
        const result = await changeMode({ db: ctx.db, config: ctx.config, publisher: ctx.redis }, principalOf(res).sub, body.mode, body.reason);
        ctx.modes.invalidate();
        res.json({ mode: result.mode });
      },
    }),
  ];
}
