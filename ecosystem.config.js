// pm2 process file: N API processes (cluster mode, one port) and M worker processes.
// ESM package: pm2 reads a named `apps` export (module.exports and default exports fail here).
import fs from 'node:fs';
import path from 'node:path';
import { parse } from 'dotenv';

const apiInstances = Number(process.env.API_INSTANCES ?? 2);
const workerInstances = Number(process.env.WORKER_INSTANCES ?? 1);
// pm2 runs deployments: production unless NODE_ENV says otherwise, so a missing key is an error and never a
// silently generated development keypair.
const nodeEnv = process.env.NODE_ENV ?? 'production';

// The services read .env from their working directory too; pm2 starts them here.
const dotenvFile = path.resolve('.env');
const env = { ...(fs.existsSync(dotenvFile) ? parse(fs.readFileSync(dotenvFile)) : {}), ...process.env };
if (nodeEnv === 'production') {
  const missing = [];
  if (!env.JWT_PUBLIC_KEY && !env.JWT_PUBLIC_KEY_FILE && !env.JWT_JWKS_URL) missing.push('JWT_PUBLIC_KEY_FILE (or JWT_PUBLIC_KEY, JWT_JWKS_URL)');
  if (!env.JWT_ISSUER) missing.push('JWT_ISSUER');
  if (!env.JWT_AUDIENCE) missing.push('JWT_AUDIENCE');
  if (!env.AUDIT_SIGNING_KEY_FILE) missing.push('AUDIT_SIGNING_KEY_FILE');
  if (missing.length > 0) {
    // pm2 prints this and starts nothing (rather than restarting services that exit on their config).
    throw new Error(
      `artstore: NODE_ENV=production needs the identity provider's settings and the audit signing key; missing: ${missing.join(', ')}. ` +
        'Set them in the environment or .env (for a local trial: NODE_ENV=development uses a development keypair).',
    );
  }
}

export const apps = [
  {
    name: 'artstore-api',
    script: 'dist/src/api/main.js',
    exec_mode: 'cluster',
    instances: apiInstances,
    // Above the service's own 25 s shutdown bound, so pm2 never cuts a drain short.
    kill_timeout: 30_000,
    listen_timeout: 15_000,
    max_memory_restart: '512M',
    env: { NODE_ENV: nodeEnv },
  },
  {
    name: 'artstore-worker',
    script: 'dist/src/workers/main.js',
    exec_mode: 'fork',
    instances: workerInstances,
    kill_timeout: 30_000,
    max_memory_restart: '1G',
    env: { NODE_ENV: nodeEnv },
  },
];
