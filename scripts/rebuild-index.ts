// npm run rebuild-index -- [--dry-run] [--wipe --yes]: rebuilds the File and Blob tables from the attr.json files.
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import { loadConfigOrExit } from '../src/shared/config.js';
import { createDb } from '../src/shared/records/database.js';
import { databaseNameOf, databaseServerOf } from '../src/shared/records/database-url.js';
import { probeFilesTable } from '../src/shared/records/files.js';
import { rebuildIndex, type RebuildProgress } from '../src/shared/domain/index-rebuild.js';
import { openStorage } from '../src/shared/storage/storage-backends.js';

const USAGE = `usage: npm run rebuild-index -- [--dry-run] [--wipe --yes] [--batch-size N]
  Reads STORAGE_PATH/files/**/*.attr.json (never writes there) and upserts the File and Blob rows they record.
  --dry-run      validate and count only; the database is not touched
  --wipe --yes   TRUNCATE files and blobs first, then rebuild
  --batch-size   rows per INSERT (default 500)
Progress goes to stderr, the final JSON report to stdout.`;

function usageError(message: string): never {
  process.stderr.write(`rebuild-index: ${message}\n${USAGE}\n`);
  process.exit(2);
}

let values;
try {
  ({ values } = parseArgs({
    options: {
      'dry-run': { type: 'boolean', default: false },
      wipe: { type: 'boolean', default: false },
      yes: { type: 'boolean', default: false },
      'batch-size': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  }));
} catch (err) {
  usageError((err as Error).message);
}
if (values.help) {
  process.stdout.write(`${USAGE}\n`);
  process.exit(0);
}
if (values.wipe && !values.yes) usageError('--wipe empties the files and blobs tables first; add --yes to confirm');
if (values.wipe && values['dry-run']) usageError('--wipe and --dry-run exclude each other');
const batchSize = values['batch-size'] === undefined ? undefined : Number(values['batch-size']);
if (batchSize !== undefined && !(Number.isInteger(batchSize) && batchSize >= 1 && batchSize <= 2_000)) {
  usageError('--batch-size must be an integer from 1 to 2000');
}

const config = loadConfigOrExit();
// stdout carries the report alone, so the log goes to stderr.
const logger = pino(
  { level: config.logLevel, base: { component: 'rebuild-index', pid: process.pid }, timestamp: pino.stdTimeFunctions.isoTime },
  pino.destination({ fd: 2, sync: true }),
);
const db = createDb(config);

/** One line for an operator: the driver's message (Prisma puts it on its last line), with a hint for the usual causes. */
function describeFailure(err: unknown): string {
  const e = err as { message?: unknown; meta?: { driverAdapterError?: { cause?: { kind?: unknown } } } };
  const lines = String(e.message ?? err).split('\n').map((line) => line.trim()).filter((line) => line !== '');
  const last = lines.at(-1) ?? String(err);
  const message = /Message: `(.*)`$/.exec(last)?.[1] ?? last;
  const kind = e.meta?.driverAdapterError?.cause?.kind;
  if (kind === 'DatabaseNotReachable' || /ECONNREFUSED|ENOTFOUND|ETIMEDOUT|EHOSTUNREACH/.test(message)) {
    return `database unreachable at ${databaseServerOf(config.databaseUrl)}/${databaseNameOf(config.databaseUrl)} (${message}); is PostgreSQL running?`;
  }
  if (kind === 'DatabaseDoesNotExist' || kind === 'TableDoesNotExist') return `${message} (create and migrate it first: npm run db:migrate)`;
  return message;
}

const printProgress = (p: RebuildProgress) => {
  process.stderr.write(`rebuild-index: ${p.attrFiles} attr files read, ${p.filesRestored} restored, ${p.filesSkipped} skipped\n`);
};

let exitCode = 0;
try {
  if (!values['dry-run']) {
    // Fail fast, before any walk, when the database or its schema is not there.
    await probeFilesTable(db);
  }
  const report = await rebuildIndex(
    { db, config, ...openStorage(config, { logger }), logger },
    { dryRun: values['dry-run'], wipe: values.wipe, batchSize, onProgress: printProgress, progressEvery: 1_000 },
  );
  process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
} catch (err) {
  logger.debug({ err }, 'rebuild failed');
  process.stderr.write(`rebuild-index: ${describeFailure(err)}\n`);
  exitCode = 1;
} finally {
  await db.$disconnect().catch(() => undefined);
}
process.exitCode = exitCode;
