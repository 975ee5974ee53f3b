/**
 * Rendering and the small helpers: PNG size follows the SVG size and scale, text is actually drawn
 * (resvg has a font), path rounding, display names and colours, statistics, HTML escaping.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  escapeHtml,
  formatNumber,
  optimizerColor,
  optimizerColorScale,
  optimizerLabel,
  pngFont,
  roundPathNumbers,
  spread,
  svgSize,
  svgToPng,
  svgToRgba,
} from '../../src/report/index.js';
import { pngSize } from './helpers.js';

const TEXT_SVG =
  '<svg xmlns="http://www.w3.org/2000/svg" width="120" height="40"><text x="5" y="28" font-family="sans-serif" font-size="20">SAM</text></svg>';
const BLANK_SVG = '<svg xmlns="http://www.w3.org/2000/svg" width="120" height="40"></svg>';

function darkPixels(rgba: Buffer): number {
  let n = 0;
  for (let i = 0; i < rgba.length; i += 4) if (rgba[i] + rgba[i + 1] + rgba[i + 2] < 300) n++;
  return n;
}

describe('render', () => {
  test('PNG is the SVG size times the scale', () => {
    assert.deepEqual(pngSize(svgToPng(TEXT_SVG)), { width: 240, height: 80 });
    assert.deepEqual(pngSize(svgToPng(TEXT_SVG, { scale: 1.5 })), { width: 180, height: 60 });
  });

  test('text is drawn (a font is found), blank stays blank', () => {
    const font = pngFont();
    assert.ok(font.family.length > 0);
    const text = svgToRgba(TEXT_SVG);
    assert.equal(text.width, 240);
    // "SAM" at 20 px, doubled: well over a few hundred dark pixels; an empty canvas has none.
    assert.ok(darkPixels(text.rgba) > 300, `dark pixels: ${darkPixels(text.rgba)}`);
    assert.equal(darkPixels(svgToRgba(BLANK_SVG).rgba), 0);
  });

  test('bad scale and bad svg are rejected by name', () => {
    assert.throws(() => svgToPng(TEXT_SVG, { scale: 0 }), /scale must be a number in \(0, 8\]/);
    assert.throws(() => svgToPng('hello'), /svg must be an SVG document string/);
  });

  test('svgSize reads the root attributes', () => {
    assert.deepEqual(svgSize('<svg xmlns="x" class="marks" width="302" height="197.5"><g/></svg>'), { width: 302, height: 197.5 });
    assert.throws(() => svgSize('<svg height="3"></svg>'), /width/);
    assert.throws(() => svgSize('<div/>'), /<svg> root/);
  });

  test('roundPathNumbers rounds path data only', () => {
    const svg = '<svg><path d="M0,216.2233333333333h3.776666666666667v-3.7766666666666993Z" data-x="1.23456"/></svg>';
    assert.equal(roundPathNumbers(svg), '<svg><path d="M0,216.22h3.78v-3.78Z" data-x="1.23456"/></svg>');
  });
});

describe('style and helpers', () => {
  test('display names and fixed colours', () => {
    const names = ['sgd', 'sam', 'asam', 'gsam', 'agsam', 'looksam', 'msam', 'esam'];
    assert.deepEqual(names.map(optimizerLabel), ['SGD', 'SAM', 'ASAM', 'GSAM', 'Adaptive-GSAM', 'LookSAM', 'MomentumSAM', 'ESAM']);
    assert.equal(new Set(names.map(optimizerColor)).size, names.length, 'every method has its own colour');
    assert.deepEqual(optimizerColorScale(['agsam', 'sgd', 'agsam']), {
      domain: ['SGD', 'Adaptive-GSAM'],
      range: [optimizerColor('sgd'), optimizerColor('agsam')],
    });
    assert.throws(
      () => optimizerLabel('adam'),
      /optimizer name must be one of sgd, sam, asam, gsam, agsam, looksam, msam, esam, got "adam"/,
    );
  });

  test('spread: mean, sample std, range of the finite values', () => {
    const s = spread([1, 2, 3, 4, Number.NaN, Number.POSITIVE_INFINITY]);
    assert.ok(s);
    assert.equal(s.n, 4);
    assert.equal(s.mean, 2.5);
    assert.ok(Math.abs(s.std! - Math.sqrt(5 / 3)) < 1e-12);
    assert.deepEqual([s.min, s.max], [1, 4]);
    assert.equal(spread([7])!.std, null);
    assert.equal(spread([Number.NaN]), null);
  });

  test('escapeHtml and formatNumber', () => {
    assert.equal(escapeHtml(`<a href="x">&'</a>`), '&lt;a href=&quot;x&quot;&gt;&amp;&#39;&lt;/a&gt;');
    assert.equal(formatNumber(0.87654), '0.877');
    assert.equal(formatNumber(123.456), '123');
    assert.equal(formatNumber(0.0001234), '1.23e-4');
    assert.equal(formatNumber(0), '0');
  });
});
