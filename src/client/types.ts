// Request and response types of the client, derived from the API's own zod schemas and domain types (type-only imports).
import type { z } from 'zod';
import type { fileMetadataSchema } from '../contract/files.js';
import type { jobListSchema, jobSchema } from '../contract/jobs.js';
import type { problemSchema } from '../contract/problem.js';
import type { uploadFieldsSchema, uploadQuerySchema } from '../api/http/upload-fields.js';
import type { fileSearchQuerySchema } from '../api/routes/search.js';
import type { Mode } from '../shared/config.js';
import type { CapacityReport } from '../shared/domain/capacity.js';
import type { MetadataPatch } from '../shared/domain/file-requests.js';

export type Job = z.output<typeof jobSchema>;
export type JobState = Job['state'];
export type JobList = z.output<typeof jobListSchema>;
export type FileMetadata = z.output<typeof fileMetadataSchema>;
export type Problem = z.output<typeof problemSchema>;
export type { Mode };

/** Form fields of an upload as the API reads them (all text); tags and metadata may also be given unencoded. */
type UploadFieldsWire = z.input<typeof uploadFieldsSchema>;
export type UploadFields = Omit<UploadFieldsWire, 'tags' | 'metadata'> & {
  tags?: string[] | UploadFieldsWire['tags'];
  metadata?: Record<string, unknown> | UploadFieldsWire['metadata'];
};
export type UploadQuery = z.input<typeof uploadQuerySchema>;

/** Search and list parameters as the API reads them (query text); numbers are accepted where the API wants digits. */
type SearchQueryWire = z.input<typeof fileSearchQuerySchema>;
export type SearchQuery = { [K in keyof SearchQueryWire]?: SearchQueryWire[K] | (K extends 'minSize' | 'maxSize' | 'limit' ? number : never) };

// The API does not export the zod schemas of these bodies (route-local in file-edits.ts, search.ts, element.ts):
// the client takes the domain types they mirror, and spells out only the small remainder.
export type MetadataPatchBody = MetadataPatch;
export interface FilePage {
  items: FileMetadata[];
  nextCursor: string | null;
  total?: number;
}
export interface ExistsAnswer {
  present: string[];
  missing: string[];
}
export interface ElementInfo {
  elementId: string;
  mode: Mode;
  version: string;
  capacity: CapacityReport;
  files: number;
  queue: { waiting: number; active: number; failed: number; delayed: number };
}

export const FINAL_JOB_STATES: ReadonlySet<JobState> = new Set<JobState>(['committed', 'duplicate', 'failed']);
