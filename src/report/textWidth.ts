/**
 * Text widths for vega's layout, measured with the font the PNGs are drawn with.
 *
 * Without node-canvas vega guesses every string as 0.8 em per character, nearly twice DejaVu Sans'
 * real width, so long axis titles get huge bounding boxes and the plots large empty margins. resvg
 * already has the font loaded for the PNGs and reports a text's bounding box, so it measures here.
 */
import { Resvg } from '@resvg/resvg-js';
import * as vega from 'vega';
import type { PngFont } from './fonts.js';

/** The subset of a vega text scenegraph item the measurement reads. */
interface TextItem {
  text?: unknown;
  fontSize?: number | string;
  fontWeight?: string | number;
  fontStyle?: string;
  limit?: number;
}

interface TextMetrics {
  width: (item: TextItem, text?: unknown) => number;
  estimateWidth: (item: TextItem, text?: unknown) => number;
}

const cache = new Map<string, number>();

function escapeXml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' })[c] as string);
}

/** Width in px of `text` set in `font` at `fontSize`, weight and style as CSS writes them. */
export function measureTextWidth(
  font: PngFont,
  text: string,
  fontSize: number,
  fontWeight: string = 'normal',
  fontStyle: string = 'normal',
): number {
  const trimmed = text.trim();
  if (trimmed.length === 0 || !(fontSize > 0)) return 0;
  const key = `${font.family}|${fontSize}|${fontWeight}|${fontStyle}|${trimmed}`;
  const hit = cache.get(key);
  if (hit !== undefined) return hit;
  const svg =
    `<svg xmlns="http://www.w3.org/2000/svg" width="${Math.ceil(fontSize * trimmed.length * 2 + 10)}" height="${Math.ceil(fontSize * 3)}">` +
    `<text x="0" y="${fontSize * 1.5}" font-family="${escapeXml(font.family)}" font-size="${fontSize}" font-weight="${escapeXml(String(fontWeight))}" font-style="${escapeXml(fontStyle)}">${escapeXml(trimmed)}</text></svg>`;
  const resvg = new Resvg(svg, {
    font: { loadSystemFonts: font.files.length === 0, fontFiles: font.files, defaultFontFamily: font.family, sansSerifFamily: font.family },
  });
  const width = resvg.getBBox()?.width ?? 0;
  cache.set(key, width);
  return width;
}

/**
 * Points vega's text measurement at {@link measureTextWidth} (vega keeps it in one module-level
 * object, `textMetrics`, that it reads during layout). Idempotent.
 */
export function installTextMetrics(font: PngFont): void {
  const metrics = (vega as unknown as { textMetrics: TextMetrics }).textMetrics;
  metrics.width = (item: TextItem, line?: unknown): number => {
    const raw = line ?? item.text;
    if (raw === undefined || raw === null) return 0;
    const text = Array.isArray(raw) ? raw.join(' ') : String(raw);
    const size = item.fontSize !== undefined ? Number(item.fontSize) || 0 : 11;
    const width = measureTextWidth(font, text, size, String(item.fontWeight ?? 'normal'), item.fontStyle ?? 'normal');
    // vega truncates text longer than `limit` to fit it; the truncated text is at most that wide.
    return item.limit !== undefined && item.limit > 0 ? Math.min(width, item.limit) : width;
  };
}
