/**
 * Checks shared by the report tests: PNG header parsing and the headless-Chromium page check.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { chromium } from 'playwright-core';
import { svgSize } from '../../src/report/index.js';

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

/** Width and height from a PNG's IHDR chunk, after checking the signature and chunk type. */
export function pngSize(png: Buffer): { width: number; height: number } {
  assert.ok(png.length > 33, 'PNG too short');
  assert.deepEqual(png.subarray(0, 8), PNG_SIGNATURE, 'PNG signature');
  assert.equal(png.subarray(12, 16).toString('latin1'), 'IHDR', 'first chunk is IHDR');
  return { width: png.readUInt32BE(16), height: png.readUInt32BE(20) };
}

/** Asserts that `svgPath` is an SVG with a size and that `pngPath` is a PNG of that size times `scale`. */
export function assertPlotFiles(svgPath: string, pngPath: string, scale: number): void {
  const svg = readFileSync(svgPath, 'utf8');
  assert.match(svg, /^<svg\b[^>]*xmlns="http:\/\/www\.w3\.org\/2000\/svg"/, `${svgPath} starts with an <svg> root`);
  assert.match(svg, /<\/svg>\s*$/, `${svgPath} closes its root`);
  const { width, height } = svgSize(svg);
  assert.ok(width > 50 && height > 50, `${svgPath} has a real size, got ${width}x${height}`);
  assert.deepEqual(
    pngSize(readFileSync(pngPath)),
    { width: Math.round(width * scale), height: Math.round(height * scale) },
    `${pngPath} size`,
  );
}

/** What the page check found. */
export interface PageFacts {
  consoleErrors: string[];
  /** Requests to anything but the page itself (a self-contained page makes none). */
  externalRequests: string[];
  /** data-plot-id of every figure holding an <svg>. */
  figures: string[];
  /** data-plot-id of every skipped-plot note. */
  skipped: string[];
  /** Number of body rows of each table, by id. */
  tableRows: Record<string, number>;
  /** Files whose SVG text fails DOMParser (image/svg+xml), with the parser's message. */
  svgParseErrors: string[];
  /** Root element name and width/height attributes of each inline figure SVG. */
  inlineSvgs: Array<{ tag: string; width: string | null; height: string | null }>;
}

const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--no-first-run',
  '--disable-sync',
];

/**
 * Opens `htmlPath` in headless Chromium (Debian's /usr/bin/chromium) and reads the facts the tests
 * assert on; also parses each of `svgFiles` with the browser's XML parser.
 */
export async function inspectPage(htmlPath: string, svgFiles: string[]): Promise<PageFacts> {
  const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS });
  try {
    const page = await browser.newPage();
    const consoleErrors: string[] = [];
    const externalRequests: string[] = [];
    const url = pathToFileURL(htmlPath).href;
    page.on('console', (m) => {
      if (m.type() === 'error') consoleErrors.push(m.text());
    });
    page.on('pageerror', (e) => consoleErrors.push(e.message));
    page.on('request', (r) => {
      if (r.url() !== url && !r.url().startsWith('data:')) externalRequests.push(r.url());
    });
    await page.goto(url, { waitUntil: 'load' });
    const dom = await page.evaluate(() => {
      const tableRows: Record<string, number> = {};
      for (const t of Array.from(document.querySelectorAll('table[id]'))) tableRows[t.id] = t.querySelectorAll('tbody tr').length;
      return {
        figures: Array.from(document.querySelectorAll('figure.plot'))
          .filter((f) => f.querySelector(':scope > svg') !== null)
          .map((f) => f.getAttribute('data-plot-id') ?? ''),
        skipped: Array.from(document.querySelectorAll('.plot-skipped')).map((p) => p.getAttribute('data-plot-id') ?? ''),
        tableRows,
        inlineSvgs: Array.from(document.querySelectorAll('figure.plot > svg')).map((s) => ({
          tag: s.tagName,
          width: s.getAttribute('width'),
          height: s.getAttribute('height'),
        })),
      };
    });
    const svgParseErrors: string[] = [];
    for (const file of svgFiles) {
      const text = readFileSync(file, 'utf8');
      const err = await page.evaluate((t) => {
        const doc = new DOMParser().parseFromString(t, 'image/svg+xml');
        const pe = doc.querySelector('parsererror');
        if (pe) return pe.textContent ?? 'parse error';
        return doc.documentElement.tagName === 'svg' ? null : `root is <${doc.documentElement.tagName}>`;
      }, text);
      if (err !== null) svgParseErrors.push(`${file}: ${err}`);
    }
    return { consoleErrors, externalRequests, svgParseErrors, ...dom };
  } finally {
    await browser.close();
  }
}
