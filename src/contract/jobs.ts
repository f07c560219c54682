// The Job resource (SPEC §5): kinds, states (which of them are final) and the wire shape. Imports nothing of the
// server.
import { z } from 'zod';
import { fileMetadataSchema } from './files.js';
import { FINAL_JOB_STATES } from './wire-constants.js';

export { FINAL_JOB_STATES };

/** `maintenance`: an index rebuild, consistency report or cleanup run over HTTP (SPEC §10), with its `result`. */
export const JOB_KINDS = ['ingest', 'update', 'delete', 'maintenance'] as const;
export type JobKind = (typeof JOB_KINDS)[number];

/** States of a job still under way. */
export const OPEN_JOB_STATES = ['queued', 'hashing', 'committing'] as const;
export const JOB_STATES = [...OPEN_JOB_STATES, ...FINAL_JOB_STATES] as const;
export type JobState = (typeof JOB_STATES)[number];

export function isFinalState(state: string): boolean {
  return (FINAL_JOB_STATES as readonly string[]).includes(state);
}

export const jobSchema = z
  .object({
    id: z.uuid(),
    kind: z.enum(JOB_KINDS),
    state: z.enum(JOB_STATES),
    progress: z.number().int().min(0).max(100),
    fileName: z.string(),
    size: z.number().int(),
    sha256: z.string().optional(),
    fileId: z.uuid().optional(),
    duplicateOf: z.uuid().optional(),
    error: z.object({ code: z.string(), message: z.string() }).optional(),
    attempts: z.number().int(),
    createdAt: z.iso.datetime(),
    updatedAt: z.iso.datetime(),
    finishedAt: z.iso.datetime().optional(),
    file: fileMetadataSchema.optional(),
    /** A maintenance job's report once it has ended. */
    result: z.record(z.string(), z.unknown()).optional(),
  })
  .meta({ id: 'Job' });

export type Job = z.output<typeof jobSchema>;

export const jobListSchema = z.object({ jobs: z.array(jobSchema) });
export type JobList = z.output<typeof jobListSchema>;
