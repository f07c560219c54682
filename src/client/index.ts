// The typed ArtStore client, as other services import it (package export "./client").
export { createClient, type Client, type ClientOptions, type DownloadOptions, type UploadAnswer, type UploadOptions, type UploadSource } from './client.js';
export { ArtstoreError } from './errors.js';
export { DEFAULT_RETRY, type RetryPolicy } from './retry.js';
export { FINAL_JOB_STATES } from './types.js';
export type {
  ElementInfo,
  ExistsAnswer,
  FileMetadata,
  FilePage,
  Job,
  JobList,
  JobState,
  MetadataPatchBody,
  Mode,
  Problem,
  SearchQuery,
  UploadFields,
  UploadQuery,
} from './types.js';
