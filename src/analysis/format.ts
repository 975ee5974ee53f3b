/**
 * An {@link Analysis} as text: Markdown tables (what `flatminima analyze` prints and writes to
 * analysis.md), one long-format CSV (one row per reported figure, for other tools) and JSON (the
 * object itself).
 */
import { METHOD_NAMES } from '../experiments/summary.js';
import type { Analysis, AnalysisGroup, ResolvedAnalyzeOptions } from './analyze.js';
import { describeTarget } from './convergence.js';
import { metricGoal, type MetricName } from './points.js';
import type { Interval, MeanEstimate } from './stats.js';

/** Display name of a method: 'agsam' -> 'Adaptive-GSAM'; unknown names as they are. */
export function methodName(method: string): string {
  return METHOD_NAMES[method] ?? method;
}

/** Words for a metric: 'validationAccuracy' -> 'validation accuracy'. */
export function metricWords(metric: MetricName): string {
  return metric.replace(/([A-Z])/g, ' $1').toLowerCase();
}

const isAccuracy = (m: MetricName): boolean => m.endsWith('Accuracy');

/** A value of `metric`: accuracies in % with 2 decimals, losses with 4 decimals. */
export function formatMetricValue(metric: MetricName, v: number | null): string {
  if (v === null) return '—';
  return isAccuracy(metric) ? (v * 100).toFixed(2) : v.toFixed(4);
}

function formatInterval(metric: MetricName, ci: Interval | null): string {
  return ci === null ? '' : ` [${formatMetricValue(metric, ci.lower)}, ${formatMetricValue(metric, ci.upper)}]`;
}

/** `mean [lower, upper]` of an estimate (accuracies in %); `mean (n=1)` without a CI; '—' without a mean. */
export function formatEstimate(metric: MetricName, e: MeanEstimate | null): string {
  if (e === null || e.mean === null) return '—';
  return e.ci === null
    ? `${formatMetricValue(metric, e.mean)} (n=${e.n})`
    : `${formatMetricValue(metric, e.mean)}${formatInterval(metric, e.ci)}`;
}

/** A difference of `metric`: accuracy differences in points with a sign, losses with 4 decimals. */
function formatDifference(metric: MetricName, v: number): string {
  const s = isAccuracy(metric) ? (v * 100).toFixed(2) : v.toFixed(4);
  return v > 0 ? `+${s}` : s;
}

/** A p-value with 4 decimals ('< 0.0001' below that). */
export function formatP(p: number | null): string {
  if (p === null) return '—';
  return p < 1e-4 ? '< 0.0001' : p.toFixed(4);
}

function formatPlain(e: MeanEstimate, digits: number): string {
  if (e.mean === null) return '—';
  return e.ci === null
    ? `${e.mean.toFixed(digits)} (n=${e.n})`
    : `${e.mean.toFixed(digits)} [${e.ci.lower.toFixed(digits)}, ${e.ci.upper.toFixed(digits)}]`;
}

/** A table as text cells: what both the Markdown here and the report's HTML render. */
export interface TableData {
  header: string[];
  rows: string[][];
  /** Per column: whether it holds numbers (right-aligned). */
  numeric: boolean[];
}

const cell = (s: string): string => s.replace(/\|/g, '\\|');

/** A {@link TableData} as a Markdown table. */
export function markdownTable(t: TableData): string {
  const line = (cells: string[]): string => `| ${cells.map(cell).join(' | ')} |`;
  return [line(t.header), line(t.header.map((_, i) => (t.numeric[i] ? '---:' : '---'))), ...t.rows.map(line)].join('\n') + '\n';
}

/** Columns from `numericFrom` on are numeric, except the `text` ones. */
function table(header: string[], rows: string[][], numericFrom = 1, text: readonly number[] = []): TableData {
  return { header, rows, numeric: header.map((_, i) => i >= numericFrom && !text.includes(i)) };
}

function pct(level: number): string {
  return `${Math.round(level * 1000) / 10} %`;
}

/** The selection table: per method the chosen point, the metric that chose it and its test accuracy. */
export function selectionTable(g: AnalysisGroup): TableData {
  const by = g.selection[0]?.selectedBy ?? 'validationAccuracy';
  const level = pct(g.comparisons.level);
  const rows = g.selection.map((s) => [
    methodName(s.method),
    s.point ? s.point.label || '(single point)' : `none: ${s.reason}`,
    `${s.candidates}/${s.points}${s.excludedDiverged > 0 ? ` (${s.excludedDiverged} left out: diverged)` : ''}`,
    s.point ? s.point.completeSeeds.join(' ') : '—',
    formatEstimate(by, s.selectionMetric),
    formatEstimate('testAccuracy', s.testAccuracy),
  ]);
  return table(
    [
      'Method',
      'Selected point',
      'Candidates',
      'Seeds',
      `${metricWords(by)}${isAccuracy(by) ? ' (%)' : ''} [${level} CI] (chose)`,
      `test accuracy (%) [${level} CI] (reported)`,
    ],
    rows,
    2,
    [3],
  );
}

/** The paired-comparison table. */
export function comparisonTable(g: AnalysisGroup): TableData {
  const c = g.comparisons;
  const m = c.metric;
  const rows = c.comparisons.map((x) => [
    `${methodName(x.a)} − ${methodName(x.b)}`,
    String(x.n),
    x.seeds.join(' ') || '—',
    x.tTest
      ? `${formatDifference(m, x.tTest.meanDifference)} [${formatDifference(m, x.tTest.ci.lower)}, ${formatDifference(m, x.tTest.ci.upper)}]`
      : '—',
    x.tTest ? `${x.tTest.t.toFixed(3)} (${x.tTest.df})` : '—',
    formatP(x.tTest?.p ?? null),
    formatP(x.tTestHolm),
    x.wilcoxon ? `${x.wilcoxon.statistic} (${x.wilcoxon.method})` : '—',
    formatP(x.wilcoxon?.p ?? null),
    formatP(x.wilcoxonHolm),
    x.notes.join('; '),
  ]);
  return table(
    [
      'Comparison',
      'n',
      'Seeds',
      `Mean diff.${isAccuracy(m) ? ' (points)' : ''} [${pct(c.level)} CI]`,
      't (df)',
      'p (t)',
      'p (t, Holm)',
      'Wilcoxon V',
      'p (W)',
      'p (W, Holm)',
      'Notes',
    ],
    rows,
    1,
    [2, 10],
  );
}

/** The sensitivity summary table: per method and metric, range, std and near-best share over the grid. */
export function sensitivityTable(g: AnalysisGroup): TableData {
  const rows = g.sensitivity.flatMap((s) =>
    s.metrics.map((ms) => {
      const u = ms.summary;
      const scale = isAccuracy(ms.metric) ? 100 : 1;
      const digits = isAccuracy(ms.metric) ? 2 : 4;
      const f = (v: number | null): string => (v === null ? '—' : (v * scale).toFixed(digits));
      return [
        methodName(s.method),
        metricWords(ms.metric),
        s.variedPaths.join(', '),
        String(u.points),
        String(u.usable),
        String(u.divergedPoints),
        formatMetricValue(ms.metric, u.best),
        f(u.range),
        f(u.std),
        u.share === null ? '—' : `${(u.share * 100).toFixed(0)} % (${u.nearBest}/${u.points})`,
      ];
    }),
  );
  const within = g.sensitivity[0]?.metrics[0]?.summary.within ?? 0;
  return table(
    [
      'Method',
      'Metric',
      'Varied',
      'Points',
      'Usable',
      'Diverged points',
      'Best (%, or loss)',
      'Range of point means',
      'Std of point means',
      `Within ${(within * 100).toFixed(2).replace(/\.?0+$/, '')} pts of best`,
    ],
    rows,
    3,
  );
}

/** The convergence table; null when convergence was not computed (`g.convergence.reason` says why). */
export function convergenceTable(g: AnalysisGroup): TableData | null {
  const c = g.convergence;
  if (c.reason !== null) return null;
  const rows = c.methods.map((m) => [
    methodName(m.method),
    `${m.reached}/${m.runs}`,
    formatPlain(m.epochs, 2),
    formatPlain(m.seconds, 2),
    m.notReached > 0 ? `${m.notReached} (seeds ${m.notReachedSeeds.join(' ')})` : '0',
  ]);
  return table(['Method', 'Reached', `Epochs [${pct(g.comparisons.level)} CI]`, 'Wall seconds [CI]', 'Never reached'], rows, 1, [4]);
}

/** Every point of every method: runs by status, then each reported metric's mean [CI] over seeds. */
export function pointsTable(g: AnalysisGroup, metrics: readonly MetricName[]): TableData {
  const rows = g.methods.flatMap((m) =>
    m.points.map((p) => [
      methodName(m.method),
      p.label || '(single point)',
      `${p.complete}/${p.runs}${p.failed > 0 ? `, ${p.failed} failed` : ''}${p.unfinished > 0 ? `, ${p.unfinished} unfinished` : ''}`,
      p.diverged > 0 ? `${p.diverged} (seeds ${p.divergedSeeds.join(' ')})` : '0',
      ...metrics.map((k) => formatEstimate(k, p.metrics[k])),
    ]),
  );
  return table(
    ['Method', 'Point', 'Complete/runs', 'Diverged', ...metrics.map((k) => `${metricWords(k)}${isAccuracy(k) ? ' (%)' : ''}`)],
    rows,
    2,
  );
}

/** The selection table as Markdown. */
export function formatSelectionTable(g: AnalysisGroup): string {
  return markdownTable(selectionTable(g));
}

/** The paired-comparison table as Markdown. */
export function formatComparisonTable(g: AnalysisGroup): string {
  return markdownTable(comparisonTable(g));
}

/** The sensitivity summary table as Markdown. */
export function formatSensitivityTable(g: AnalysisGroup): string {
  return markdownTable(sensitivityTable(g));
}

/** The convergence table as Markdown (or the reason it is missing). */
export function formatConvergenceTable(g: AnalysisGroup): string {
  const t = convergenceTable(g);
  return t === null ? `Convergence not computed: ${g.convergence.reason}.\n` : markdownTable(t);
}

/** The points table as Markdown. */
export function formatPointsTable(g: AnalysisGroup, metrics: readonly MetricName[]): string {
  return markdownTable(pointsTable(g, metrics));
}

/** The convergence target the options ask for, in words. */
export function targetOptionWords(o: ResolvedAnalyzeOptions): string {
  if (o.targetAccuracy !== null) return `${(o.targetAccuracy * 100).toFixed(2)} % validation accuracy (given)`;
  const whose = o.targetOf !== null ? `${methodName(o.targetOf)}’s` : "the best method's";
  return `${(o.target * 100).toFixed(1)} % of ${whose} final mean validation accuracy`;
}

/** The whole analysis as Markdown: per group, selection, comparisons, sensitivity, convergence and points. */
export function formatAnalysisMarkdown(analysis: Analysis): string {
  const o = analysis.options;
  const out: string[] = [
    '# Analysis',
    '',
    `Selection by mean ${metricWords(o.selectBy)} over seeds (${metricGoal(o.selectBy)}), never on the test set; ` +
      `points with diverged runs ${o.allowDiverged ? 'may' : 'may not'} be selected. Intervals: Student t, ${pct(o.level)}. ` +
      `Comparisons: ${metricWords(o.compareMetric)} at the selected points over common seeds, paired t-test and Wilcoxon signed-rank, ` +
      `Holm-corrected over the comparisons made. Convergence target: ${targetOptionWords(o)}.`,
    '',
  ];
  const pointMetrics = [...new Set<MetricName>([o.selectBy, 'validationAccuracy', 'testAccuracy'])];
  for (const g of analysis.groups) {
    const r = g.runs;
    out.push(`## ${g.title}`, '');
    out.push(
      `${r.total} runs: ${r.complete} complete, ${r.diverged} diverged, ${r.failed} failed, ${r.unfinished} unfinished. Only complete runs enter the means.`,
      '',
    );
    out.push(`### Selected points`, '', formatSelectionTable(g));
    out.push(`### Paired comparisons (${metricWords(g.comparisons.metric)})`, '', formatComparisonTable(g));
    if (g.sensitivity.length > 0) {
      out.push('### Sensitivity over each method’s grid', '', formatSensitivityTable(g));
    } else {
      out.push('### Sensitivity over each method’s grid', '', 'No method has more than one point: nothing to be sensitive over.', '');
    }
    const c = g.convergence;
    const head =
      c.target !== null
        ? `### Convergence to ${(c.target * 100).toFixed(2)} % validation accuracy (${describeTarget(c, methodName)})`
        : '### Convergence';
    out.push(head, '', formatConvergenceTable(g));
    out.push('### Points', '', formatPointsTable(g, pointMetrics));
  }
  return out.join('\n');
}

/** One CSV cell: quoted when it holds a comma, a quote or a line break (RFC 4180). */
export function csvCell(v: string | number | null | undefined): string {
  if (v === null || v === undefined) return '';
  const s = String(v);
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** Columns of {@link analysisToCsv}, in order. */
export const CSV_COLUMNS = [
  'group',
  'section',
  'method',
  'versus',
  'point_id',
  'point',
  'metric',
  'n',
  'mean',
  'std',
  'ci_lower',
  'ci_upper',
  'statistic',
  'df',
  'p_value',
  'p_holm',
  'test_method',
  'seeds',
  'note',
] as const;

type CsvRow = Partial<Record<(typeof CSV_COLUMNS)[number], string | number | null>>;

function estimateCells(e: MeanEstimate | null): CsvRow {
  if (!e) return {};
  return { n: e.n, mean: e.mean, std: e.std, ci_lower: e.ci?.lower ?? null, ci_upper: e.ci?.upper ?? null };
}

/**
 * The analysis as one long-format CSV: one row per reported figure, with a `section` column
 * (point, selection, comparison-t, comparison-wilcoxon, sensitivity-range, sensitivity-std,
 * sensitivity-share, convergence-epochs, convergence-seconds) and the columns of
 * `CSV_COLUMNS` (the header row) that apply to it left filled. Raw numbers (accuracies as fractions).
 */
export function analysisToCsv(analysis: Analysis): string {
  const rows: CsvRow[] = [];
  for (const g of analysis.groups) {
    for (const m of g.methods) {
      for (const p of m.points) {
        for (const k of Object.keys(p.metrics) as MetricName[]) {
          if (p.metrics[k].n === 0) continue;
          rows.push({
            group: g.key,
            section: 'point',
            method: m.method,
            point_id: p.id,
            point: p.label,
            metric: k,
            ...estimateCells(p.metrics[k]),
            seeds: p.completeSeeds.join(' '),
            note: p.diverged > 0 ? `${p.diverged} diverged (seeds ${p.divergedSeeds.join(' ')})` : null,
          });
        }
      }
    }
    for (const s of g.selection) {
      const base = {
        group: g.key,
        section: 'selection',
        method: s.method,
        point_id: s.point?.id ?? null,
        point: s.point?.label ?? null,
        seeds: s.point?.completeSeeds.join(' ') ?? null,
      };
      rows.push({ ...base, metric: s.selectedBy, ...estimateCells(s.selectionMetric), note: s.reason ?? 'chose the point' });
      rows.push({ ...base, metric: 'testAccuracy', ...estimateCells(s.testAccuracy), note: s.reason ?? 'reported' });
    }
    for (const c of g.comparisons.comparisons) {
      const base = {
        group: g.key,
        method: c.a,
        versus: c.b,
        metric: c.metric,
        n: c.n,
        seeds: c.seeds.join(' '),
        note: c.notes.join('; ') || null,
      };
      rows.push({
        ...base,
        section: 'comparison-t',
        mean: c.tTest?.meanDifference ?? null,
        std: c.tTest?.stdDifference ?? null,
        ci_lower: c.tTest?.ci.lower ?? null,
        ci_upper: c.tTest?.ci.upper ?? null,
        statistic: c.tTest?.t ?? null,
        df: c.tTest?.df ?? null,
        p_value: c.tTest?.p ?? null,
        p_holm: c.tTestHolm,
        test_method: 'paired t',
      });
      rows.push({
        ...base,
        section: 'comparison-wilcoxon',
        statistic: c.wilcoxon?.statistic ?? null,
        p_value: c.wilcoxon?.p ?? null,
        p_holm: c.wilcoxonHolm,
        test_method: c.wilcoxon ? `signed-rank ${c.wilcoxon.method}` : null,
      });
    }
    for (const s of g.sensitivity) {
      for (const ms of s.metrics) {
        const u = ms.summary;
        const base = {
          group: g.key,
          method: s.method,
          metric: ms.metric,
          n: u.usable,
          note: `${u.points} points, ${u.divergedPoints} with diverged runs; varied ${s.variedPaths.join(' ')}`,
        };
        rows.push({
          ...base,
          section: 'sensitivity-range',
          mean: u.range,
          ci_lower: u.rangeCi?.lower ?? null,
          ci_upper: u.rangeCi?.upper ?? null,
          test_method: u.rangeCi
            ? `percentile bootstrap ${u.rangeCi.resamples} seed ${u.rangeCi.seed} (spread under resampling, biased upward: not a CI of the range)`
            : null,
        });
        rows.push({ ...base, section: 'sensitivity-std', mean: u.std });
        rows.push({ ...base, section: 'sensitivity-share', mean: u.share, statistic: u.within, point_id: u.bestPointId });
      }
    }
    const cv = g.convergence;
    for (const m of cv.methods) {
      const base = {
        group: g.key,
        method: m.method,
        point_id: m.pointId,
        metric: 'validationAccuracy',
        statistic: cv.target,
        note: `${m.reached}/${m.runs} reached${m.notReached > 0 ? `; never: seeds ${m.notReachedSeeds.join(' ')}` : ''}`,
      };
      rows.push({ ...base, section: 'convergence-epochs', ...estimateCells(m.epochs) });
      rows.push({ ...base, section: 'convergence-seconds', ...estimateCells(m.seconds) });
    }
  }
  return [CSV_COLUMNS.join(','), ...rows.map((r) => CSV_COLUMNS.map((c) => csvCell(r[c])).join(','))].join('\n') + '\n';
}

/** The analysis as pretty-printed JSON. */
export function analysisToJson(analysis: Analysis): string {
  return JSON.stringify(analysis, null, 2) + '\n';
}
