// A burst of small uploads from a few concurrent clients, each with an Idempotency-Key and retried with the same key
// on a network error or a 5xx (as the CLI does), with a fault injected once a share of them is acknowledged.
import { createHash, randomBytes, randomUUID } from 'node:crypto';

export interface Upload {
  key: string;
  name: string;
  bytes: Buffer;
  sha256: string;
}

export interface Acknowledged extends Upload {
  jobId: string;
  /** HTTP attempts it took (1 = no retry). */
  attempts: number;
}

export interface BurstResult {
  uploads: Upload[];
  acknowledged: Acknowledged[];
  /** Uploads that never got a 2xx within the retry budget, with the last thing they saw. */
  unacknowledged: Array<Upload & { last: string }>;
  /** Uploads answered 4xx (not retried). */
  rejected: Array<Upload & { status: number; body: string }>;
  retries: number;
  /** Statuses and error codes seen by retried attempts, with counts. */
  retryCauses: Record<string, number>;
  faultAtAck: number;
  startedAt: number;
  finishedAt: number;
}

export interface BurstOptions {
  baseUrl: () => string;
  token: string;
  uploads: number;
  /** Extra uploads repeating earlier bytes under a new key (they end `duplicate` or `committed`). */
  duplicates: number;
  clients: number;
  /** The fault is injected once this many uploads are acknowledged; the burst goes on meanwhile. */
  faultAfter: number;
  fault: () => Promise<void>;
  /** How long one upload keeps retrying before it counts as unacknowledged. */
  retryBudgetMs?: number;
}

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export function makeUploads(count: number, duplicates: number): Upload[] {
  const uploads: Upload[] = [];
  for (let i = 0; i < count; i++) {
    const bytes = randomBytes(512 + Math.floor(Math.random() * 7_680));
    uploads.push({ key: randomUUID(), name: `burst-${i}.bin`, bytes, sha256: sha(bytes) });
  }
  for (let i = 0; i < duplicates; i++) {
    const original = uploads[(i * 37) % count]!;
    uploads.push({ key: randomUUID(), name: `dup-${i}.bin`, bytes: original.bytes, sha256: original.sha256 });
  }
  // Duplicates spread through the burst rather than bunched at its end.
  for (let i = uploads.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [uploads[i], uploads[j]] = [uploads[j]!, uploads[i]!];
  }
  return uploads;
}

type Attempt = { ok: true; jobId: string } | { ok: false; retry: boolean; cause: string; status?: number; body?: string };

async function attemptUpload(baseUrl: string, token: string, upload: Upload): Promise<Attempt> {
  const form = new FormData();
  form.append('file', new Blob([upload.bytes]), upload.name);
  try {
    const res = await fetch(`${baseUrl}/api/v1/files/upload`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${token}`, 'Idempotency-Key': upload.key },
      body: form,
      // A request that hangs through an outage is abandoned and retried with the same key.
      signal: AbortSignal.timeout(15_000),
    });
    const body = await res.text();
    if (res.status >= 200 && res.status < 300) {
      const jobId = (JSON.parse(body) as { jobs: Array<{ id: string }> }).jobs[0]?.id;
      if (!jobId) return { ok: false, retry: false, cause: `${res.status} without a job`, status: res.status, body };
      return { ok: true, jobId };
    }
    return { ok: false, retry: res.status >= 500, cause: String(res.status), status: res.status, body: body.slice(0, 300) };
  } catch (err) {
    const e = err as { name?: string; cause?: { code?: string } };
    return { ok: false, retry: true, cause: e.cause?.code ?? e.name ?? 'error' };
  }
}

export async function runBurst(options: BurstOptions): Promise<BurstResult> {
  const uploads = makeUploads(options.uploads, options.duplicates);
  const retryBudgetMs = options.retryBudgetMs ?? 120_000;
  const result: BurstResult = {
    uploads,
    acknowledged: [],
    unacknowledged: [],
    rejected: [],
    retries: 0,
    retryCauses: {},
    faultAtAck: -1,
    startedAt: Date.now(),
    finishedAt: 0,
  };
  let fault: Promise<void> | undefined;
  let next = 0;
  const client = async () => {
    while (next < uploads.length) {
      const upload = uploads[next++]!;
      const deadline = Date.now() + retryBudgetMs;
      for (let attempt = 1; ; attempt++) {
        const outcome = await attemptUpload(options.baseUrl(), options.token, upload);
        if (outcome.ok) {
          result.acknowledged.push({ ...upload, jobId: outcome.jobId, attempts: attempt });
          if (!fault && result.acknowledged.length >= options.faultAfter) {
            result.faultAtAck = result.acknowledged.length;
            fault = options.fault();
          }
          break;
        }
        if (!outcome.retry) {
          result.rejected.push({ ...upload, status: outcome.status ?? 0, body: outcome.body ?? outcome.cause });
          break;
        }
        if (Date.now() > deadline) {
          result.unacknowledged.push({ ...upload, last: outcome.cause });
          break;
        }
        result.retries++;
        result.retryCauses[outcome.cause] = (result.retryCauses[outcome.cause] ?? 0) + 1;
        await sleep(Math.min(1_000, 50 * 2 ** Math.min(attempt, 5)) * (0.5 + Math.random() / 2));
      }
    }
  };
  await Promise.all(Array.from({ length: options.clients }, client));
  // A burst shorter than the fault still waits for it (and its restart) to end before anything is audited.
  await fault;
  result.finishedAt = Date.now();
  return result;
}
