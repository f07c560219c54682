// The cluster interfaces (SPEC §10): what the Admin Module and the Ingester call, as wire schemas. Imports only zod.
import { z } from 'zod';
import { MODES } from './element.js';

export const serviceRootSchema = z
  .object({
    service: z.literal('ArtStore Storage Element'),
    version: z.string(),
    mode: z.enum(MODES),
    storageType: z.enum(['local', 's3']),
    /** `ok` whenever the process answers; readiness is GET /health/ready, capacity health GET /api/v1/capacity. */
    status: z.literal('ok'),
  })
  .meta({ id: 'ServiceRoot' });

export const CAPACITY_HEALTH = ['healthy', 'degraded', 'unhealthy'] as const;

export const clusterCapacitySchema = z
  .object({
    storageId: z.string(),
    mode: z.enum(MODES),
    capacity: z.object({
      total: z.number().int(),
      used: z.number().int(),
      available: z.number().int(),
      percentUsed: z.number(),
    }),
    health: z.enum(CAPACITY_HEALTH),
    lastUpdate: z.iso.datetime(),
    backend: z.enum(['local', 's3']),
    location: z.string().nullable(),
    priority: z.number().int(),
  })
  .meta({ id: 'ClusterCapacity' });
export type ClusterCapacity = z.output<typeof clusterCapacitySchema>;

export const CLEANUP_TYPES = ['ttl_expired', 'finalized', 'orphaned'] as const;

export const gcDeleteSchema = z
  .object({
    reason: z.string().max(500).optional(),
    cleanupType: z.enum(CLEANUP_TYPES).optional(),
  })
  .strict();

export const gcDeleteAnswerSchema = z
  .object({
    status: z.enum(['deleted', 'already_deleted']),
    fileId: z.uuid(),
    deletedAt: z.iso.datetime(),
    deletedBy: z.string(),
    reason: z.string().nullable(),
  })
  .meta({ id: 'GcDeleteAnswer' });
export type GcDeleteAnswer = z.output<typeof gcDeleteAnswerSchema>;

export const gcExistsSchema = z.object({ exists: z.boolean(), fileId: z.uuid() }).meta({ id: 'GcExists' });

export const REBUILD_MODES = ['full', 'incremental'] as const;
export type RebuildMode = (typeof REBUILD_MODES)[number];
export const indexRebuildSchema = z.object({ mode: z.enum(REBUILD_MODES).default('full') }).strict();

/** A maintenance run that ended within the request: its result, and its job (which keeps the result too). */
export const maintenanceResultSchema = z.looseObject({ jobId: z.uuid() }).meta({ id: 'MaintenanceResult' });

/** A maintenance run still going when the request's wait ended: poll its job (Location). */
export const maintenanceStartedSchema = z
  .object({ jobId: z.uuid(), state: z.literal('committing') })
  .meta({ id: 'MaintenanceStarted' });

export const maintenanceQuerySchema = z
  .object({ wait: z.coerce.number().int().min(0).max(30).default(10).describe('seconds to wait for the result (0-30, default 10)') })
  .strict();

export const consistencyReportSchema = z
  .object({
    attrFiles: z.number().int(),
    liveAttrFiles: z.number().int(),
    unreadableAttrFiles: z.number().int(),
    fileRows: z.number().int(),
    liveFileRows: z.number().int(),
    orphanAttrFiles: z.object({ count: z.number().int(), examples: z.array(z.object({ fileId: z.string(), attrPath: z.string() })) }),
    orphanFileRows: z.object({ count: z.number().int(), examples: z.array(z.object({ fileId: z.string(), attrPath: z.string() })) }),
    isConsistent: z.boolean(),
  })
  .meta({ id: 'ConsistencyReport' });
export type ConsistencyReport = z.output<typeof consistencyReportSchema>;
