/**
 * Vega-Lite spec -> SVG (vega's headless View) -> PNG (resvg). resvg draws text only with fonts it
 * has loaded, so the PNG step loads the font fonts.ts picks (DejaVu Sans or Liberation Sans when
 * present), and otherwise falls back to the system's fonts.
 */
import { Resvg } from '@resvg/resvg-js';
import * as vega from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';
import { pngFont } from './fonts.js';
import { installTextMetrics } from './textWidth.js';

/** Renders a Vega-Lite spec to an SVG string (vega's View with renderer 'none', then toSVG). */
export async function vegaLiteToSvg(spec: TopLevelSpec): Promise<string> {
  const font = pngFont();
  // Lay text out with the PNG font's real widths (vega's own guess is far too wide); with only
  // system fonts the family is unknown, so vega's guess stays.
  if (font.files.length > 0) installTextMetrics(font);
  const vgSpec = compile(spec).spec;
  // vega-lite's output type and vega's input type are the same JSON but declared separately.
  const view = new vega.View(vega.parse(vgSpec as vega.Spec), { renderer: 'none' });
  try {
    return roundPathNumbers(await view.toSVG());
  } finally {
    view.finalize();
  }
}

/**
 * Rounds the coordinates in `d="..."` path data to 2 decimals (1/100 of a pixel, invisible even at
 * the PNG's 2x zoom). vega writes 16 significant digits, which doubles the size of heat maps with
 * thousands of cells; it has no precision option, hence this small post-processing step.
 */
export function roundPathNumbers(svg: string): string {
  return svg.replace(
    / d="([^"]*)"/g,
    (_, d: string) => ` d="${d.replace(/-?\d+\.\d{3,}(e-?\d+)?/g, (n) => String(Math.round(Number(n) * 100) / 100))}"`,
  );
}

/** Width and height (user units) from an SVG root element. */
export function svgSize(svg: string): { width: number; height: number } {
  const root = /<svg\b[^>]*>/.exec(svg);
  if (!root) throw new Error('svg must contain an <svg> root element');
  const attr = (name: string): number => {
    const m = new RegExp(`\\s${name}="([0-9.]+)"`).exec(root[0]);
    if (!m) throw new Error(`svg root element has no numeric ${name} attribute`);
    return Number(m[1]);
  };
  return { width: attr('width'), height: attr('height') };
}

function rasterize(svg: string, scale: number): ReturnType<Resvg['render']> {
  if (typeof svg !== 'string' || !svg.includes('<svg')) throw new Error('svg must be an SVG document string');
  if (!(Number.isFinite(scale) && scale > 0 && scale <= 8)) {
    throw new Error(`scale must be a number in (0, 8], got ${scale}`);
  }
  const font = pngFont();
  const resvg = new Resvg(svg, {
    background: 'white',
    fitTo: { mode: 'zoom', value: scale },
    font: {
      loadSystemFonts: font.files.length === 0,
      fontFiles: font.files,
      defaultFontFamily: font.family,
      sansSerifFamily: font.family,
    },
  });
  return resvg.render();
}

/**
 * Renders an SVG string to PNG bytes at `scale` (default 2) times its size, on white.
 * The PNG is exactly round(width * scale) x round(height * scale) pixels.
 */
export function svgToPng(svg: string, opts: { scale?: number } = {}): Buffer {
  return rasterize(svg, opts.scale ?? 2).asPng();
}

/** The same rendering as {@link svgToPng}, as raw RGBA pixels (for checks such as "text was drawn"). */
export function svgToRgba(svg: string, opts: { scale?: number } = {}): { width: number; height: number; rgba: Buffer } {
  const image = rasterize(svg, opts.scale ?? 2);
  return { width: image.width, height: image.height, rgba: image.pixels };
}
