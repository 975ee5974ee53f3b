/**
 * `writeReport`: a results directory in, `report.html` plus one SVG and one PNG per plot out.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { isSkipped, planPlots } from './charts.js';
import { buildReportHtml, type PagePlot } from './html.js';
import { groupRecords, readResultRecords } from './records.js';
import { svgToPng, vegaLiteToSvg } from './render.js';
import { METHOD_ORDER, summarize } from '../experiments/summary.js';
import { analyzeRecords, collectPoints, resolveAnalyzeOptions, type AnalysisGroup, type AnalyzeOptions } from '../analysis/index.js';
import { planAnalysisPlots } from './analysisCharts.js';
import { analysisSectionHtml, type AnalysisPagePlot } from './analysisHtml.js';
import type { RunRecord } from '../experiments/schema.js';

export { PLOT_IDS, planPlots, isSkipped, type PlannedPlot, type SkippedPlot, type PlotId } from './charts.js';
export { buildReportHtml, escapeHtml, formatNumber, type PageInput, type PagePlot } from './html.js';
export { groupRecords, readResultRecords, unfinishedRecords, type RecordGroup } from './records.js';
export { pngFont, type PngFont } from './fonts.js';
export { roundPathNumbers, svgSize, svgToPng, svgToRgba, vegaLiteToSvg } from './render.js';
export { spread, type Spread } from './stats.js';
export { formatMarkdownTable, formatStat, toCsv, toJson } from './tables.js';
export {
  ANALYSIS_PLOT_IDS,
  planAnalysisPlots,
  type AnalysisPlot,
  type AnalysisPlotId,
  type SkippedAnalysisPlot,
} from './analysisCharts.js';
export { analysisSectionHtml, type AnalysisPagePlot, type AnalysisSection } from './analysisHtml.js';
export { OPTIMIZER_ORDER, optimizerColor, optimizerColorScale, optimizerLabel, sortOptimizers, type OptimizerName } from './style.js';

/** Options of {@link writeReport}. */
export interface WriteReportOptions {
  /** Where report.html and the plot files go (created if missing); default: `resultsDir`. */
  outDir?: string;
  /** PNG pixels per SVG unit (default 2). */
  pngScale?: number;
  /**
   * Options of the Analysis section (see analyzeRecords). The section and its plots are on the page
   * for every group whose records form a sweep (a method with more than one point), and for every
   * group when these options are given (`flatminima analyze` gives them).
   */
  analysis?: AnalyzeOptions;
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

  if (opts.analysis !== undefined) resolveAnalyzeOptions(opts.analysis);
  const files: string[] = [];
  const groups: Parameters<typeof buildReportHtml>[0]['groups'] = [];
  const render = async (
    key: string,
    id: string,
    spec: Parameters<typeof vegaLiteToSvg>[0],
  ): Promise<{ svg: string; svgFile: string; pngFile: string }> => {
    const svg = await vegaLiteToSvg(spec);
    const svgFile = `${key}-${id}.svg`;
    const pngFile = `${key}-${id}.png`;
    writeFileSync(join(outDir, svgFile), svg);
    writeFileSync(join(outDir, pngFile), svgToPng(svg, { scale: opts.pngScale }));
    files.push(join(outDir, svgFile), join(outDir, pngFile));
    return { svg, svgFile, pngFile };
  };
  for (const group of groupRecords(records)) {
    const plots: PagePlot[] = [];
    for (const plan of planPlots(group)) {
      if (isSkipped(plan)) {
        plots.push(plan);
        continue;
      }
      plots.push({ ...plan, ...(await render(group.key, plan.id, plan.spec)) });
    }
    const section = analysisSection(group.all, opts.analysis);
    let analysisHtml: string | undefined;
    if (section !== null) {
      const analysisPlots: AnalysisPagePlot[] = [];
      if ('group' in section) {
        for (const plan of planAnalysisPlots(section.group)) {
          analysisPlots.push('skipped' in plan ? plan : { ...plan, ...(await render(group.key, plan.id, plan.spec)) });
        }
      }
      analysisHtml = analysisSectionHtml(group.key, 'group' in section ? { group: section.group, plots: analysisPlots } : section);
    }
    groups.push({ group, summary: summarize(group.all), plots, ...(analysisHtml !== undefined ? { analysisHtml } : {}) });
  }
  const htmlPath = join(outDir, 'report.html');
  writeFileSync(htmlPath, buildReportHtml({ resultsDir: resolve(resultsDir), generatedAt: new Date().toISOString(), groups, records }));
  return { htmlPath, files };
}

/**
 * The analysis of one report group, or null when the page gets no Analysis section (not a sweep and
 * no analysis options). Named pairs are narrowed to the group's methods; an analysis that fails
 * (runs without a validation split, say) becomes a note on the page, not a failed report.
 */
function analysisSection(records: RunRecord[], options: AnalyzeOptions | undefined): { group: AnalysisGroup } | { error: string } | null {
  let isSweep: boolean;
  try {
    isSweep = collectPoints(records, METHOD_ORDER).some((m) => m.points.length > 1);
  } catch (err) {
    return { error: (err as Error).message.replace(/^collectPoints: /, '') };
  }
  if (!isSweep && options === undefined) return null;
  const methods = new Set(records.map((r) => r.spec.optimizer.name as string));
  const pairs = options?.pairs?.filter(([a, b]) => methods.has(a) && methods.has(b));
  try {
    const analysis = analyzeRecords(records, { ...options, ...(pairs !== undefined ? { pairs } : {}) });
    return { group: analysis.groups[0] };
  } catch (err) {
    return { error: (err as Error).message.replace(/^analyzeRecords: /, '') };
  }
}
