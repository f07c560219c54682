// Declarative routes: one table says, per route, who may call it, which mode it needs and what it accepts.
// The same specs mount the Express handlers and produce the OpenAPI document, so the two cannot drift.
import { Router, type Request, type RequestHandler, type Response } from 'express';
import { z } from 'zod';
import { assertModeAllows, type ModeOperation } from '../../shared/domain/modes.js';
import type { Permission } from '../../shared/domain/principal.js';
import { AppError } from '../../shared/errors.js';
import { requirePermission } from '../auth.js';
import type { ApiContext } from '../context.js';
import { quietSuccess } from './access-log.js';
import { assertCleanInput } from './input-guards.js';

export type HttpMethod = 'get' | 'head' | 'post' | 'put' | 'patch' | 'delete' | 'options';

type AnyObject = z.ZodObject<z.ZodRawShape>;

export interface ResponseSpec {
  description: string;
  schema?: z.ZodType;
  /** Defaults to application/json when a schema is given. */
  contentType?: string;
}

export interface RouteInput<P extends AnyObject | undefined, Q extends AnyObject | undefined, B extends z.ZodType | undefined> {
  params: P extends AnyObject ? z.output<P> : Record<string, never>;
  query: Q extends AnyObject ? z.output<Q> : Record<string, never>;
  body: B extends z.ZodType ? z.output<B> : undefined;
}

export interface RouteSpec<
  P extends AnyObject | undefined = AnyObject | undefined,
  Q extends AnyObject | undefined = AnyObject | undefined,
  B extends z.ZodType | undefined = z.ZodType | undefined,
> {
  method: HttpMethod;
  /** Express path, e.g. /api/v1/files/:fileId */
  path: string;
  summary: string;
  tag: string;
  /** 'public' routes skip authentication; all others need a bearer token with this permission. */
  permission: Permission | 'public';
  /** Checked against the element's current mode before the handler runs. */
  mode?: ModeOperation;
  params?: P;
  query?: Q;
  /** JSON body schema; for multipart routes, the form fields (documented, parsed by the route itself). */
  body?: B;
  bodyContentType?: 'application/json' | 'multipart/form-data';
  /** Runs after auth, permission and mode checks and before input parsing (e.g. multer). */
  before?: RequestHandler[];
  responses: Record<number, ResponseSpec>;
  /** A routine success (a status poll): its access-log line is at debug unless it was slow (quietSuccess). */
  quietSuccess?: boolean;
  handler: (req: Request, res: Response, input: RouteInput<P, Q, B>) => Promise<void> | void;
}

/** Identity with inference: keeps a route's param, query and body types tied to its handler. */
export function defineRoute<P extends AnyObject | undefined, Q extends AnyObject | undefined, B extends z.ZodType | undefined>(
  spec: RouteSpec<P, Q, B>,
): RouteSpec {
  return spec as unknown as RouteSpec;
}

/**
 * Parses input with a zod schema; 400 validation_failed naming the offending parameter. Every path parameter,
 * query and JSON body passes here, so this is where text PostgreSQL would refuse (NUL) and JSON too deep to
 * serialise are turned away, before any schema or route sees them.
 */
export function parseInput<T extends z.ZodType>(schema: T, value: unknown, where: string): z.output<T> {
  assertCleanInput(value, where);
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const issue = result.error.issues[0]!;
  const parameter =
    issue.code === 'unrecognized_keys' ? issue.keys.join(',') : issue.path.length > 0 ? issue.path.join('.') : where;
  const message = issue.code === 'unrecognized_keys' ? 'unknown parameter' : issue.message;
  throw new AppError('validation_failed', `${where} '${parameter}': ${message}`, { parameter });
}

function guard(ctx: ApiContext, spec: RouteSpec): RequestHandler[] {
  const chain: RequestHandler[] = [];
  if (spec.permission !== 'public') chain.push(requirePermission(ctx.verifier, spec.permission));
  if (spec.mode) {
    const op = spec.mode;
    chain.push(async (_req, _res, next) => {
      assertModeAllows(await ctx.modes.current(), op);
      next();
    });
  }
  return chain;
}

/**
 * The group of a path: its first segment, or its first three under /api/ (`api/v1/jobs`), lower-cased as Express
 * matches routes. For a route path it is undefined when one of those segments is not literal.
 */
function groupOf(path: string, route: boolean): string | undefined {
  const segments = path.toLowerCase().split('/', 4);
  const key = segments[1] === 'api' ? `api/${segments[2] ?? ''}/${segments[3] ?? ''}` : (segments[1] ?? '');
  return route && /[:*{}()?+!\\]/.test(key) ? undefined : key;
}

/**
 * Mounts every spec (guard chain, optional pre-handlers, input parsing, handler) and dispatches each request to
 * only the routes of its path's group (groupOf), kept in the order given: a request is answered by the same route
 * as by one router holding them all (a route of another group cannot match its path), without testing the path
 * against every route in front of it (the status routes had some thirty). A route whose group is not literal is
 * in every group.
 */
export function mountRoutes(ctx: ApiContext, specs: RouteSpec[]): RequestHandler {
  const keys = new Set(specs.map((spec) => groupOf(spec.path, true)).filter((key) => key !== undefined));
  const routers = new Map([...keys].map((key) => [key, Router()]));
  const others = Router();
  for (const spec of specs) {
    const key = groupOf(spec.path, true);
    for (const router of key === undefined ? [...routers.values(), others] : [routers.get(key)!]) mountRoute(ctx, router, spec);
  }
  const dispatch: RequestHandler = (req, res, next) => (routers.get(groupOf(req.path, false)!) ?? others)(req, res, next);
  // Shaped as a router's stack of mounted routers, so what walks Express's stack (the OpenAPI test) finds every route.
  return Object.assign(dispatch, { stack: [...routers.values(), others].map((handle) => ({ handle })) });
}

/** Mounts one spec on router: guard chain, optional pre-handlers, input parsing, handler. */
function mountRoute(ctx: ApiContext, router: Router, spec: RouteSpec): void {
  const handler: RequestHandler = async (req, res) => {
    const input = {
      params: spec.params ? parseInput(spec.params, req.params, 'path parameter') : {},
      query: spec.query ? parseInput(spec.query, req.query ?? {}, 'query parameter') : {},
      body:
        spec.body && spec.bodyContentType !== 'multipart/form-data'
          ? parseInput(spec.body, req.body, 'body field')
          : undefined,
    } as RouteInput<AnyObject, AnyObject, z.ZodType>;
    if (spec.quietSuccess) quietSuccess(res);
    await spec.handler(req, res, input);
  };
  router[spec.method](spec.path, ...guard(ctx, spec), ...(spec.before ?? []), handler);
}

/** Common path parameter schemas. */
export const uuidParam = z.uuid('must be a UUID').transform((s) => s.toLowerCase());
