// `artstore ingest <path...>`: flags, then the ingest pipeline (or a dry run); exit 0 only when every file made it.
import { readCliEnv } from './env.js';
import { runDryRun } from './ingest-dry-run.js';
import { jsonLinesOutput, progressBarOutput } from './ingest-output.js';
import { uploadLocalFiles } from './ingest-run.js';
import { DEFAULT_BATCH_FILES, DEFAULT_BATCH_MIB, DEFAULT_RESUMABLE_MIB } from './ingest-sender.js';
import { clientFrom, CONNECTION_FLAGS, describeError, EXIT_FAILED, EXIT_OK, intFlag, parseFlags, UsageError } from './usage.js';
import type { RetentionMode } from '../contract/retention.js';
import { MAX_TTL_DAYS, RETENTION_MODES } from '../contract/wire-constants.js';
import type { UploadFields } from '../client/types.js';

export const INGEST_USAGE = `usage: artstore ingest <path...> [--url URL] [--token TOKEN] [--concurrency 8] [--report FILE]
                        [--batch-files ${DEFAULT_BATCH_FILES}] [--batch-mib ${DEFAULT_BATCH_MIB}] [--resumable-mib ${DEFAULT_RESUMABLE_MIB}]
                        [--include GLOB]... [--exclude GLOB]... [--tag T]... [--description D] [--dry-run]
                        [--ttl-days N] [--retain-until ISO [--retention-mode governance|compliance]]
  Uploads files and directory trees. Files the element already holds (by sha256) are not sent again.
  --url, --token   default to ARTSTORE_URL, ARTSTORE_TOKEN
  --concurrency N  upload requests in flight at most (the element allows 8 per user by default)
  --report FILE    JSON lines, one per finished file; read back on the next run to skip finished files.
                   With a report, files up to 1 MiB travel together, --batch-files and --batch-mib MiB per request
                   at most (a batch over the element's MAX_FILES_PER_UPLOAD is split and sent again)
  --resumable-mib N  files of N MiB or more go through the resumable upload endpoint: a dropped connection is
                   resumed from what the element holds, and with --report a rerun continues the same upload
  --include/--exclude  globs over the path below each given directory (no slash: matches the base name)
  --ttl-days N     temporary files, removed N days after upload (by an element in edit mode)
  --retain-until   no deletion before this ISO 8601 time; --retention-mode governance (default) or compliance
  exit code: 0 every file committed, duplicate or already present; 1 any failed; 2 usage error`;

export async function ingestCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseFlags(
    args,
    {
      ...CONNECTION_FLAGS,
      concurrency: { type: 'string' },
      report: { type: 'string' },
      'batch-files': { type: 'string' },
      'batch-mib': { type: 'string' },
      'resumable-mib': { type: 'string' },
      include: { type: 'string', multiple: true },
      exclude: { type: 'string', multiple: true },
      tag: { type: 'string', multiple: true },
      description: { type: 'string' },
      'dry-run': { type: 'boolean' },
      json: { type: 'boolean' },
      'ttl-days': { type: 'string' },
      'retain-until': { type: 'string' },
      'retention-mode': { type: 'string' },
    },
    INGEST_USAGE,
  );
  if (positionals.length === 0) throw new UsageError('give at least one file or directory to ingest', INGEST_USAGE);
  const concurrency = intFlag(values.concurrency, 'concurrency', 1, 64, 8, INGEST_USAGE);
  const batchFiles = intFlag(values['batch-files'], 'batch-files', 1, 1000, DEFAULT_BATCH_FILES, INGEST_USAGE);
  const batchMib = intFlag(values['batch-mib'], 'batch-mib', 1, 1024, DEFAULT_BATCH_MIB, INGEST_USAGE);
  const resumableMib = intFlag(values['resumable-mib'], 'resumable-mib', 1, 1024 * 1024, DEFAULT_RESUMABLE_MIB, INGEST_USAGE);
  if (values.description !== undefined && values.description.length > 1000) throw new UsageError('--description has at most 1000 characters', INGEST_USAGE);
  const tags = (values.tag ?? []).flatMap((t) => t.split(',')).map((t) => t.trim()).filter(Boolean);
  if (tags.length > 50 || tags.some((t) => t.length > 100)) throw new UsageError('at most 50 tags of at most 100 characters', INGEST_USAGE);
  const retention = retentionFlags(values);

  if (values['dry-run']) {
    const env = readCliEnv();
    const canAsk = (values.url ?? env.url) !== undefined && (values.token ?? env.token) !== undefined;
    return runDryRun(positionals, { include: values.include ?? [], exclude: values.exclude ?? [] }, canAsk ? clientFrom(values, INGEST_USAGE) : undefined);
  }
  const client = clientFrom(values, INGEST_USAGE);
  try {
    // One cheap authenticated call first: a wrong URL or token is reported once, before any hashing.
    await client.exists([]);
  } catch (err) {
    process.stderr.write(`artstore ingest: ${describeError(err, client.url)}\n`);
    return EXIT_FAILED;
  }
  const tty = process.stdout.isTTY === true && values.json !== true;
  let summary;
  try {
    summary = await uploadLocalFiles({
      paths: positionals,
      client,
      concurrency,
      batchFiles,
      batchBytes: batchMib * 1024 * 1024,
      resumableBytes: resumableMib * 1024 * 1024,
      reportFile: values.report,
      include: values.include ?? [],
      exclude: values.exclude ?? [],
      tags,
      description: values.description,
      retention,
      output: tty ? progressBarOutput() : jsonLinesOutput(),
      corruptAfterHash: readCliEnv().corruptAfterHash,
    });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'EACCES' || code === 'ENOTDIR') {
      process.stderr.write(`artstore ingest: ${(err as Error).message}\n`);
      return EXIT_FAILED;
    }
    throw err;
  }
  return summary.failed > 0 ? EXIT_FAILED : EXIT_OK;
}

/** --ttl-days, --retain-until and --retention-mode as upload fields; usage errors for what the element would refuse. */
function retentionFlags(values: { 'ttl-days'?: string; 'retain-until'?: string; 'retention-mode'?: string }): UploadFields {
  const fields: UploadFields = {};
  if (values['ttl-days'] !== undefined) {
    fields.retentionPolicy = 'temporary';
    fields.ttlDays = intFlag(values['ttl-days'], 'ttl-days', 1, MAX_TTL_DAYS, 1, INGEST_USAGE);
  }
  const until = values['retain-until'];
  if (until !== undefined) {
    const at = Date.parse(until);
    if (!/^\d{4}-\d{2}-\d{2}T/.test(until) || Number.isNaN(at)) throw new UsageError('--retain-until must be an ISO 8601 date-time, e.g. 2030-01-31T00:00:00Z', INGEST_USAGE);
    if (at <= Date.now()) throw new UsageError('--retain-until must be in the future', INGEST_USAGE);
    fields.retainUntil = new Date(at).toISOString();
  }
  const mode = values['retention-mode'];
  if (mode !== undefined) {
    if (until === undefined) throw new UsageError('--retention-mode applies only with --retain-until', INGEST_USAGE);
    if (!(RETENTION_MODES as readonly string[]).includes(mode)) throw new UsageError(`--retention-mode must be one of ${RETENTION_MODES.join(', ')}`, INGEST_USAGE);
    fields.retentionMode = mode as RetentionMode;
  }
  return fields;
}
