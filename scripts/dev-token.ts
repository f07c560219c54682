// `npm run token` and `artstore token` [--role user] [--sub dev] ...: a development JWT signed with this checkout's
// dev keypair. It reads the service's configuration, so it lives beside the service, not in the standalone CLI
// (src/cli imports only the contract, the client and the hash pool); bin/artstore.js hands `token` to it.
import { importPKCS8, SignJWT } from 'jose';
import { describeError, EXIT_FAILED, EXIT_OK, EXIT_USAGE, parseFlags, UsageError } from '../src/cli/usage.js';
import { ensureDevKeyPair } from '../src/shared/auth/dev-keys.js';
import { loadConfigOrExit } from '../src/shared/config.js';
import { ROLES } from '../src/shared/domain/principal.js';

export const TOKEN_USAGE = `usage: artstore token [--role ${ROLES.join('|')}] [--sub NAME] [--name DISPLAY] [--ttl 1h] [--type admin_user|service_account]
  Signs with the development keypair of this checkout's configuration (DEV_KEYS_PATH); refused with NODE_ENV=production.`;

export async function tokenCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseFlags(
    args,
    {
      role: { type: 'string', default: 'user' },
      sub: { type: 'string', default: 'dev' },
      name: { type: 'string' },
      ttl: { type: 'string', default: '1h' },
      type: { type: 'string' },
    },
    TOKEN_USAGE,
  );
  if (positionals.length > 0) throw new UsageError(`unexpected argument '${positionals[0]}'`, TOKEN_USAGE);
  if (!(ROLES as readonly string[]).includes(values.role)) throw new UsageError(`unknown role '${values.role}'`, TOKEN_USAGE);
  if (!/^\d+[smhd]$/.test(values.ttl)) throw new UsageError('--ttl must look like 30m, 8h or 7d', TOKEN_USAGE);
  const config = loadConfigOrExit();
  if (config.nodeEnv === 'production') throw new UsageError('refusing to mint development tokens with NODE_ENV=production', TOKEN_USAGE);
  if (config.jwt.publicKeyPem || config.jwt.publicKeyFile || config.jwt.jwksUrl) {
    process.stderr.write('artstore token: a JWT key is configured; this signs only with the development keypair, which the service will not accept\n');
  }
  const pair = await ensureDevKeyPair(config.devKeysPath);
  const key = await importPKCS8(pair.privateKeyPem, 'RS256');
  const claims: Record<string, string> = { role: values.role };
  if (values.name) claims.name = values.name;
  if (values.type) claims.type = values.type;
  let jwt = new SignJWT(claims).setProtectedHeader({ alg: 'RS256', typ: 'JWT' }).setSubject(values.sub).setIssuedAt().setExpirationTime(values.ttl);
  if (config.jwt.issuer) jwt = jwt.setIssuer(config.jwt.issuer);
  if (config.jwt.audience) jwt = jwt.setAudience(config.jwt.audience);
  process.stdout.write(`${await jwt.sign(key)}\n`);
  return EXIT_OK;
}

/** Runs the token command as `name` (for messages): usage on --help, exit 2 on a usage error, 1 on a failure. */
export async function runTokenCommand(args: string[], name: string): Promise<number> {
  if (args.includes('--help') || args.includes('-h')) {
    process.stdout.write(`${TOKEN_USAGE}\n`);
    return EXIT_OK;
  }
  try {
    return await tokenCommand(args);
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`${name}: ${err.message}\n${err.usage ?? TOKEN_USAGE}\n`);
      return EXIT_USAGE;
    }
    process.stderr.write(`${name}: ${describeError(err)}\n`);
    return EXIT_FAILED;
  }
}
