// The part of the config for the audit trail (SPEC §11) and WAL compaction: parsing only; config.ts reads the
// environment and merges this in.
import path from 'node:path';
import { z } from 'zod';

const int = (min: number, max = Number.MAX_SAFE_INTEGER) => z.coerce.number().int().min(min).max(max);

export const auditEnvShape = {
  AUDIT_READS: z.enum(['true', 'false']).default('false'),
  AUDIT_SIGNING_KEY_FILE: z.string().min(1).optional(),
  AUDIT_CHECKPOINT_INTERVAL_MINUTES: z.coerce.number().min(0).max(10_080).default(60),
  AUDIT_DENIED_PER_SECOND: int(0, 100_000).default(20),
  AUDIT_BUFFER_MAX: int(1, 1_000_000).default(10_000),
  WAL_RETENTION_DAYS: z.coerce.number().min(0).max(36_500).default(30),
  WAL_COMPACTION_INTERVAL_HOURS: z.coerce.number().min(0).max(8_760).default(6),
};

type AuditEnv = z.infer<z.ZodObject<typeof auditEnvShape>>;

export type AuditConfig = Readonly<{
  audit: Readonly<{
    /** Downloads recorded (batched in the API process, written at most a second later). */
    reads: boolean;
    /** PKCS#8 PEM Ed25519 private key signing checkpoints; unset outside production = a dev key under DEV_KEYS_PATH. */
    signingKeyFile?: string;
    /** How often a signed checkpoint of the chain head is written (a BullMQ job scheduler); 0 = never on a schedule. */
    checkpointIntervalMinutes: number;
    /** auth_denied events one API process records per second; the rest are counted as dropped. */
    deniedPerSecond: number;
    /** Buffered events (downloads, denials) one API process holds at most; past it they are counted as dropped. */
    bufferMax: number;
  }>;
  /** Committed and rolled-back WAL entries older than this many days are removed (0 = compaction off). */
  walRetentionDays: number;
  walCompactionIntervalHours: number;
}>;

export function auditConfigOf(e: AuditEnv & { NODE_ENV: string }, problems: string[]): AuditConfig {
  if (e.NODE_ENV === 'production' && !e.AUDIT_SIGNING_KEY_FILE) {
    problems.push('AUDIT_SIGNING_KEY_FILE: an Ed25519 key for signing audit checkpoints is required in production');
  }
  return {
    audit: Object.freeze({
      reads: e.AUDIT_READS === 'true',
      signingKeyFile: e.AUDIT_SIGNING_KEY_FILE ? path.resolve(e.AUDIT_SIGNING_KEY_FILE) : undefined,
      checkpointIntervalMinutes: e.AUDIT_CHECKPOINT_INTERVAL_MINUTES,
      deniedPerSecond: e.AUDIT_DENIED_PER_SECOND,
      bufferMax: e.AUDIT_BUFFER_MAX,
    }),
    walRetentionDays: e.WAL_RETENTION_DAYS,
    walCompactionIntervalHours: e.WAL_COMPACTION_INTERVAL_HOURS,
  };
}
