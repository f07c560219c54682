// isOutageError tells connection failures from faults, on errors the real drivers throw: Prisma and pg against a
// port where nothing listens and a backend the server terminates, ioredis offline; and faults that are not outages.
import { randomUUID } from 'node:crypto';
import fs from 'node:fs/promises';
import { Redis } from 'ioredis';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { createDb, type Db } from '../../src/shared/records/database.js';
import { AppError } from '../../src/shared/errors.js';
import { isOutageError } from '../../src/shared/outage.js';
import { createProducerConnection } from '../../src/shared/redis.js';
import { freePort } from '../helpers/processes.js';
import { until } from '../helpers/wait.js';

const caught = async (p: Promise<unknown>): Promise<unknown> =>
  p.then(
    () => {
      throw new Error('expected a rejection');
    },
    (err: unknown) => err,
  );

describe('isOutageError', () => {
  let deadUrl: string;
  let db: Db;

  beforeAll(async () => {
    const url = new URL(inject('testEnv').databaseUrl);
    db = createDb({ databaseUrl: url.toString(), databasePoolSize: 1 });
    url.port = String(await freePort());
    deadUrl = url.toString();
  });
  afterAll(async () => db?.$disconnect());

  it('recognises PostgreSQL that cannot be reached, through Prisma and through pg', async () => {
    const dead = createDb({ databaseUrl: deadUrl, databasePoolSize: 1 });
    try {
      expect(isOutageError(await caught(dead.fileJob.findFirst()))).toBe(true);
      expect(isOutageError(await caught(dead.$queryRaw`SELECT 1`))).toBe(true);
      expect(isOutageError(await caught(dead.$transaction(async (tx) => tx.file.count())))).toBe(true);
    } finally {
      await dead.$disconnect();
    }
    const client = new pg.Client({ connectionString: deadUrl });
    expect(isOutageError(await caught(client.connect()))).toBe(true);
  });

  /** Terminates (pg_terminate_backend) the backend running a query whose text contains marker, once it runs. */
  async function terminateBackendRunning(marker: string): Promise<void> {
    const admin = new pg.Client({ connectionString: inject('testEnv').databaseUrl });
    await admin.connect();
    try {
      let pid: number | undefined;
      const running = async () => {
        const { rows } = await admin.query<{ pid: number }>(
          `SELECT pid FROM pg_stat_activity WHERE state = 'active' AND query LIKE $1 AND pid <> pg_backend_pid()`,
          [`%${marker}%`],
        );
        pid = rows[0]?.pid;
        return pid !== undefined;
      };
      await until(`a backend running ${marker}`, running, 10_000, 20);
      await admin.query('SELECT pg_terminate_backend($1)', [pid]);
    } finally {
      await admin.end();
    }
  }

  it('recognises a backend the server terminated mid-query (57P01 admin_shutdown), through pg and Prisma', async () => {
    const victim = new pg.Client({ connectionString: inject('testEnv').databaseUrl });
    await victim.connect();
    victim.on('error', () => undefined);
    const running = caught(victim.query('SELECT pg_sleep(5.01)'));
    await terminateBackendRunning('pg_sleep(5.01)');
    const err = await running;
    expect(err).toMatchObject({ code: '57P01' });
    expect(isOutageError(err)).toBe(true);
    await victim.end().catch(() => undefined);

    const viaPrisma = caught(db.$queryRaw`SELECT pg_sleep(5.02)`);
    await terminateBackendRunning('pg_sleep(5.02)');
    const prismaErr = await viaPrisma;
    expect(isOutageError(prismaErr), String(prismaErr)).toBe(true);
  });

  it('recognises Redis that cannot be reached (offline queue disabled, retries per request used up)', async () => {
    const port = await freePort();
    const producer = createProducerConnection({ redisUrl: `redis://127.0.0.1:${port}` });
    producer.on('error', () => undefined);
    const retrying = new Redis({ host: '127.0.0.1', port, maxRetriesPerRequest: 1, retryStrategy: () => 50 });
    retrying.on('error', () => undefined);
    try {
      expect(isOutageError(await caught(producer.get('k')))).toBe(true);
      expect(isOutageError(await caught(retrying.get('k')))).toBe(true);
    } finally {
      producer.disconnect();
      retrying.disconnect();
    }
  });

  it('recognises a store mount that went away (EIO, ENOTCONN, ESTALE)', () => {
    // A dead NFS or FUSE mount cannot be made here; these are the errno errors Node's fs raises for one.
    for (const code of ['EIO', 'ENOTCONN', 'ESTALE']) {
      expect(isOutageError(Object.assign(new Error(`${code}: read`), { code, syscall: 'read' }))).toBe(true);
    }
  });

  it('does not call a fault an outage', async () => {
    const missingDb = new URL(inject('testEnv').databaseUrl);
    missingDb.pathname = `/no_such_db_${randomUUID().slice(0, 8)}`;
    const wrong = createDb({ databaseUrl: missingDb.toString(), databasePoolSize: 1 });
    try {
      expect(isOutageError(await caught(wrong.file.count()))).toBe(false);
    } finally {
      await wrong.$disconnect();
    }
    expect(isOutageError(await caught(db.$queryRaw`SELECT no_such_column FROM files`))).toBe(false);
    expect(isOutageError(await caught(db.$queryRaw`SELECT 1/0`))).toBe(false);
    expect(isOutageError(await caught(fs.readFile(`/nonexistent/${randomUUID()}`)))).toBe(false);
    expect(isOutageError(new AppError('conflict', 'taken'))).toBe(false);
    expect(isOutageError(new Error('boom'))).toBe(false);
    expect(isOutageError(undefined)).toBe(false);
  });
});
