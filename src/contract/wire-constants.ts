// The contract's plain values (no zod): what the client and the CLI need at run time, so that they start without
// loading the schemas (zod and the contract's modules were ~60 ms of the CLI's start on this machine). The schema
// modules re-export them.

/** States a job never leaves. */
export const FINAL_JOB_STATES = ['committed', 'duplicate', 'failed'] as const;

export const RETENTION_MODES = ['governance', 'compliance'] as const;
/** A temporary file lives at most this many days (about a century: a bound, not a policy). */
export const MAX_TTL_DAYS = 36_500;
/** The header an admin sends to shorten or remove a governance retention. */
export const BYPASS_GOVERNANCE_HEADER = 'X-Bypass-Governance-Retention';
