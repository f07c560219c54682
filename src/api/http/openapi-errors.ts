// The standard error responses of the OpenAPI document; the resources' schemas are the wire contract (src/contract).
import { problemSchema } from '../../contract/problem.js';

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
    415: 'unsupported_media_type: the body has the wrong Content-Type',
    416: 'range_not_satisfiable',
    423: 'upload_locked: another request is writing this upload (tus)',
    429: 'too_many_requests: the principal has too many uploads or job streams open (see Retry-After)',
    503: 'unavailable: PostgreSQL, Redis or the blob store cannot be reached (see Retry-After)',
    507: 'insufficient_storage',
  };
  return Object.fromEntries(
    statuses.map((s) => [s, { description: text[s] ?? 'error', schema: problemSchema, contentType: 'application/problem+json' }]),
  );
}
