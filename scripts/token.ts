// npm run token -- --role admin --sub alice [--name "Alice"] [--ttl 8h]: prints a JWT signed with the dev keypair.
// The same command as `artstore token` (src/cli/token.ts), for a checkout where the CLI is not on the PATH.
import { TOKEN_USAGE, tokenCommand } from '../src/cli/token.js';
import { UsageError } from '../src/cli/usage.js';

const args = process.argv.slice(2);
if (args.includes('--help') || args.includes('-h')) {
  process.stdout.write(`${TOKEN_USAGE}\n`);
  process.exit(0);
}
try {
  process.exit(await tokenCommand(args));
} catch (err) {
  if (!(err instanceof UsageError)) throw err;
  process.stderr.write(`token: ${err.message}\n${err.usage ?? TOKEN_USAGE}\n`);
  process.exit(2);
}
