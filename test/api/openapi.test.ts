// The OpenAPI document describes every route the app serves, and the docs page loads without a CDN.
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createWorld, type World } from '../helpers/world.js';

interface Layer {
  route?: { path: string; methods: Record<string, boolean> };
  handle?: { stack?: Layer[] };
}

/** Every (method, path) Express has a route for, found by walking the router stack. */
function servedRoutes(stack: Layer[]): string[] {
  return stack.flatMap((layer) => {
    if (layer.route) return Object.keys(layer.route.methods).map((m) => `${m} ${layer.route!.path}`);
    return layer.handle?.stack ? servedRoutes(layer.handle.stack) : [];
  });
}

describe('OpenAPI', () => {
  let world: World;

  beforeAll(async () => {
    world = await createWorld();
  });
  afterAll(async () => world?.close());

  it('is public OpenAPI 3.1 and lists every route of the app', async () => {
    const res = await request(world.app).get('/api/v1/openapi.json');
    expect(res.status).toBe(200);
    expect(res.body.openapi).toBe('3.1.0');
    const documented = new Set(
      Object.entries(res.body.paths as Record<string, Record<string, unknown>>).flatMap(([path, ops]) =>
        Object.keys(ops).map((m) => `${m} ${path.replace(/\{([^}]+)\}/g, ':$1')}`),
      ),
    );
    const served = servedRoutes((world.app as unknown as { router: { stack: Layer[] } }).router.stack);
    expect(served.length).toBeGreaterThan(15);
    for (const route of served) expect(documented, route).toContain(route);
    for (const route of ['post /api/v1/files/upload', 'get /api/v1/files/:fileId', 'put /api/v1/mode', 'get /api/v1/jobs/:jobId/events']) {
      expect(documented).toContain(route);
    }
  });

  it('documents inputs from the validating schemas, security and error bodies', async () => {
    const doc = (await request(world.app).get('/api/v1/openapi.json')).body;
    const jobs = doc.paths['/api/v1/jobs'].get;
    expect(jobs.parameters).toEqual([expect.objectContaining({ name: 'ids', in: 'query', required: true })]);
    expect(jobs.security).toEqual([{ bearerAuth: [] }]);
    expect(doc.paths['/health/live'].get.security).toEqual([]);
    const upload = doc.paths['/api/v1/files/upload'].post;
    expect(Object.keys(upload.requestBody.content)).toEqual(['multipart/form-data']);
    expect(upload.requestBody.content['multipart/form-data'].schema.properties).toHaveProperty('sha256');
    expect(upload.responses['413'].content['application/problem+json'].schema).toEqual({ $ref: '#/components/schemas/Problem' });
    expect(doc.components.schemas).toHaveProperty('Job');
    expect(doc.components.schemas).toHaveProperty('FileMetadata');
    expect(JSON.stringify(doc)).not.toContain('#/$defs/');
  });

  it('serves the docs page and its assets locally', async () => {
    const page = await request(world.app).get('/docs');
    expect(page.status).toBe(200);
    expect(page.text).toContain('/docs/assets/swagger-ui-bundle.js');
    expect(page.text).not.toMatch(/https?:\/\//);
    const asset = await request(world.app).get('/docs/assets/swagger-ui-bundle.js');
    expect(asset.status).toBe(200);
    expect((await request(world.app).get('/docs/init.js')).text).toContain('/api/v1/openapi.json');
  });
});
