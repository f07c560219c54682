// Prisma CLI configuration: the JS schema engine over @prisma/adapter-pg, so generate and migrate run offline.
import 'dotenv/config';
import path from 'node:path';
import { defineConfig } from 'prisma/config';
import { migrationAdapterFactory } from './prisma/migration-adapter.ts';

// The CLI reads only DATABASE_URL; the service's own config (src/shared/config.ts) documents the same default.
process.env.DATABASE_URL ??= 'postgresql://postgres@127.0.0.1:5432/artstore';
const databaseUrl = process.env.DATABASE_URL;

export default defineConfig({
  experimental: { adapter: true },
  engine: 'js',
  schema: path.join('prisma', 'schema.prisma'),
  migrations: { path: path.join('prisma', 'migrations') },
  adapter: async () => migrationAdapterFactory(databaseUrl),
});
