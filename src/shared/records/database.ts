// Prisma client factory over @prisma/adapter-pg (no native engine), one pg pool per process. The same pool serves
// the few hot-path statements written in SQL (poolOf): Prisma's query compiler costs about 1.4 ms of CPU per
// findFirst where the pool costs 0.12 ms (bench/), which decides the req/s of status polling and ingest.
import { PrismaPg } from '@prisma/adapter-pg';
import pg from 'pg';
import { Prisma, PrismaClient } from '../db/generated/client.js';
import type { Config } from '../config.js';

export type Db = PrismaClient;
export { Prisma };

const pools = new WeakMap<Db, pg.Pool>();

export function createDb(config: Pick<Config, 'databaseUrl' | 'databasePoolSize'>): Db {
  const pool = new pg.Pool({
    connectionString: config.databaseUrl,
    max: config.databasePoolSize,
    // Fail a request that cannot get a connection instead of queueing forever (Prisma P2024 in disguise).
    connectionTimeoutMillis: 10_000,
  });
  // An idle connection that breaks is dropped by the pool; without a listener its 'error' would end the process.
  pool.on('error', () => undefined);
  // $disconnect ends the pool too.
  const db = new PrismaClient({ adapter: new PrismaPg(pool, { disposeExternalPool: true }) });
  pools.set(db, pool);
  return db;
}

/**
 * The pg pool under db, for hot-path SQL ($1 parameters; int8 comes back as a string, timestamptz as a Date,
 * jsonb parsed). Prisma's adapter sets its own type parsers per query, so the two do not disturb each other.
 */
export function poolOf(db: Db): pg.Pool {
  const pool = pools.get(db);
  if (!pool) throw new Error('poolOf: this Prisma client was not made by createDb');
  return pool;
}

/** A client that runs queries: the database handle itself, or the transaction a caller opened on it. */
export type DbClient = Db | Prisma.TransactionClient;

/**
 * Whether err is PostgreSQL's unique_violation (SQLSTATE 23505) as the pg pool reports it, optionally on one named
 * constraint (Prisma's model API reports the same conflict as P2002 instead). The one place a conflict decided by a unique constraint is recognised.
 */
export function isUniqueViolation(err: unknown, constraint?: string): boolean {
  const e = err as { code?: string; constraint?: string } | null;
  return e?.code === '23505' && (constraint === undefined || e.constraint === constraint);
}

/** One round trip that proves the database answers (readiness). */
export async function pingDatabase(db: Db): Promise<void> {
  await db.$queryRaw`SELECT 1`;
}
