// The part of the config that says where state lives beyond one host (SPEC §8): the blob backend (local or an S3
// bucket) and Redis (one server or a cluster, with the queue prefix that must carry a hash tag there). Parsing
// only: config.ts reads the environment and merges this in.
import { z } from 'zod';

const optionalText = z
  .string()
  .optional()
  .transform((v) => (v === undefined || v.trim() === '' ? undefined : v));

export const backendEnvShape = {
  QUEUE_PREFIX: z
    .string()
    .regex(/^[A-Za-z0-9_{}.-]+$/, 'letters, digits, _ . - and {} only')
    .optional(),
  BLOB_BACKEND: z.enum(['local', 's3']).default('local'),
  S3_ENDPOINT: z.url().optional(),
  S3_REGION: z.string().min(1).default('us-east-1'),
  S3_BUCKET: optionalText,
  S3_PREFIX: z.string().default(''),
  S3_ACCESS_KEY_ID: optionalText,
  S3_SECRET_ACCESS_KEY: optionalText,
  REDIS_CLUSTER_NODES: optionalText,
};

type BackendEnv = z.infer<z.ZodObject<typeof backendEnvShape>>;

export type S3Config = Readonly<{
  /** Unset for AWS itself; set for any other S3-compatible store (path-style addressing, checksums when required). */
  endpoint?: string;
  region: string;
  bucket: string;
  /** Key prefix inside the bucket, used exactly as given (a trailing '/' included). */
  prefix: string;
  /** Both set, or neither (the SDK's default credential chain). Never logged. */
  credentials?: Readonly<{ accessKeyId: string; secretAccessKey: string }>;
}>;

export type BackendConfig = Readonly<{
  /** The prefix of every Redis key the element writes, exactly as given. */
  queuePrefix: string;
  /** Where blobs and attr.json live (SPEC §8): this machine's STORAGE_PATH, or an S3-compatible bucket. */
  blobBackend: 'local' | 's3';
  /** Set when blobBackend is 's3'. */
  s3?: S3Config;
  /** Set when REDIS_CLUSTER_NODES is: every Redis use goes through this cluster and redisUrl is ignored. */
  redisClusterNodes?: readonly Readonly<{ host: string; port: number }>[];
}>;

/** The backend settings of a parsed environment; problems get one line per bad value. */
export function backendsOf(e: BackendEnv, problems: string[]): BackendConfig {
  if (e.BLOB_BACKEND === 's3' && !e.S3_BUCKET) problems.push('S3_BUCKET: required with BLOB_BACKEND=s3');
  if (Boolean(e.S3_ACCESS_KEY_ID) !== Boolean(e.S3_SECRET_ACCESS_KEY)) {
    problems.push('S3_ACCESS_KEY_ID and S3_SECRET_ACCESS_KEY: set both or neither');
  }
  const redisClusterNodes = parseClusterNodes(e.REDIS_CLUSTER_NODES, problems);
  // On a cluster BullMQ's multi-key scripts need every key of a queue in one slot: the prefix carries a hash tag.
  const queuePrefix = e.QUEUE_PREFIX ?? (redisClusterNodes ? '{artstore}' : 'artstore');
  if (redisClusterNodes && !hasHashTag(queuePrefix)) {
    problems.push(`QUEUE_PREFIX: with REDIS_CLUSTER_NODES it must hold a hash tag such as {${queuePrefix}} (BullMQ's scripts touch several keys of one queue at once)`);
  }
  const credentials =
    e.S3_ACCESS_KEY_ID && e.S3_SECRET_ACCESS_KEY ? Object.freeze({ accessKeyId: e.S3_ACCESS_KEY_ID, secretAccessKey: e.S3_SECRET_ACCESS_KEY }) : undefined;
  return {
    queuePrefix,
    blobBackend: e.BLOB_BACKEND,
    s3:
      e.BLOB_BACKEND === 's3' && e.S3_BUCKET
        ? Object.freeze({ endpoint: e.S3_ENDPOINT, region: e.S3_REGION, bucket: e.S3_BUCKET, prefix: e.S3_PREFIX, credentials })
        : undefined,
    redisClusterNodes: redisClusterNodes && Object.freeze(redisClusterNodes.map((n) => Object.freeze(n))),
  };
}

/** `host:port,host:port`; undefined when unset, problems appended for entries that are not host:port. */
function parseClusterNodes(text: string | undefined, problems: string[]): { host: string; port: number }[] | undefined {
  if (text === undefined) return undefined;
  const nodes: { host: string; port: number }[] = [];
  for (const entry of text.split(',').map((s) => s.trim()).filter(Boolean)) {
    const m = /^(\[[0-9a-fA-F:]+\]|[^:\s]+):(\d{1,5})$/.exec(entry);
    const port = m ? Number(m[2]) : 0;
    if (!m || port < 1 || port > 65535) {
      problems.push(`REDIS_CLUSTER_NODES: ${JSON.stringify(entry)} is not host:port`);
      continue;
    }
    nodes.push({ host: m[1]!.replace(/^\[|\]$/g, ''), port });
  }
  if (nodes.length === 0) problems.push('REDIS_CLUSTER_NODES: give at least one host:port');
  return nodes;
}

/**
 * Whether keys under prefix hash by a tag: Redis takes what lies between the first `{` and the first `}` after it,
 * and only when that is not empty (`x{}{y}` hashes whole, so its keys would scatter over the slots).
 */
function hasHashTag(prefix: string): boolean {
  return /^[^{]*\{[^}]+\}/.test(prefix);
}
