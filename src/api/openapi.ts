// OpenAPI 3.1 document built from the route table and its zod schemas (the ones that validate requests).
import { z } from 'zod';
import { APP_VERSION } from '../shared/version.js';
import type { RouteSpec } from './http/route-spec.js';

type JsonObject = Record<string, unknown>;

/** Converts a zod schema; named schemas (.meta({id})) move to components.schemas. */
function schemaOf(schema: z.ZodType, components: JsonObject): JsonObject {
  const json = z.toJSONSchema(schema, { target: 'draft-2020-12', io: 'input', unrepresentable: 'any' }) as JsonObject;
  const { $schema: _ignored, $defs, ...rest } = json;
  const relink = <T>(value: T): T => JSON.parse(JSON.stringify(value).replaceAll('"#/$defs/', '"#/components/schemas/')) as T;
  for (const [name, def] of Object.entries(($defs as JsonObject | undefined) ?? {})) components[name] = relink(def);
  return relink(rest);
}

function parametersOf(spec: RouteSpec, components: JsonObject): JsonObject[] {
  const out: JsonObject[] = [];
  const add = (where: 'path' | 'query', schema: z.ZodType | undefined) => {
    if (!schema) return;
    const json = schemaOf(schema, components);
    const required = new Set((json.required as string[] | undefined) ?? []);
    for (const [name, prop] of Object.entries((json.properties as Record<string, JsonObject> | undefined) ?? {})) {
      const { description, ...propSchema } = prop;
      out.push({ name, in: where, required: where === 'path' || required.has(name), schema: propSchema, ...(description ? { description } : {}) });
    }
  };
  add('path', spec.params);
  add('query', spec.query);
  return out;
}

export function buildOpenApi(specs: RouteSpec[]): JsonObject {
  const components: JsonObject = {};
  const paths: Record<string, JsonObject> = {};
  for (const spec of specs) {
    const path = spec.path.replace(/:([A-Za-z0-9_]+)/g, '{$1}');
    const responses: JsonObject = {};
    for (const [status, r] of Object.entries(spec.responses)) {
      responses[status] = {
        description: r.description,
        ...(r.schema ? { content: { [r.contentType ?? 'application/json']: { schema: schemaOf(r.schema, components) } } } : {}),
      };
    }
    paths[path] ??= {};
    paths[path][spec.method] = {
      operationId: `${spec.method}${path.replace(/[{}]/g, '').replace(/[^A-Za-z0-9]+(.)?/g, (_m, c: string | undefined) => (c ? c.toUpperCase() : ''))}`,
      summary: spec.summary,
      tags: [spec.tag],
      security: spec.permission === 'public' ? [] : [{ bearerAuth: [] }],
      ...(spec.permission !== 'public' ? { 'x-permission': spec.permission } : {}),
      ...(spec.mode ? { 'x-mode-operation': spec.mode } : {}),
      parameters: parametersOf(spec, components),
      ...(spec.body
        ? { requestBody: { required: true, content: { [spec.bodyContentType ?? 'application/json']: { schema: schemaOf(spec.body, components) } } } }
        : {}),
      responses,
    };
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'ArtStore Storage Element API',
      version: APP_VERSION,
      description: 'Upload, status, download, search and administration of a storage element. Errors are application/problem+json with a stable `code`.',
    },
    servers: [{ url: '/' }],
    paths,
    components: {
      schemas: components,
      securitySchemes: { bearerAuth: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT (RS256)' } },
    },
  };
}
