// The error body of every 4xx/5xx answer (RFC 9457 problem+json with a stable code, SPEC §5). Imports nothing of
// the server.
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

export type Problem = z.output<typeof problemSchema>;
