// The FileMetadata resource (SPEC §5): the one source of a file record's shape on the wire, in attr.json and in
// the client. Imports nothing of the server.
import { z } from 'zod';
import { retentionFieldsShape } from './retention.js';

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
    ...retentionFieldsShape,
  })
  .meta({ id: 'FileMetadata' });

export type FileMetadata = z.output<typeof fileMetadataSchema>;
