// npm run audit:verify: walks the audit chain and checks it against the signed checkpoints (SPEC §11).
// Exit 0: intact. Exit 1: broken, naming the first broken seq. Exit 2: the check could not run (database, key).
// `--public-key FILE` (Ed25519 SPKI PEM) verifies without the signing key: an auditor need not be able to sign.
import fs from 'node:fs/promises';
import pino from 'pino';
import { loadConfigOrExit } from '../src/shared/config.js';
import { verifyAuditTrail } from '../src/shared/domain/audit-checkpoints.js';
import { createDb } from '../src/shared/records/database.js';

const config = loadConfigOrExit();
const logger = pino(
  { level: config.logLevel, base: { component: 'audit-verify', pid: process.pid }, timestamp: pino.stdTimeFunctions.isoTime },
  pino.destination({ fd: 2, sync: true }),
);
const db = createDb(config);

const keyFlag = process.argv.indexOf('--public-key');
const publicKeyFile = keyFlag >= 0 ? process.argv[keyFlag + 1] : undefined;

let exitCode = 0;
try {
  if (keyFlag >= 0 && !publicKeyFile) throw new Error('--public-key needs a file (an Ed25519 public key, SPKI PEM)');
  const publicKeyPem = publicKeyFile ? await fs.readFile(publicKeyFile, 'utf8') : undefined;
  const verdict = await verifyAuditTrail({ db, config, logger }, { publicKeyPem });
  if (verdict.intact) {
    process.stdout.write(`audit chain intact: ${verdict.events} events, head ${verdict.headHash}, ${verdict.checkpointsMatched} checkpoint(s) matched\n`);
  } else {
    process.stdout.write(`audit chain broken at seq ${verdict.brokenSeq}: ${verdict.reason}\n`);
    exitCode = 1;
  }
} catch (err) {
  logger.debug({ err }, 'audit verification failed');
  process.stderr.write(`audit-verify: could not verify: ${err instanceof Error ? err.message : String(err)}\n`);
  exitCode = 2;
} finally {
  await db.$disconnect().catch(() => undefined);
}
process.exitCode = exitCode;
