// The migrations in prisma/migrations and prisma/schema.prisma describe the same database.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { inject, describe, expect, it } from 'vitest';

const run = promisify(execFile);

describe('prisma migrations', () => {
  it('match schema.prisma (migrate diff reports no difference)', async () => {
    const { databaseUrl } = inject('testEnv');
    const result = await run(
      process.execPath,
      ['node_modules/prisma/build/index.js', 'migrate', 'diff', '--from-migrations', 'prisma/migrations', '--to-schema-datamodel', 'prisma/schema.prisma', '--exit-code'],
      { env: { ...process.env, DATABASE_URL: databaseUrl }, timeout: 120_000 },
    ).then(
      (r) => ({ code: 0, out: r.stdout + r.stderr }),
      (e: { code?: number; stdout?: string; stderr?: string }) => ({ code: e.code, out: `${e.stdout}${e.stderr}` }),
    );
    expect(result.out).toContain('No difference detected');
    expect(result.code).toBe(0);
  });
});
