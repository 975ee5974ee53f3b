/**
 * Takes the README's picture of the playground (docs/playground.png): race mode, SGD against
 * Adaptive-GSAM on two moons, after `steps` steps, in headless Chromium.
 *
 *   node --import tsx playground/screenshot.ts [out.png] [steps]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { chromium } from 'playwright-core';
import { buildPlayground } from './build.js';
import { servePlayground } from './serve.js';

const out = resolve(process.argv[2] ?? 'docs/playground.png');
const steps = Number(process.argv[3] ?? 1500);
if (!Number.isInteger(steps) || steps < 0) throw new RangeError(`screenshot: steps must be an integer >= 0, got '${process.argv[3]}'`);
const HASH = '#race=1&opt=sgd&b.opt=agsam&noise=0.25&every=100';

const dir = mkdtempSync(join(tmpdir(), 'flatminima-shot-'));
await buildPlayground(dir);
const { server, url } = await servePlayground(dir, 0);
const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox', '--disable-gpu', '--no-first-run'] });
try {
  const page = await browser.newPage({ viewport: { width: 1440, height: 1000 }, deviceScaleFactor: 1 });
  await page.goto(url + HASH);
  await page.waitForSelector('body[data-ready="true"]', { state: 'attached', timeout: 120_000 });
  await page.click('#play');
  await page.waitForFunction(
    (n) => (window as unknown as { flatminimaPlayground: { state(): { step: number } } }).flatminimaPlayground.state().step >= n,
    steps,
    {
      timeout: 600_000,
    },
  );
  await page.click('#play');
  await page.screenshot({ path: out, fullPage: true });
  console.log(`wrote ${out}`);
} finally {
  await browser.close();
  server.close();
  rmSync(dir, { recursive: true, force: true });
}
