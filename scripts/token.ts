// npm run token -- --role admin --sub alice [--name "Alice"] [--ttl 8h]: prints a JWT signed with the dev keypair.
import { parseArgs } from 'node:util';
import { importPKCS8, SignJWT } from 'jose';
import { ensureDevKeyPair } from '../src/shared/auth/dev-keys.js';
import { loadConfigOrExit } from '../src/shared/config.js';
import { ROLES } from '../src/shared/domain/principal.js';

const USAGE = `usage: npm run token -- [--role ${ROLES.join('|')}] [--sub NAME] [--name DISPLAY] [--ttl 1h] [--type admin_user|service_account]`;

function fail(message: string): never {
  process.stderr.write(`token: ${message}\n${USAGE}\n`);
  process.exit(2);
}

let values;
try {
  ({ values } = parseArgs({
    options: {
      role: { type: 'string', default: 'user' },
      sub: { type: 'string', default: 'dev' },
      name: { type: 'string' },
      ttl: { type: 'string', default: '1h' },
      type: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  }));
} catch (err) {
  fail((err as Error).message);
}
if (values.help) {
  process.stdout.write(`${USAGE}\n`);
  process.exit(0);
}
if (!(ROLES as readonly string[]).includes(values.role)) fail(`unknown role '${values.role}'`);
if (!/^\d+[smhd]$/.test(values.ttl)) fail(`--ttl must look like 30m, 8h or 7d`);

const config = loadConfigOrExit();
if (config.jwt.publicKeyPem || config.jwt.publicKeyFile || config.jwt.jwksUrl) {
  process.stderr.write('token: a JWT key is configured; this script signs only with the development keypair, which the service will not accept\n');
}
if (config.nodeEnv === 'production') fail('refusing to mint development tokens with NODE_ENV=production');

const pair = await ensureDevKeyPair(config.devKeysPath);
const key = await importPKCS8(pair.privateKeyPem, 'RS256');
const claims: Record<string, string> = { role: values.role };
if (values.name) claims.name = values.name;
if (values.type) claims.type = values.type;
let jwt = new SignJWT(claims).setProtectedHeader({ alg: 'RS256', typ: 'JWT' }).setSubject(values.sub).setIssuedAt().setExpirationTime(values.ttl);
if (config.jwt.issuer) jwt = jwt.setIssuer(config.jwt.issuer);
if (config.jwt.audience) jwt = jwt.setAudience(config.jwt.audience);
process.stdout.write(`${await jwt.sign(key)}\n`);
