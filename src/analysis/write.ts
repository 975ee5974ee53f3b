/** Writing an {@link Analysis} next to the runs: analysis.md, analysis.csv and analysis.json. */
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { writeFileAtomic } from '../experiments/atomicFile.js';
import type { Analysis } from './analyze.js';
import { analysisToCsv, analysisToJson, formatAnalysisMarkdown } from './format.js';

/** Paths {@link writeAnalysis} wrote. */
export interface AnalysisFiles {
  /** Absolute path of `analysis.md`. */
  markdown: string;
  /** Absolute path of `analysis.csv`. */
  csv: string;
  /** Absolute path of `analysis.json`. */
  json: string;
}

/**
 * Writes `<dir>/analysis.md`, `analysis.csv` and `analysis.json` (each atomically, so a reader never
 * sees half a file), creating `dir` if needed, and returns their absolute paths.
 */
export function writeAnalysis(dir: string, analysis: Analysis): AnalysisFiles {
  if (typeof dir !== 'string' || dir.length === 0)
    throw new TypeError(`writeAnalysis: dir must be a non-empty path string, got ${JSON.stringify(dir)}`);
  const out = resolve(dir);
  mkdirSync(out, { recursive: true });
  const files = { markdown: join(out, 'analysis.md'), csv: join(out, 'analysis.csv'), json: join(out, 'analysis.json') };
  writeFileAtomic(files.markdown, formatAnalysisMarkdown(analysis));
  writeFileAtomic(files.csv, analysisToCsv(analysis));
  writeFileAtomic(files.json, analysisToJson(analysis));
  return files;
}
