/**
 * `writeReport`: a results directory in, `report.html` plus one SVG and one PNG per plot out.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { isSkipped, planPlots } from './charts.js';
import { buildReportHtml, type PagePlot } from './html.js';
import { groupRecords, readResultRecords } from './records.js';
import { svgToPng, vegaLiteToSvg } from './render.js';
import { summarize } from '../experiments/summary.js';

export { PLOT_IDS, planPlots, isSkipped, type PlannedPlot, type SkippedPlot, type PlotId } from './charts.js';
export { buildReportHtml, escapeHtml, formatNumber, type PageInput, type PagePlot } from './html.js';
export { groupRecords, readResultRecords, unfinishedRecords, type RecordGroup } from './records.js';
export { pngFont, type PngFont } from './fonts.js';
export { roundPathNumbers, svgSize, svgToPng, svgToRgba, vegaLiteToSvg } from './render.js';
export { spread, type Spread } from './stats.js';
export { formatMarkdownTable, formatStat, toCsv, toJson } from './tables.js';
export { OPTIMIZER_ORDER, optimizerColor, optimizerColorScale, optimizerLabel, sortOptimizers, type OptimizerName } from './style.js';

/** Options of {@link writeReport}. */
export interface WriteReportOptions {
  /** Where report.html and the plot files go (created if missing); default: `resultsDir`. */
  outDir?: string;
  /** PNG pixels per SVG unit (default 2). */
  pngScale?: number;
}

/** What {@link writeReport} wrote. */
export interface WriteReportResult {
  /** Absolute path of report.html. */
  htmlPath: string;
  /** Absolute paths of the SVG and PNG files, two per drawn plot, in page order. */
  files: string[];
}

/**
 * Reads every `<resultsDir>/<run>/record.json` and writes `report.html` (self-contained) and, per
 * data set/model group, `<group>-<plot>.svg` and `.png` for each plot the records can give.
 * Asynchronous because vega renders asynchronously.
 * @throws Error when `resultsDir` is not a directory, holds no record, or holds an invalid record.
 */
export async function writeReport(resultsDir: string, opts: WriteReportOptions = {}): Promise<WriteReportResult> {
  if (opts.outDir !== undefined && (typeof opts.outDir !== 'string' || opts.outDir.length === 0)) {
    throw new Error(`outDir must be a non-empty path string when given, got ${JSON.stringify(opts.outDir)}`);
  }
  const records = readResultRecords(resultsDir);
  if (records.length === 0) throw new Error(`resultsDir holds no <run>/record.json: ${resultsDir}`);
  const outDir = resolve(opts.outDir ?? resultsDir);
  mkdirSync(outDir, { recursive: true });

  const files: string[] = [];
  const groups: Parameters<typeof buildReportHtml>[0]['groups'] = [];
  for (const group of groupRecords(records)) {
    const plots: PagePlot[] = [];
    for (const plan of planPlots(group)) {
      if (isSkipped(plan)) {
        plots.push(plan);
        continue;
      }
      const svg = await vegaLiteToSvg(plan.spec);
      const svgFile = `${group.key}-${plan.id}.svg`;
      const pngFile = `${group.key}-${plan.id}.png`;
      writeFileSync(join(outDir, svgFile), svg);
      writeFileSync(join(outDir, pngFile), svgToPng(svg, { scale: opts.pngScale }));
      files.push(join(outDir, svgFile), join(outDir, pngFile));
      plots.push({ ...plan, svg, svgFile, pngFile });
    }
    groups.push({ group, summary: summarize(group.all), plots });
  }
  const htmlPath = join(outDir, 'report.html');
  writeFileSync(htmlPath, buildReportHtml({ resultsDir: resolve(resultsDir), generatedAt: new Date().toISOString(), groups, records }));
  return { htmlPath, files };
}
