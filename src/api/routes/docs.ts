// GET /api/v1/openapi.json and the /docs page (Swagger UI served from the swagger-ui-dist package, no CDN).
import { createRequire } from 'node:module';
import path from 'node:path';
import express, { type RequestHandler } from 'express';
import { z } from 'zod';
import { buildOpenApi } from '../openapi.js';
import { defineRoute, type RouteSpec } from '../http/route-spec.js';

const DOCS_HTML = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>ArtStore Storage Element API</title>
<link rel="stylesheet" href="/docs/assets/swagger-ui.css"></head>
<body><div id="swagger-ui"></div>
<script src="/docs/assets/swagger-ui-bundle.js"></script>
<script src="/docs/init.js"></script></body></html>`;

const DOCS_INIT = `window.ui = SwaggerUIBundle({ url: '/api/v1/openapi.json', dom_id: '#swagger-ui', deepLinking: true });`;

/** The OpenAPI document covers every route passed in (the app passes all of them, these included). */
export function docsRoutes(allSpecs: () => RouteSpec[]): RouteSpec[] {
  let cached: Record<string, unknown> | undefined;
  return [
    defineRoute({
      method: 'get',
      path: '/api/v1/openapi.json',
      summary: 'This OpenAPI 3.1 document',
      tag: 'docs',
      permission: 'public',
      responses: { 200: { description: 'OpenAPI 3.1', schema: z.record(z.string(), z.unknown()) } },
      handler: (_req, res) => {
        cached ??= buildOpenApi(allSpecs());
        res.json(cached);
      },
    }),
    defineRoute({
      method: 'get',
      path: '/docs',
      summary: 'API documentation page',
      tag: 'docs',
      permission: 'public',
      responses: { 200: { description: 'HTML', contentType: 'text/html', schema: z.string() } },
      handler: (_req, res) => {
        res.type('html').send(DOCS_HTML);
      },
    }),
    defineRoute({
      method: 'get',
      path: '/docs/init.js',
      summary: 'Script of the documentation page',
      tag: 'docs',
      permission: 'public',
      responses: { 200: { description: 'JavaScript', contentType: 'text/javascript', schema: z.string() } },
      handler: (_req, res) => {
        res.type('text/javascript').send(DOCS_INIT);
      },
    }),
  ];
}

/** Static assets of the docs page, straight from the installed swagger-ui-dist package. */
/** Swagger UI's files; the app mounts it at DOCS_ASSETS_PATH itself, so other requests pass no router of its own. */
export const DOCS_ASSETS_PATH = '/docs/assets';

export function docsAssets(): RequestHandler {
  const dir = path.dirname(createRequire(import.meta.url).resolve('swagger-ui-dist/package.json'));
  return express.static(dir, { index: false, maxAge: '1h' });
}
