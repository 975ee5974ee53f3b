/**
 * The font the PNGs are drawn with, and so the one text is measured in (textWidth.ts): DejaVu Sans
 * (Debian fonts-dejavu-core) or Liberation Sans when installed, else resvg's system-font scan.
 */
import { existsSync } from 'node:fs';

/** Font files tried in order; the first family found becomes resvg's sans-serif. */
const FONT_CANDIDATES: ReadonlyArray<{ family: string; files: string[] }> = [
  {
    family: 'DejaVu Sans',
    files: ['/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf', '/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf'],
  },
  {
    family: 'Liberation Sans',
    files: [
      '/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf',
      '/usr/share/fonts/truetype/liberation/LiberationSans-Bold.ttf',
    ],
  },
];

/** The font family the PNGs use and where it came from. */
export interface PngFont {
  family: string;
  /** Font files loaded explicitly; empty when falling back to system fonts. */
  files: string[];
}

/** Picks the font for PNG text: a known font file when installed, else resvg's system-font scan. */
export function pngFont(): PngFont {
  for (const c of FONT_CANDIDATES) {
    const files = c.files.filter((f) => existsSync(f));
    if (files.length > 0 && files[0] === c.files[0]) return { family: c.family, files };
  }
  return { family: 'sans-serif', files: [] };
}
