// Install-time telemetry (@scarf/scarf, pulled in by swagger-ui-dist) stays off: in npm ci, in CI and in the image.
import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { serve } from '../helpers/serve.js';

const run = promisify(execFile);
const REPORT = path.resolve('node_modules/@scarf/scarf/report.js');

/** The environment of an install with every telemetry opt-out variable removed: only package.json may decide. */
function installEnv(extra: Record<string, string>): Record<string, string> {
  const env = Object.fromEntries(Object.entries(process.env).filter((e): e is [string, string] => e[1] !== undefined));
  for (const name of ['SCARF_ANALYTICS', 'SCARF_NO_ANALYTICS', 'DO_NOT_TRACK', 'npm_config_global']) delete env[name];
  return { ...env, ...extra };
}

describe('install-time telemetry', () => {
  it('is refused by package.json alone: scarf sends nothing and says the user opted out', async () => {
    // SCARF_LOCAL_PORT points scarf's report at a local server instead of its own host, so a report would land here.
    const received: string[] = [];
    const server = await serve((req, res) => {
      received.push(`${req.method} ${req.url}`);
      res.end();
    });
    try {
      const port = server.port;
      const { stdout, stderr } = await run(process.execPath, [REPORT], {
        // As npm runs a postinstall script: INIT_CWD is the project being installed.
        cwd: path.dirname(REPORT),
        env: installEnv({ INIT_CWD: process.cwd(), SCARF_LOCAL_PORT: String(port), SCARF_VERBOSE: 'true' }),
        timeout: 30_000,
      });
      expect(received).toEqual([]);
      expect(`${stdout}${stderr}`).toContain('User has opted out');
    } finally {
      await server.close();
    }
  });

  it('is off in package.json, in .ci/run before npm ci, and in the image build', async () => {
    const pkg = JSON.parse(await fs.readFile('package.json', 'utf8')) as { scarfSettings?: { enabled?: boolean }; allowScripts?: Record<string, boolean> };
    expect(pkg.scarfSettings?.enabled).toBe(false);
    // npm versions with install-script approvals never run its postinstall at all.
    expect(pkg.allowScripts?.['@scarf/scarf']).toBe(false);
    const ci = await fs.readFile('.ci/run', 'utf8');
    expect(ci).toMatch(/^export SCARF_ANALYTICS=false$/m);
    expect(ci.indexOf('SCARF_ANALYTICS=false')).toBeLessThan(ci.indexOf('npm ci'));
    const dockerfile = await fs.readFile('Dockerfile', 'utf8');
    const build = dockerfile.slice(0, dockerfile.indexOf('RUN npm ci'));
    expect(build).toMatch(/^ENV SCARF_ANALYTICS=false/m);
  });
});
