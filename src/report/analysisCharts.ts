/**
 * The analysis plots (Vega-Lite, styled as the report's others): sensitivity against rho with CI
 * bands and one line per method, a rho x alpha heat map per method, and the validation-accuracy
 * curves to the convergence target. Built from an {@link AnalysisGroup}, never from the records, so
 * the plots show exactly the numbers of the analysis tables.
 */
import { describeTarget, type AnalysisGroup, type MetricName } from '../analysis/index.js';
import { asSpec, LINE_LEGEND, type PlannedPlot, type SkippedPlot } from './charts.js';
import { optimizerColorScale, optimizerLabel } from './style.js';

/** The analysis plots, in page order. */
export const ANALYSIS_PLOT_IDS = ['sensitivity', 'sensitivity-grid', 'convergence'] as const;
/** One of {@link ANALYSIS_PLOT_IDS}. */
export type AnalysisPlotId = (typeof ANALYSIS_PLOT_IDS)[number];

/** An analysis plot ready to render. */
export type AnalysisPlot = Omit<PlannedPlot, 'id'> & { id: AnalysisPlotId };
/** An analysis plot the analysis cannot give, and why. */
export type SkippedAnalysisPlot = Omit<SkippedPlot, 'id'> & { id: AnalysisPlotId };

const words = (m: MetricName): string => m.replace(/([A-Z])/g, ' $1').toLowerCase();

interface BandRow {
  optimizer: string;
  x: number;
  mean: number;
  lo: number;
  hi: number;
  n: number;
}

/** Mean line with a CI band, one colour per method; log x when asked. */
function bandLayer(
  rows: BandRow[],
  names: string[],
  o: { xTitle: string; yTitle: string; logX?: boolean; width?: number },
): Record<string, unknown> {
  const xs = [...new Set(rows.map((r) => r.x))].sort((a, b) => a - b);
  // Log x: ticks at the swept values themselves, the domain a little wider than them (no rounding out to decades).
  const logScale = xs.length > 0 ? { type: 'log', nice: false, domain: [xs[0] / 1.25, xs[xs.length - 1] * 1.25] } : { type: 'log' };
  const x = {
    field: 'x',
    type: 'quantitative',
    title: o.xTitle,
    scale: o.logX ? logScale : { zero: false },
    axis: o.logX ? { values: xs, format: '~g', grid: true } : { tickMinStep: 1 },
  };
  const color = { field: 'optimizer', type: 'nominal', scale: optimizerColorScale(names), legend: LINE_LEGEND };
  return {
    width: o.width ?? 320,
    height: 230,
    data: { values: rows },
    layer: [
      {
        mark: { type: 'area', opacity: 0.18 },
        encoding: { x, y: { field: 'lo', type: 'quantitative', scale: { zero: false }, title: o.yTitle }, y2: { field: 'hi' }, color },
      },
      {
        mark: { type: 'line', strokeWidth: 2, point: { filled: true, size: 40 } },
        encoding: {
          x,
          y: { field: 'mean', type: 'quantitative', scale: { zero: false }, title: o.yTitle },
          color,
          tooltip: [
            { field: 'optimizer' },
            { field: 'x', title: o.xTitle },
            { field: 'mean', format: '.4f' },
            { field: 'n', title: 'seeds' },
          ],
        },
      },
    ],
  };
}

function sensitivityPlot(g: AnalysisGroup): AnalysisPlot | SkippedAnalysisPlot {
  const title = 'Sensitivity to rho';
  const withCurve = g.sensitivity.filter((s) => s.metrics.some((m) => m.rhoCurve !== null && m.rhoCurve.some((c) => c.estimate !== null)));
  if (withCurve.length === 0) return { id: 'sensitivity', title, skipped: 'no method has points at more than one rho' };
  const metrics = [...new Set(withCurve.flatMap((s) => s.metrics.map((m) => m.metric)))];
  // Methods without a rho sweep (SGD, a single point) appear as a dashed line at their selected point.
  const flat = g.selection.filter((s) => s.point !== null && !withCurve.some((w) => w.method === s.method));
  const names = [...withCurve.map((s) => s.method), ...flat.map((s) => s.method)];
  const panels = metrics.map((metric) => {
    const rows: BandRow[] = [];
    for (const s of withCurve) {
      const ms = s.metrics.find((m) => m.metric === metric);
      for (const c of ms?.rhoCurve ?? []) {
        if (!c.estimate || c.estimate.mean === null || !(c.rho > 0)) continue;
        const e = c.estimate;
        rows.push({
          optimizer: optimizerLabel(s.method),
          x: c.rho,
          mean: e.mean!,
          lo: e.ci?.lower ?? e.mean!,
          hi: e.ci?.upper ?? e.mean!,
          n: e.n,
        });
      }
    }
    const panel = bandLayer(rows, names, { xTitle: 'rho (log scale)', yTitle: `final ${words(metric)}`, logX: true });
    const refs = flat.flatMap((sel) => {
      const e = metric === 'testAccuracy' ? sel.testAccuracy : metric === sel.selectedBy ? sel.selectionMetric : null;
      return e && e.mean !== null ? [{ optimizer: optimizerLabel(sel.method), mean: e.mean }] : [];
    });
    if (refs.length > 0) {
      (panel.layer as unknown[]).push({
        data: { values: refs },
        mark: { type: 'rule', strokeDash: [6, 4], strokeWidth: 2 },
        encoding: {
          y: { field: 'mean', type: 'quantitative' },
          color: { field: 'optimizer', type: 'nominal', scale: optimizerColorScale(names), legend: LINE_LEGEND },
        },
      });
    }
    return panel;
  });
  const rule = withCurve.some((s) => s.curveRule === 'best-by-selection')
    ? ` Where alpha (or another setting) varies too, each rho shows its best setting by ${words(g.selection[0]?.selectedBy ?? 'validationAccuracy')}, in both panels.`
    : '';
  return {
    id: 'sensitivity',
    title,
    caption:
      `Final metrics against rho at each method's points: lines are the mean over seeds, bands the ${Math.round(g.comparisons.level * 100)} % Student-t confidence interval (none with one seed). ` +
      `Points with diverged runs are shown at the mean of their complete seeds; the sensitivity table counts them.${rule}` +
      (flat.length > 0 ? ` Dashed: ${flat.map((f) => optimizerLabel(f.method)).join(', ')} (no rho sweep) at the selected point.` : ''),
    spec: asSpec({ hconcat: panels, spacing: 36, resolve: { scale: { color: 'shared' } } }),
  };
}

function gridPlot(g: AnalysisGroup): AnalysisPlot | SkippedAnalysisPlot {
  const title = 'Rho × alpha grid';
  const metric = g.selection[0]?.selectedBy ?? 'validationAccuracy';
  const grids = g.sensitivity.flatMap((s) => {
    const ms = s.metrics.find((m) => m.metric === metric);
    return ms?.grid ? [{ method: s.method, grid: ms.grid }] : [];
  });
  if (grids.length === 0) return { id: 'sensitivity-grid', title, skipped: 'no method varies both rho and alpha' };
  const accuracy = metric.endsWith('Accuracy');
  const rows = grids.flatMap(({ method, grid }) =>
    grid.cells.map((c) => {
      const m = c.estimate.mean;
      const text = m === null ? 'none' : accuracy ? (m * 100).toFixed(1) : m.toFixed(3);
      return {
        optimizer: optimizerLabel(method),
        rho: String(c.rho),
        alpha: String(c.alpha),
        mean: m,
        label: c.diverged > 0 ? `${text}*` : text,
        n: c.estimate.n,
      };
    }),
  );
  const rhoOrder = [...new Set(grids.flatMap((x) => x.grid.rhos))].sort((a, b) => a - b).map(String);
  const alphaOrder = [...new Set(grids.flatMap((x) => x.grid.alphas))].sort((a, b) => b - a).map(String);
  const means = rows.flatMap((r) => (r.mean === null ? [] : [r.mean]));
  const lo = Math.min(...means);
  const hi = Math.max(...means);
  const mid = (lo + hi) / 2;
  const scheme = metric.endsWith('Loss') ? { scheme: 'viridis', reverse: true } : { scheme: 'viridis' };
  return {
    id: 'sensitivity-grid',
    title,
    caption:
      `Mean final ${words(metric)} over seeds at each (rho, alpha)${accuracy ? ', in %' : ''}; one panel per method, one colour scale for all (brighter is better). ` +
      `* marks a cell with diverged runs (its mean is over the complete seeds); "none" a cell without a complete run.`,
    spec: asSpec({
      data: { values: rows },
      facet: { column: { field: 'optimizer', type: 'nominal', title: null, sort: grids.map((x) => optimizerLabel(x.method)) } },
      spacing: 24,
      spec: {
        width: { step: 44 },
        height: { step: 34 },
        layer: [
          {
            mark: { type: 'rect', stroke: 'white', strokeWidth: 1 },
            encoding: {
              x: { field: 'rho', type: 'ordinal', sort: rhoOrder, title: 'rho', axis: { labelAngle: 0 } },
              y: { field: 'alpha', type: 'ordinal', sort: alphaOrder, title: 'alpha' },
              color: {
                field: 'mean',
                type: 'quantitative',
                title: `${words(metric)}${accuracy ? '' : ''}`,
                scale: { ...scheme, domain: [lo, hi] },
                legend: { format: accuracy ? '.1%' : '.3f', gradientLength: 120 },
              },
            },
          },
          {
            mark: { type: 'text', fontSize: 11 },
            encoding: {
              x: { field: 'rho', type: 'ordinal', sort: rhoOrder },
              y: { field: 'alpha', type: 'ordinal', sort: alphaOrder },
              text: { field: 'label' },
              // Dark text on the bright end of viridis, white on the dark end.
              color: {
                condition: { test: `datum.mean !== null && datum.mean ${metric.endsWith('Loss') ? '<' : '>'} ${mid}`, value: '#111111' },
                value: 'white',
              },
            },
          },
        ],
      },
    }),
  };
}

function convergencePlot(g: AnalysisGroup): AnalysisPlot | SkippedAnalysisPlot {
  const title = 'Convergence at the selected points';
  const c = g.convergence;
  if (c.reason !== null || c.target === null) return { id: 'convergence', title, skipped: c.reason ?? 'no target' };
  const withCurve = c.methods.filter((m) => m.curve.length > 0);
  if (withCurve.length === 0) return { id: 'convergence', title, skipped: 'no selected point has a validation curve' };
  const rows: BandRow[] = withCurve.flatMap((m) =>
    m.curve.flatMap((p) =>
      p.estimate.mean === null
        ? []
        : [
            {
              optimizer: optimizerLabel(m.method),
              x: p.epoch,
              mean: p.estimate.mean,
              lo: p.estimate.ci?.lower ?? p.estimate.mean,
              hi: p.estimate.ci?.upper ?? p.estimate.mean,
              n: p.estimate.n,
            },
          ],
    ),
  );
  const panel = bandLayer(
    rows,
    withCurve.map((m) => m.method),
    { xTitle: 'epoch', yTitle: 'validation accuracy', width: 460 },
  );
  const target = c.target;
  (panel.layer as unknown[]).push(
    {
      data: { values: [{ target }] },
      mark: { type: 'rule', strokeDash: [6, 4], color: '#333333' },
      encoding: { y: { field: 'target', type: 'quantitative' } },
    },
    {
      data: { values: [{ target, text: `target ${(target * 100).toFixed(2)} %` }] },
      mark: { type: 'text', align: 'left', dx: 4, dy: -7, fontSize: 11, color: '#333333' },
      encoding: { y: { field: 'target', type: 'quantitative' }, x: { value: 0 }, text: { field: 'text' } },
    },
  );
  const reached = c.methods.map((m) => `${optimizerLabel(m.method)} ${m.reached}/${m.runs}`).join(', ');
  return {
    id: 'convergence',
    title,
    caption:
      `Validation accuracy per epoch at each method's selected point: lines are the mean over seeds, bands the ${Math.round(g.comparisons.level * 100)} % Student-t confidence interval. ` +
      `Dashed: the target, ${describeTarget(c, optimizerLabel)}. Runs that reached it: ${reached}.`,
    spec: asSpec({ ...panel }),
  };
}

/** The analysis plots of one group, each planned or skipped with a reason. */
export function planAnalysisPlots(g: AnalysisGroup): Array<AnalysisPlot | SkippedAnalysisPlot> {
  return [sensitivityPlot(g), gridPlot(g), convergencePlot(g)];
}
