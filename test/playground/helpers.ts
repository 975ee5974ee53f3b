/**
 * The playground's browser tests' set-up: the site built into a temporary folder, served on a free
 * loopback port by the same server `npm run playground` uses, and opened in Debian's Chromium through
 * playwright-core, with every console error, page error and request outside the site recorded.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import type { Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { buildPlayground } from '../../playground/build.js';
import { servePlayground } from '../../playground/serve.js';

/** Debian's Chromium, as the report's tests use it. */
export const CHROMIUM = '/usr/bin/chromium';
/** The flags test/report uses: no sandbox (root in CI), no GPU, no background traffic. */
export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--no-first-run',
  '--disable-sync',
];

/** Whether the browser tests can run here; in CI they must. */
export function chromiumAvailable(): boolean {
  if (existsSync(CHROMIUM)) return true;
  assert.ok(!process.env.CI, `${CHROMIUM} is required in CI (.ci/run installs it)`);
  return false;
}

/** A built and served site and a browser. */
export interface Site {
  url: string;
  browser: Browser;
  close(): Promise<void>;
}

/** Builds the site (unminified: readable stack traces), serves it and starts Chromium. */
export async function openSite(): Promise<Site> {
  const dir = mkdtempSync(join(tmpdir(), 'flatminima-playground-'));
  let server: Server | null = null;
  let browser: Browser | null = null;
  try {
    await buildPlayground(dir, { minify: false });
    const served = await servePlayground(dir, 0);
    server = served.server;
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
    const b = browser;
    const s = server;
    return {
      url: served.url,
      browser: b,
      async close() {
        await b.close();
        await new Promise<void>((ok) => s.close(() => ok()));
        rmSync(dir, { recursive: true, force: true });
      },
    };
  } catch (e) {
    await browser?.close();
    server?.close();
    rmSync(dir, { recursive: true, force: true });
    throw e;
  }
}

/** A page of the site with what it logged. */
export interface OpenedPage {
  page: Page;
  consoleErrors: string[];
  externalRequests: string[];
}

/** Opens the page at `hash` (e.g. '#data=xor') and waits until it is ready. */
export async function openPage(site: Site, hash = ''): Promise<OpenedPage> {
  const page = await site.browser.newPage({ viewport: { width: 1400, height: 1000 } });
  const consoleErrors: string[] = [];
  const externalRequests: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error') consoleErrors.push(m.text());
  });
  page.on('pageerror', (e) => consoleErrors.push(e.message));
  page.on('request', (r) => {
    if (!r.url().startsWith(site.url) && !r.url().startsWith('data:') && !r.url().startsWith('blob:')) externalRequests.push(r.url());
  });
  await page.goto(site.url + hash);
  await page.waitForSelector('body[data-ready="true"]', { state: 'attached', timeout: 120_000 });
  return { page, consoleErrors, externalRequests };
}

/** The page's state (see `snapshot()` in playground/src/main.ts). */
export interface PageState {
  step: number;
  running: boolean;
  renders: number;
  backend: string;
  tfBackend: string;
  hash: string;
  settings: Record<string, unknown> & { a: Record<string, unknown>; b: Record<string, unknown>; race: boolean };
  history: { step: number; trainLoss: number; testAccuracy: number; perturbedLoss: number | null }[][];
  measurements: { step: number; sigmaMax: number; sliceLosses: number[] }[][];
  numTensors: number;
}

export function state(page: Page): Promise<PageState> {
  return page.evaluate(() => (window as unknown as { flatminimaPlayground: { state(): PageState } }).flatminimaPlayground.state());
}

/** Presses Play, waits (by step count, not by time) until `steps` steps are done, presses Pause. */
export async function playUntil(page: Page, steps: number): Promise<PageState> {
  await page.click('#play');
  await page.waitForFunction(
    (n) => (window as unknown as { flatminimaPlayground: { state(): { step: number } } }).flatminimaPlayground.state().step >= n,
    steps,
    { timeout: 300_000, polling: 100 },
  );
  await page.click('#play');
  const s = await state(page);
  assert.equal(s.running, false, 'paused');
  return s;
}

/** A fingerprint of a canvas's pixels (its PNG data URL). */
export function canvasPixels(page: Page, selector: string): Promise<string> {
  return page.$eval(selector, (c) => (c as HTMLCanvasElement).toDataURL('image/png'));
}
