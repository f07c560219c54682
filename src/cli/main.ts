// The artstore CLI entry: picks the command, runs it, and turns errors into messages and exit codes (0/1/2).
import { ArtstoreError } from '../client/index.js';
import { getCommand } from './get.js';
import { ingestCommand } from './ingest.js';
import { searchCommand } from './search.js';
import { statusCommand } from './status.js';
import { describeError, EXIT_FAILED, EXIT_OK, EXIT_USAGE, UsageError } from './usage.js';

const COMMANDS: Record<string, (args: string[]) => Promise<number>> = {
  ingest: ingestCommand,
  status: statusCommand,
  get: getCommand,
  search: searchCommand,
};

const USAGE = `usage: artstore <command> [options]
  ingest <path...>   upload files and directory trees (resumable with --report)
  status <jobId...>  state of ingest jobs
  get <fileId>       download a file (resumes, checks sha256)
  search [QUERY]     find files by text and filters
  token              a development token (as npm run token; bin/artstore.js runs it from this checkout)
  --url and --token default to ARTSTORE_URL and ARTSTORE_TOKEN. 'artstore <command> --help' for a command's options.`;

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    (name === undefined ? process.stderr : process.stdout).write(`${USAGE}\n`);
    return name === undefined ? EXIT_USAGE : EXIT_OK;
  }
  const command = COMMANDS[name];
  if (!command) {
    process.stderr.write(`artstore: unknown command '${name}'\n${USAGE}\n`);
    return EXIT_USAGE;
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    await command(['--help']).catch((err: unknown) => process.stdout.write(`${err instanceof UsageError ? err.usage : ''}\n`));
    return EXIT_OK;
  }
  try {
    return await command(rest);
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`artstore ${name}: ${err.message}\n${err.usage ?? USAGE}\n`);
      return EXIT_USAGE;
    }
    if (err instanceof ArtstoreError && err.code === 'validation_failed') {
      process.stderr.write(`artstore ${name}: the element refused the request: ${err.detail}\n`);
      return EXIT_USAGE;
    }
    process.stderr.write(`artstore ${name}: ${describeError(err)}\n`);
    return EXIT_FAILED;
  }
}

const code = await main(process.argv.slice(2));
// Exit now: keep-alive sockets of fetch would otherwise hold the process for a few seconds.
process.exit(code);
