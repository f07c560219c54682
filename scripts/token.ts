// npm run token -- --role admin --sub alice [--name "Alice"] [--ttl 8h]: prints a JWT signed with the dev keypair.
// The same command as `artstore token` (scripts/dev-token.ts), for a checkout where the CLI is not on the PATH.
import { runTokenCommand } from './dev-token.js';

process.exit(await runTokenCommand(process.argv.slice(2), 'token'));
