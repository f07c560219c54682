// Samplers that run beside a scenario: a process's RSS and CPU time from /proc and event-loop delay from a /metrics
// endpoint.
import { readFileSync } from 'node:fs';
import fs from 'node:fs/promises';

/** User and system CPU time a process has used so far, all threads (Linux: /proc/<pid>/stat, clock ticks). */
export interface CpuTime {
  userMs: number;
  sysMs: number;
}

const TICK_MS = 10;

export function readCpu(pid: number): CpuTime {
  return cpuOfStat(readFileSync(`/proc/${pid}/stat`, 'utf8'));
}

/** The CPU time in the text of a /proc/<pid>/stat or /proc/<pid>/task/<tid>/stat file. */
export function cpuOfStat(stat: string): CpuTime {
  // Fields after the command name (which may hold spaces): state is field 3, utime 14 and stime 15.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return { userMs: Number(fields[11]) * TICK_MS, sysMs: Number(fields[12]) * TICK_MS };
}

/** The command name in the text of a /proc/<pid>/stat file. */
export function commandOfStat(stat: string): string {
  return stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
}

/** CPU ms per unit between two readings. */
export function cpuPer(from: CpuTime, to: CpuTime, units: number): CpuTime & { totalMs: number } {
  const n = Math.max(units, 1);
  const userMs = (to.userMs - from.userMs) / n;
  const sysMs = (to.sysMs - from.sysMs) / n;
  return { userMs, sysMs, totalMs: userMs + sysMs };
}

/** VmRSS of a process in bytes (Linux). */
export async function readRss(pid: number): Promise<number> {
  const status = await fs.readFile(`/proc/${pid}/status`, 'utf8');
  const match = /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
  if (!match) throw new Error(`no VmRSS for pid ${pid}`);
  return Number(match[1]) * 1024;
}

export interface RssSampler {
  /** Stops sampling; returns the RSS when started and the highest seen since. */
  stop(): Promise<{ startBytes: number; peakBytes: number; samples: number }>;
}

export async function sampleRss(pid: number, everyMs = 100): Promise<RssSampler> {
  const startBytes = await readRss(pid);
  let peakBytes = startBytes;
  let samples = 1;
  const timer = setInterval(() => {
    readRss(pid).then((rss) => {
      samples += 1;
      if (rss > peakBytes) peakBytes = rss;
    }, () => undefined);
  }, everyMs);
  return {
    async stop() {
      clearInterval(timer);
      const last = await readRss(pid).catch(() => peakBytes);
      return { startBytes, peakBytes: Math.max(peakBytes, last), samples: samples + 1 };
    },
  };
}

/** Value of an unlabelled gauge in Prometheus text, or undefined. */
export function gauge(text: string, name: string): number | undefined {
  const match = new RegExp(`^${name}(?:\\{[^}]*\\})? ([0-9.eE+-]+|NaN)$`, 'm').exec(text);
  return match ? Number(match[1]) : undefined;
}

export interface LagSummary {
  /** Highest event-loop delay seen (prom-client resets its histogram at each scrape, so this is a true max). */
  maxMs: number;
  /** Highest per-scrape p99. */
  p99Ms: number;
  scrapes: number;
  failedScrapes: number;
}

export interface LagSampler {
  stop(): Promise<LagSummary>;
}

/**
 * Scrapes metricsUrl every everyMs for artstore_nodejs_eventloop_lag_max_seconds and _p99_seconds. The first
 * scrape only resets the histogram, so earlier work (start-up, warm-up) does not count.
 */
export async function sampleLag(metricsUrl: string, everyMs = 500): Promise<LagSampler> {
  const summary: LagSummary = { maxMs: 0, p99Ms: 0, scrapes: 0, failedScrapes: 0 };
  const scrape = async (count: boolean) => {
    try {
      const res = await fetch(metricsUrl, { signal: AbortSignal.timeout(5_000) });
      const text = await res.text();
      if (!count) return;
      const lagMax = gauge(text, 'artstore_nodejs_eventloop_lag_max_seconds');
      const lagP99 = gauge(text, 'artstore_nodejs_eventloop_lag_p99_seconds');
      if (lagMax === undefined || lagP99 === undefined) {
        summary.failedScrapes += 1;
        return;
      }
      summary.scrapes += 1;
      summary.maxMs = Math.max(summary.maxMs, lagMax * 1000);
      summary.p99Ms = Math.max(summary.p99Ms, lagP99 * 1000);
    } catch {
      // A scrape that times out under load is itself a sign of lag: counted, and reported.
      if (count) summary.failedScrapes += 1;
    }
  };
  await scrape(false);
  let inFlight: Promise<void> = Promise.resolve();
  const timer = setInterval(() => {
    inFlight = inFlight.then(() => scrape(true));
  }, everyMs);
  return {
    async stop() {
      clearInterval(timer);
      await inFlight;
      await scrape(true);
      return summary;
    },
  };
}

/** CPU readings of a set of processes that may change (PostgreSQL backends come and go); gone ones read as absent. */
export function readCpuOf(pids: number[]): Map<number, CpuTime> {
  const readings = new Map<number, CpuTime>();
  for (const pid of pids) {
    try {
      readings.set(pid, readCpu(pid));
    } catch {
      // Exited between the listing and the reading.
    }
  }
  return readings;
}

/**
 * CPU ms per unit of the processes between two readings: each one's since the first reading (a process that started
 * in between counts whole; one that exited in between is missing, so this is a lower bound).
 */
export function cpuOfPer(from: Map<number, CpuTime>, to: Map<number, CpuTime>, units: number): CpuTime & { totalMs: number } {
  const sum = (m: Map<number, CpuTime>, pids: Iterable<number>) => {
    const total = { userMs: 0, sysMs: 0 };
    for (const pid of pids) {
      total.userMs += m.get(pid)?.userMs ?? 0;
      total.sysMs += m.get(pid)?.sysMs ?? 0;
    }
    return total;
  };
  return cpuPer(sum(from, to.keys()), sum(to, to.keys()), units);
}
