// Requests on stored files (SPEC §5): the metadata patch body and the exists question and answer. Imports only zod and other contract files.
import { z } from 'zod';
import { utf8Bytes } from './text.js';

export const MAX_EXISTS_DIGESTS = 1000;

export const metadataPatchSchema = z
  .object({
    description: z.string().max(1000).nullable().optional(),
    version: z.string().max(50).nullable().optional(),
    tags: z.array(z.string().trim().min(1).max(100)).max(50).optional(),
    metadata: z
      .record(z.string(), z.unknown())
      .refine((m) => utf8Bytes(JSON.stringify(m)) <= 16 * 1024, 'at most 16 KiB as JSON')
      .optional(),
  })
  .strict()
  .refine((p) => Object.keys(p).length > 0, 'send at least one of description, version, tags, metadata');

export const existsRequestSchema = z
  .object({
    sha256: z
      .array(z.string().regex(/^[0-9a-fA-F]{64}$/, 'must be 64 hex digits').transform((s) => s.toLowerCase()))
      .max(MAX_EXISTS_DIGESTS, `at most ${MAX_EXISTS_DIGESTS} digests`),
  })
  .strict();

export const existsAnswerSchema = z.object({ present: z.array(z.string()), missing: z.array(z.string()) });
export type ExistsAnswer = z.output<typeof existsAnswerSchema>;
