// The typed ArtStore client, as other services import it (package export "./client").
export { createClient, type Client } from './client.js';
export { ArtstoreError } from './errors.js';
export { LocalFileChangedError } from './streamed-body.js';
export { isResumableUnsupported, resumableUnsupportedError, type ResumableUploadAnswer, type ResumableUploadOptions } from './resumable-upload.js';
export type { DownloadOptions } from './file-methods.js';
export { DEFAULT_RETRY, type RetryPolicy } from './retry.js';
export type { ClientOptions } from './transport.js';
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
  RetentionBody,
  SearchQuery,
  UploadFields,
  UploadQuery,
} from './types.js';
export type { UploadAnswer, UploadOptions, UploadSource } from './upload.js';
