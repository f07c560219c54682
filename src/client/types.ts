// Request and response types of the client, all derived from the wire contract (src/contract): the schemas the API
// validates with are the source, so the client cannot drift from them.
import type { z } from 'zod';
import type { ElementInfo, Mode } from '../contract/element.js';
import type { ExistsAnswer, metadataPatchSchema } from '../contract/file-edits.js';
import type { FilePage as FilePageWire, fileSearchQuerySchema } from '../contract/file-search.js';
import type { FileMetadata } from '../contract/files.js';
import type { Job, JobList, JobState } from '../contract/jobs.js';
import { FINAL_JOB_STATES as FINAL_JOB_STATE_LIST } from '../contract/wire-constants.js';
import type { Problem } from '../contract/problem.js';
import type { uploadFieldsSchema, uploadQuerySchema } from '../contract/uploads.js';
import type { retentionRequestSchema } from '../contract/retention.js';

export type { ElementInfo, ExistsAnswer, FileMetadata, Job, JobList, JobState, Mode, Problem };

/** Form fields of an upload as the API reads them (all text); tags, metadata, ttlDays and legalHold may also be given unencoded. */
type UploadFieldsWire = z.input<typeof uploadFieldsSchema>;
export type UploadFields = Omit<UploadFieldsWire, 'tags' | 'metadata' | 'ttlDays' | 'legalHold'> & {
  tags?: string[] | UploadFieldsWire['tags'];
  metadata?: Record<string, unknown> | UploadFieldsWire['metadata'];
  ttlDays?: number | UploadFieldsWire['ttlDays'];
  legalHold?: boolean | UploadFieldsWire['legalHold'];
};
export type UploadQuery = z.input<typeof uploadQuerySchema>;

/** Search and list parameters as the API reads them (query text); numbers and booleans are accepted where the API wants them as text. */
type SearchQueryWire = z.input<typeof fileSearchQuerySchema>;
export type SearchQuery = {
  [K in keyof SearchQueryWire]?: SearchQueryWire[K] | (K extends 'minSize' | 'maxSize' | 'limit' ? number : never) | (K extends 'legalHold' ? boolean : never);
};

export type MetadataPatchBody = z.input<typeof metadataPatchSchema>;
export type RetentionBody = z.input<typeof retentionRequestSchema>;
/** One page of a search or listing. `total` is not sent by the API today; kept for callers that read it. */
export type FilePage = FilePageWire & { total?: number };

export const FINAL_JOB_STATES: ReadonlySet<JobState> = new Set<JobState>(FINAL_JOB_STATE_LIST);
