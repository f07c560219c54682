// Test waits on observable state, never on a fixed sleep: poll until a check holds or a deadline passes.
import fs from 'node:fs/promises';
import path from 'node:path';

/** Polls check every everyMs until it holds; throws `timed out waiting for <what>` past timeoutMs. */
export async function until(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 10_000, everyMs = 25): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/**
 * Like until, for probes that may throw while the system is down (a service restarting): an error counts as "not
 * yet", and the last one is named when the deadline passes.
 */
export async function pollUntil(what: string, timeoutMs: number, probe: () => Promise<boolean>, intervalMs = 100): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      if (await probe()) return;
    } catch (err) {
      last = err;
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
  throw new Error(`${what}: not reached after ${timeoutMs} ms${last ? ` (last error: ${(last as Error).message})` : ''}`);
}

/** Waits for an event the test holds as a promise (a socket closing, a stream ending); throws past timeoutMs. */
export async function settled<T>(what: string, event: Promise<T>, timeoutMs = 10_000): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), timeoutMs);
  });
  try {
    return await Promise.race([event, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Every regular file below dir (recursively); none when dir is missing. */
export async function filesUnder(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await fs.readdir(dir, { withFileTypes: true }).catch(() => [])) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await filesUnder(full)));
    else out.push(full);
  }
  return out;
}
