// The element (SPEC §5): its modes, its capacity report and the info answer. Imports only zod.
import { z } from 'zod';

/** The element's modes (SPEC §4): edit, read-write, read-only, archived; what each allows is the domain's rule. */
export const MODES = ['edit', 'rw', 'ro', 'ar'] as const;
export type Mode = (typeof MODES)[number];

export const CAPACITY_STATUSES = ['ok', 'warning', 'critical', 'full'] as const;

export const capacityReportSchema = z.object({
  totalBytes: z.number().int(),
  usedBytes: z.number().int(),
  freeBytes: z.number().int(),
  status: z.enum(CAPACITY_STATUSES),
});
export type CapacityReport = z.output<typeof capacityReportSchema>;

export const elementInfoSchema = z
  .object({
    elementId: z.string(),
    mode: z.enum(MODES),
    version: z.string(),
    capacity: capacityReportSchema,
    /** STORAGE_LOCATION and STORAGE_PRIORITY (SPEC §10), as GET /api/v1/capacity reports them. */
    location: z.string().nullable(),
    priority: z.number().int(),
    files: z.number().int(),
    queue: z.object({ waiting: z.number().int(), active: z.number().int(), failed: z.number().int(), delayed: z.number().int() }),
  })
  .meta({ id: 'ElementInfo' });
export type ElementInfo = z.output<typeof elementInfoSchema>;

export const modeChangeSchema = z.object({ mode: z.enum(MODES), reason: z.string().max(500).optional() }).strict();
export const modeAnswerSchema = z.object({ mode: z.enum(MODES) });
