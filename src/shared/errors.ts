// AppError: the one error type with a stable code; each code maps once to an HTTP status.
export const ERROR_STATUS = {
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  validation_failed: 400,
  payload_too_large: 413,
  too_many_files: 413,
  checksum_mismatch: 422,
  insufficient_storage: 507,
  mode_forbids: 409,
  archived: 409,
  corrupt: 409,
  range_not_satisfiable: 416,
  precondition_failed: 412,
  conflict: 409,
  // A legal hold or an unexpired retention protects the file (SPEC §10): for everyone, admin included.
  retention_active: 409,
  unavailable: 503,
  // Answered by the HTTP parser's handlers (api/http/client-error.ts), before a request reaches a route.
  headers_too_large: 431,
  request_timeout: 408,
  expectation_failed: 417,
  too_many_requests: 429,
  // Resumable uploads (SPEC §9): tus answers a busy upload with 423, the IETF draft with 409.
  too_many_open_uploads: 429,
  upload_locked: 423,
  upload_busy: 409,
  upload_offset_mismatch: 409,
  upload_completed: 409,
  upload_length_mismatch: 400,
  unsupported_media_type: 415,
  // Not answered any more (resumable uploads work on S3 staging too); kept: older elements answer it, clients know it.
  resumable_unsupported: 501,
  staged_file_missing: 500,
  internal: 500,
} as const;

export type ErrorCode = keyof typeof ERROR_STATUS;

export class AppError extends Error {
  readonly status: number;

  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
    this.name = 'AppError';
    this.status = ERROR_STATUS[code];
  }
}

/** Errors a job must not retry: the same input would fail the same way (BullMQ UnrecoverableError semantics). */
export const PERMANENT_JOB_ERRORS: ReadonlySet<ErrorCode> = new Set<ErrorCode>([
  'checksum_mismatch',
  'insufficient_storage',
  'mode_forbids',
  'conflict',
  'staged_file_missing',
  'validation_failed',
  'not_found',
  'precondition_failed',
  'forbidden',
  'retention_active',
]);

export function isAppError(err: unknown, code?: ErrorCode): err is AppError {
  return err instanceof AppError && (code === undefined || err.code === code);
}
