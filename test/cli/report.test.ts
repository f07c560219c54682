// The report file: lines appended together keep their order, each append resolves once its line is written.
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { readReport, ReportWriter, type ReportLine } from '../../src/cli/report.js';

const lineOf = (i: number): ReportLine => ({ path: `/f/${i}`, size: i, mtimeMs: 1, sha256: null, jobId: null, fileId: null, state: 'committed' });

describe('ReportWriter', () => {
  it('writes lines appended at once in order, each readable once its append resolved', async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'artstore-report-'));
    try {
      const file = path.join(dir, 'r.jsonl');
      const writer = new ReportWriter(file);
      await writer.open();
      const appends = Array.from({ length: 200 }, (_, i) => writer.append(lineOf(i)));
      await appends[99];
      expect((await readReport(file)).has('/f/99')).toBe(true);
      await Promise.all(appends);
      await writer.append(lineOf(200));
      await writer.close();
      const text = await fs.readFile(file, 'utf8');
      expect(text.trim().split('\n').map((l) => (JSON.parse(l) as ReportLine).size)).toEqual(Array.from({ length: 201 }, (_, i) => i));
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
  });
});
