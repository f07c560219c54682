// Bull Board in a real headless browser (Debian chromium + playwright-core): refused without a session, usable
// after signing in at /admin/login with an admin token, refused again after a non-admin tries to sign in.
import fs from 'node:fs';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serve, type Served } from '../helpers/serve.js';
import { createWorld, type World } from '../helpers/world.js';

// CI installs Debian's chromium when it can (.ci/run); elsewhere this file is skipped with a reason.
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const haveChromium = fs.existsSync(CHROMIUM);

describe.skipIf(!haveChromium)(`queue dashboard in a headless browser (${CHROMIUM})`, () => {
  let world: World;
  let api: Served;
  let base: string;
  let browser: Browser;

  beforeAll(async () => {
    world = await createWorld();
    api = await serve(world.app);
    base = api.url;
    // --no-sandbox: CI runs as root, where chromium's sandbox refuses to start.
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox'] });
  });
  afterAll(async () => {
    await browser?.close();
    await api?.close();
    await world?.close();
  });

  it('answers 401 to a browser without a session', async () => {
    const page = await browser.newPage();
    const res = await page.goto(`${base}/admin/queues`);
    expect(res?.status()).toBe(401);
    await page.close();
  });

  it('keeps a non-admin out: the sign-in page shows the refusal and the dashboard stays closed', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(`${base}/admin/login`);
    await page.fill('#t', await world.token('operator', 'olga'));
    await page.click('button');
    await expect.poll(async () => (await page.textContent('#e')) ?? '', { timeout: 10_000 }).not.toBe('');
    expect(page.url()).toBe(`${base}/admin/login`);
    // No cookie was set, so the dashboard still sees an anonymous visitor.
    expect((await page.goto(`${base}/admin/queues`))?.status()).toBe(401);
    await context.close();
  });

  it('signs an admin in and renders every queue, the page fetching its API with the cookie alone', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    const apiCalls: number[] = [];
    page.on('response', (r) => {
      if (r.url().startsWith(`${base}/admin/queues/api/`)) apiCalls.push(r.status());
    });
    await page.goto(`${base}/admin/login`);
    await page.fill('#t', await world.token('admin', 'root'));
    await Promise.all([page.waitForURL(`${base}/admin/queues**`), page.click('button')]);
    // Bull Board is a single-page app: the queue names appear once its own API calls succeeded.
    for (const queue of ['ingest', 'files', 'maintenance']) {
      await expect.poll(async () => (await page.content()).includes(queue), { timeout: 15_000 }).toBe(true);
    }
    expect(apiCalls.length).toBeGreaterThan(0);
    expect(apiCalls.every((s) => s === 200)).toBe(true);
    const cookies = await context.cookies();
    expect(cookies.find((c) => c.name === 'artstore_admin')).toMatchObject({ httpOnly: true, sameSite: 'Strict', path: '/admin' });
    await context.close();
  });
});
