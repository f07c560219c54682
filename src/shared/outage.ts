// The one classifier of outages: errors that mean PostgreSQL, Redis or the blob store cannot be reached right now.
// The API answers them 503 `unavailable` with Retry-After; workers retry them and never store them as internal.

/** errno codes of a connection that failed or broke (pg, ioredis, undici) and of a storage mount that went away. */
const ERRNO_CODES: ReadonlySet<string> = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EAI_AGAIN',
  // The store: an I/O error, a disconnected or stale network mount (NFS, FUSE, SMB).
  'EIO',
  'ENOTCONN',
  'ESTALE',
]);

/** SQLSTATEs of an unreachable or restarting server: 08xxx connection exceptions, 57P01-57P03 shutting down / starting. */
const SQLSTATE = /^(08[0-9A-Z]{3}|57P0[123])$/;

/** Prisma: can't reach server (P1001), timed out (P1002, P1008), server closed the connection (P1017), pool timeout (P2024). */
const PRISMA_CODES: ReadonlySet<string> = new Set(['P1001', 'P1002', 'P1008', 'P1017', 'P2024']);

/** Driver adapter error kinds (@prisma/adapter-pg convertDriverError) that are connection failures. */
const ADAPTER_KINDS: ReadonlySet<string> = new Set([
  'DatabaseNotReachable',
  'ConnectionClosed',
  'SocketTimeout',
  'TooManyConnections',
]);

/**
 * pg and ioredis report these as plain Errors without a code; their messages are all there is to go on. Exact
 * texts (or fixed prefixes) from pg 8 (client.js, pg-pool), ioredis 5 (Redis.ts, errors/MaxRetriesPerRequestError,
 * cluster/index.ts) and Redis Cluster's own replies.
 */
const MESSAGES: readonly RegExp[] = [
  /^Connection terminated( unexpectedly| due to connection timeout)?$/,
  /^timeout exceeded when trying to connect$/,
  /^Client has encountered a connection error and is not queryable$/,
  /^Connection is closed\.$/,
  /^Stream isn't writeable and enableOfflineQueue options is false$/,
  /^Reached the max retries per request limit/,
  // A Redis Cluster (ioredis 5 cluster/index.ts): no node reachable, or the slot's node down or moving.
  /^Cluster isn't ready and enableOfflineQueue options is false$/,
  /^None of startup nodes is available$/,
  /^Failed to refresh slots cache\.$/,
  /^Too many Cluster redirections\./,
  /^(CLUSTERDOWN|TRYAGAIN) /,
];

/**
 * The AWS SDK (S3 blob store): connection errors come with their errno code (above); beyond those, its socket and
 * connection timeouts (name TimeoutError, no code) and a 5xx the store still answered after the SDK's retries
 * (503 SlowDown, 500 InternalError: $fault 'server').
 */
function isS3OutageNode(e: Record<string, unknown>): boolean {
  if (e.name === 'TimeoutError') return true;
  const status = (e.$metadata as { httpStatusCode?: unknown } | undefined)?.httpStatusCode;
  return e.$fault === 'server' && typeof status === 'number' && status >= 500;
}

function isOutageNode(e: Record<string, unknown>): boolean {
  const code = typeof e.code === 'string' ? e.code : undefined;
  if (code && (ERRNO_CODES.has(code) || PRISMA_CODES.has(code) || SQLSTATE.test(code))) return true;
  if (typeof e.originalCode === 'string' && SQLSTATE.test(e.originalCode)) return true;
  if (typeof e.kind === 'string' && ADAPTER_KINDS.has(e.kind)) return true;
  if (e.name === 'MaxRetriesPerRequestError') return true;
  if (isS3OutageNode(e)) return true;
  return typeof e.message === 'string' && MESSAGES.some((m) => m.test(e.message as string));
}

/**
 * True when err (or what it wraps: `cause`, Prisma's `meta.driverAdapterError`, an AggregateError's `errors`) says
 * a database, Redis or store connection is down. Configuration faults (a wrong password, a missing database)
 * are not outages: retrying does not mend them.
 */
export function isOutageError(err: unknown): boolean {
  const seen = new Set<unknown>();
  const queue: unknown[] = [err];
  while (queue.length > 0 && seen.size < 16) {
    const e = queue.shift();
    if (!e || typeof e !== 'object' || seen.has(e)) continue;
    seen.add(e);
    const node = e as Record<string, unknown>;
    if (isOutageNode(node)) return true;
    queue.push(node.cause, (node.meta as Record<string, unknown> | undefined)?.driverAdapterError);
    if (Array.isArray(node.errors)) queue.push(...(node.errors as unknown[]));
  }
  return false;
}
