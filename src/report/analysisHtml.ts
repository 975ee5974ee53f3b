/**
 * The "Analysis" section of a group on the report page: the tables of the analysis (selection,
 * paired tests, sensitivity summary, convergence, points) and its plots, or why there is none.
 */
import {
  comparisonTable,
  convergenceTable,
  describeTarget,
  metricWords,
  pointsTable,
  selectionTable,
  sensitivityTable,
  type AnalysisGroup,
  type MetricName,
  type TableData,
} from '../analysis/index.js';
import type { AnalysisPlot, SkippedAnalysisPlot } from './analysisCharts.js';
import { escapeHtml } from './html.js';
import { optimizerLabel } from './style.js';

/** An analysis plot as placed on the page: rendered (SVG and file names) or skipped. */
export type AnalysisPagePlot = (AnalysisPlot & { svg: string; svgFile: string; pngFile: string }) | SkippedAnalysisPlot;

/** What the section shows: the analysis and its plots, or the error that stopped it. */
export type AnalysisSection = { group: AnalysisGroup; plots: AnalysisPagePlot[] } | { error: string };

function htmlTable(id: string, t: TableData): string {
  const head = `<tr>${t.header.map((h) => `<th>${escapeHtml(h)}</th>`).join('')}</tr>`;
  const body = t.rows
    .map((r) => `<tr>${r.map((c, i) => `<td${t.numeric[i] && c !== '' ? ' class="num"' : ''}>${escapeHtml(c)}</td>`).join('')}</tr>`)
    .join('\n');
  return `<table class="analysis" id="${escapeHtml(id)}">\n<thead>${head}</thead>\n<tbody>\n${body}\n</tbody></table>`;
}

function plotHtml(key: string, p: AnalysisPagePlot): string {
  const id = `plot-${key}-${p.id}`;
  if ('skipped' in p) {
    return `<h4>${escapeHtml(p.title)}</h4>\n<p class="skipped plot-skipped" id="${escapeHtml(id)}" data-plot-id="${p.id}">Not drawn: ${escapeHtml(p.skipped)}.</p>`;
  }
  // The SVG comes from vega's renderer (not from user text), so it is inlined as is.
  return (
    `<h4>${escapeHtml(p.title)}</h4>\n<figure class="plot analysis-plot" id="${escapeHtml(id)}" data-plot-id="${p.id}">\n${p.svg}\n` +
    `<figcaption>${escapeHtml(p.caption)} Files: <code>${escapeHtml(p.svgFile)}</code>, <code>${escapeHtml(p.pngFile)}</code>.</figcaption>\n</figure>`
  );
}

/** The section's HTML for the group with report key `key`. */
export function analysisSectionHtml(key: string, section: AnalysisSection): string {
  if ('error' in section) {
    return `<section class="analysis" id="analysis-${escapeHtml(key)}">\n<h3>Analysis</h3>\n<p class="warning">Not computed: ${escapeHtml(section.error)}</p>\n</section>`;
  }
  const g = section.group;
  const by: MetricName = g.selection[0]?.selectedBy ?? 'validationAccuracy';
  const c = g.convergence;
  const level = Math.round(g.comparisons.level * 100);
  const conv = convergenceTable(g);
  const parts = [
    `<section class="analysis" id="analysis-${escapeHtml(key)}">`,
    '<h3>Analysis</h3>',
    `<p class="muted">From the run records alone (also in analysis.md/.csv/.json after <code>flatminima analyze</code>). Each method's point is chosen on mean ${escapeHtml(metricWords(by))} over seeds, never on the test set; ` +
      `the number reported for it is its test accuracy. Intervals: ${level} % Student t over seeds.</p>`,
    '<h4>Selected points</h4>',
    htmlTable(`analysis-selection-${key}`, selectionTable(g)),
    `<h4>Paired comparisons (${escapeHtml(metricWords(g.comparisons.metric))} at the selected points)</h4>`,
    `<p class="muted">Differences over the seeds both points completed (same seed: same split and initial weights). Paired t-test and Wilcoxon signed-rank, each Holm-corrected over the ${g.comparisons.comparisons.length} comparison(s) made.</p>`,
    htmlTable(`analysis-comparisons-${key}`, comparisonTable(g)),
    '<h4>Sensitivity</h4>',
    g.sensitivity.length > 0
      ? `<p class="muted">Over each method's grid: range and sample std of the per-point means (points without diverged runs; no interval is shown for the range: a max − min of noisy means is biased upward and a seed bootstrap of it is not a confidence interval), and the share of all grid points within the tolerance of the method's best.</p>\n${htmlTable(`analysis-sensitivity-${key}`, sensitivityTable(g))}`
      : '<p class="muted">No method has more than one point.</p>',
    c.target !== null
      ? `<h4>Convergence to ${(c.target * 100).toFixed(2)} % validation accuracy (${escapeHtml(describeTarget(c, optimizerLabel))})</h4>`
      : '<h4>Convergence</h4>',
    conv !== null ? htmlTable(`analysis-convergence-${key}`, conv) : `<p class="skipped">Not computed: ${escapeHtml(c.reason ?? '')}.</p>`,
    ...section.plots.map((p) => plotHtml(key, p)),
    '<details><summary>Every point</summary>',
    htmlTable(`analysis-points-${key}`, pointsTable(g, [...new Set<MetricName>([by, 'validationAccuracy', 'testAccuracy'])])),
    '</details>',
    '</section>',
  ];
  return parts.join('\n');
}
