// GET /api/v1/info (element, mode, capacity, files, queues) and PUT /api/v1/mode (admin).
import { readElementInfo } from '../../shared/domain/element-status.js';
import { changeMode } from '../../shared/domain/modes.js';
import { actingPrincipalOf, principalOf } from '../auth.js';
import type { ApiContext } from '../context.js';
import { defineRoute, type RouteSpec } from '../http/route-spec.js';
import { errors } from '../http/openapi-errors.js';
import { elementInfoSchema, modeAnswerSchema, modeChangeSchema } from '../../contract/element.js';

export function elementRoutes(ctx: ApiContext): RouteSpec[] {
  return [
    defineRoute({
      method: 'get',
      path: '/api/v1/info',
      summary: 'The element: id, mode, version, capacity, file count, queue depth',
      tag: 'element',
      permission: 'element:info',
      responses: { 200: { description: 'ElementInfo', schema: elementInfoSchema }, ...errors(401, 403) },
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
      body: modeChangeSchema,
      responses: {
        200: { description: 'the mode now', schema: modeAnswerSchema },
        ...errors(400, 401, 403, 409),
      },
      handler: async (req, res, { body }) => {
        const result = await changeMode({ db: ctx.db, config: ctx.config, publisher: ctx.redis }, principalOf(res).sub, body.mode, body.reason, actingPrincipalOf(req, res));
        ctx.modes.invalidate();
        res.json({ mode: result.mode });
      },
    }),
  ];
}
