// Prisma client factory over @prisma/adapter-pg (no native engine), one pool per process.
import { PrismaPg } from '@prisma/adapter-pg';
import { PrismaClient } from './db/generated/client.js';
import type { Config } from './config.js';

export type Db = PrismaClient;
export { Prisma } from './db/generated/client.js';

export function createDb(config: Pick<Config, 'databaseUrl' | 'databasePoolSize'>): Db {
  const adapter = new PrismaPg({
    connectionString: config.databaseUrl,
    max: config.databasePoolSize,
    // Fail a request that cannot get a connection instead of queueing forever (Prisma P2024 in disguise).
    connectionTimeoutMillis: 10_000,
  });
  return new PrismaClient({ adapter });
}
