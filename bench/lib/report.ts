// Result rows (ours, baseline, ratio, target, verdict) and the report files: <name>.md (a table) and <name>.json.
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { round } from './stats.js';

export type Verdict = 'met' | 'not met' | 'info' | 'skipped';

export interface Row {
  scenario: string;
  measure: string;
  unit: string;
  ours: number | null;
  baseline: number | null;
  baselineName: string | null;
  /** ours / baseline (for "lower is better" units, still ours / baseline: read it with the unit). */
  ratio: number | null;
  target: string;
  verdict: Verdict;
  note: string;
}

export interface RowInput {
  scenario: string;
  measure: string;
  unit: string;
  ours: number | null;
  baseline?: number | null;
  baselineName?: string | null;
  /** Text of the target and whether (ours, ratio) meet it; without one the row is informational. */
  target?: { text: string; met: (ours: number, ratio: number | null) => boolean };
  note?: string;
  /** Forces the verdict (e.g. skipped), whatever the numbers. */
  verdict?: Verdict;
}

export function row(input: RowInput): Row {
  const baseline = input.baseline ?? null;
  const ours = input.ours;
  const ratio = ours !== null && baseline !== null && baseline !== 0 ? ours / baseline : null;
  let verdict: Verdict = input.verdict ?? 'info';
  if (!input.verdict && input.target) verdict = ours === null || !Number.isFinite(ours) ? 'not met' : input.target.met(ours, ratio) ? 'met' : 'not met';
  return {
    scenario: input.scenario,
    measure: input.measure,
    unit: input.unit,
    ours: ours === null ? null : round(ours),
    baseline: baseline === null ? null : round(baseline),
    baselineName: input.baselineName ?? null,
    ratio: ratio === null ? null : round(ratio),
    target: input.target?.text ?? '',
    verdict,
    note: input.note ?? '',
  };
}

export interface Machine {
  nproc: number;
  cpuModel: string;
  memoryGiB: number;
  node: string;
  os: string;
}

export function machine(): Machine {
  return {
    nproc: os.availableParallelism(),
    cpuModel: os.cpus()[0]?.model.trim() ?? 'unknown',
    memoryGiB: Math.round((os.totalmem() / 1024 ** 3) * 10) / 10,
    node: process.version,
    os: `${os.type()} ${os.release()}`,
  };
}

export interface Report {
  date: string;
  machine: Machine;
  command: string;
  quick: boolean;
  scenarios: Record<string, { rows: Row[]; samples: Record<string, unknown>; seconds: number }>;
  rows: Row[];
  notes: string[];
}

const fmt = (v: number | null, unit: string) => (v === null ? '-' : `${v.toLocaleString('en-US')} ${unit}`);
const cell = (s: string) => s.replace(/\|/g, '\\|');

export function toMarkdown(report: Report): string {
  const m = report.machine;
  const lines = [
    `# Bench results`,
    '',
    `${report.date} · \`${report.command}\`${report.quick ? ' (quick: 1 repetition, small sizes)' : ''}`,
    '',
    `Machine: ${m.nproc} cores (${m.cpuModel}), ${m.memoryGiB} GiB RAM, Node ${m.node}, ${m.os}.`,
    '',
    '| scenario | measure | ours | baseline | ratio | target | verdict | note |',
    '|---|---|---|---|---|---|---|---|',
    ...report.rows.map((r) =>
      `| ${r.scenario} | ${cell(r.measure)} | ${fmt(r.ours, r.unit)} | ${r.baseline === null ? '-' : `${fmt(r.baseline, r.unit)} (${r.baselineName})`} | ${r.ratio === null ? '-' : `${r.ratio}x`} | ${cell(r.target) || '-'} | ${r.verdict} | ${cell(r.note)} |`,
    ),
  ];
  if (report.notes.length > 0) lines.push('', ...report.notes.map((n) => `- ${n}`));
  return `${lines.join('\n')}\n`;
}

export async function writeReport(dir: string, name: string, report: Report): Promise<{ md: string; json: string }> {
  await fs.mkdir(dir, { recursive: true });
  const md = path.join(dir, `${name}.md`);
  const json = path.join(dir, `${name}.json`);
  await fs.writeFile(md, toMarkdown(report));
  await fs.writeFile(json, `${JSON.stringify(report, null, 2)}\n`);
  return { md, json };
}
