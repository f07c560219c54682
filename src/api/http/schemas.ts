// zod schemas of the API's resources and error body (SPEC §5), used for responses in the OpenAPI document.
import { z } from 'zod';

export const problemSchema = z
  .object({
    type: z.string(),
    title: z.string(),
    status: z.number().int(),
    detail: z.string(),
    code: z.string().describe('stable snake_case error code'),
    parameter: z.string().optional().describe('the offending parameter, when one is to blame'),
  })
  .meta({ id: 'Problem' });

export const fileMetadataSchema = z
  .object({
    id: z.uuid(),
    fileName: z.string(),
    contentType: z.string(),
    size: z.number().int(),
    sha256: z.string(),
    description: z.string().nullable(),
    version: z.string().nullable(),
    tags: z.array(z.string()),
    metadata: z.record(z.string(), z.unknown()),
    owner: z.string(),
    ownerName: z.string().nullable(),
    createdAt: z.iso.datetime(),
    updatedAt: z.iso.datetime(),
    revision: z.number().int(),
    elementId: z.string(),
  })
  .meta({ id: 'FileMetadata' });

export const jobSchema = z
  .object({
    id: z.uuid(),
    kind: z.enum(['ingest', 'update', 'delete']),
    state: z.enum(['queued', 'hashing', 'committing', 'committed', 'duplicate', 'failed']),
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
  })
  .meta({ id: 'Job' });

export const jobListSchema = z.object({ jobs: z.array(jobSchema) });

/** Standard error responses, merged into each route's responses. */
export function errors(...statuses: number[]): Record<number, { description: string; schema: typeof problemSchema; contentType: string }> {
  const text: Record<number, string> = {
    400: 'validation_failed',
    401: 'unauthorized: missing, invalid or expired token',
    403: 'forbidden: the role lacks the right',
    404: 'not_found',
    409: 'conflict, mode_forbids or archived',
    412: 'precondition_failed: stale If-Match',
    413: 'payload_too_large or too_many_files',
    416: 'range_not_satisfiable',
    429: 'too_many_requests: the principal has too many uploads or job streams open (see Retry-After)',
    503: 'unavailable: PostgreSQL, Redis or the blob store cannot be reached (see Retry-After)',
    507: 'insufficient_storage',
  };
  return Object.fromEntries(
    statuses.map((s) => [s, { description: text[s] ?? 'error', schema: problemSchema, contentType: 'application/problem+json' }]),
  );
}
