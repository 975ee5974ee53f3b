/**
 * The report's plots as Vega-Lite specs built from run records. Each builder either returns a spec
 * or says why the records cannot give that plot, so the page can skip it with a note. All data is
 * pre-aggregated here (mean and min-max over seeds) so the specs only draw.
 */
import type { TopLevelSpec } from 'vega-lite';
import type { RunRecord } from '../experiments/schema.js';
import type { RecordGroup } from './records.js';
import { spread } from './stats.js';
import { summarize } from '../experiments/summary.js';
import { optimizerColor, optimizerColorScale, optimizerLabel, sortOptimizers } from './style.js';
import { SPECTRUM_PLOT_IDS, planSpectrumPlots } from './spectrumCharts.js';

/** A plot ready to render. */
export interface PlannedPlot {
  /** Stable id, used in file names and the page: e.g. 'curves'. */
  id: PlotId;
  title: string;
  /** One or two sentences under the figure saying what is drawn. */
  caption: string;
  spec: TopLevelSpec;
}

/** A plot the records cannot give, and why. */
export interface SkippedPlot {
  id: PlotId;
  title: string;
  skipped: string;
}

/** Every plot the report knows, in page order. */
export const PLOT_IDS = [
  'curves',
  'surrogate-gap',
  'decision-regions',
  'landscape-1d',
  'landscape-2d',
  'final-bars',
  ...SPECTRUM_PLOT_IDS,
] as const;
/** One of {@link PLOT_IDS}. */
export type PlotId = (typeof PLOT_IDS)[number];

/** Fonts sized for reading the PNG at 100 % and the SVG in a page. */
const CONFIG = {
  background: 'white',
  axis: { labelFontSize: 12, titleFontSize: 13, titleFontWeight: 'normal', gridColor: '#e6e6e6', labelOverlap: true, labelSeparation: 6 },
  legend: { labelFontSize: 12, titleFontSize: 12, titleFontWeight: 'normal', symbolSize: 120, symbolStrokeWidth: 3 },
  header: { labelFontSize: 13, titleFontSize: 13 },
  title: { fontSize: 15, anchor: 'start', offset: 12 },
  view: { stroke: '#cccccc' },
} as const;

const SCHEMA = 'https://vega.github.io/schema/vega-lite/v6.json';

/** Vega-Lite's spec types are a deep union that object literals built in steps do not narrow to;
 * the specs are checked instead by compiling them in the tests. Shared with analysisCharts.ts. */
export function asSpec(spec: Record<string, unknown>): TopLevelSpec {
  return { $schema: SCHEMA, config: CONFIG, padding: 10, ...spec } as unknown as TopLevelSpec;
}

/** The runs of each optimiser present, optimisers in display order. */
function byOptimizer(records: readonly RunRecord[]): Array<{ name: string; label: string; runs: RunRecord[] }> {
  return sortOptimizers(records.map((r) => r.spec.optimizer.name)).map((name) => ({
    name,
    label: optimizerLabel(name),
    runs: records.filter((r) => r.spec.optimizer.name === name),
  }));
}

/** The first seed's run of each optimiser that has `has`, preferring complete runs. */
function firstSeedRuns(
  records: readonly RunRecord[],
  has: (r: RunRecord) => boolean,
): Array<{ name: string; label: string; run: RunRecord }> {
  return byOptimizer(records).flatMap(({ name, label, runs }) => {
    const usable = runs
      .filter(has)
      .sort((a, b) => Number(a.status !== 'complete') - Number(b.status !== 'complete') || a.spec.seed - b.spec.seed);
    return usable.length > 0 ? [{ name, label, run: usable[0] }] : [];
  });
}

/** Legend symbols as thick opaque strokes: the default would copy the pale band's fill. */
export const LINE_LEGEND = { title: 'optimiser', symbolType: 'stroke', symbolOpacity: 1, symbolStrokeWidth: 3 };

function colorEncoding(names: Iterable<string>, legend: Record<string, unknown> | null = LINE_LEGEND): Record<string, unknown> {
  return { field: 'optimizer', type: 'nominal', scale: optimizerColorScale(names), legend };
}

interface BandRow {
  optimizer: string;
  x: number;
  mean: number;
  lo: number;
  hi: number;
}

/** Mean and min-max over runs of a per-x series, per optimiser. */
function bandRows(records: readonly RunRecord[], series: (r: RunRecord) => Array<[number, number]>): BandRow[] {
  const rows: BandRow[] = [];
  for (const { label, runs } of byOptimizer(records)) {
    const byX = new Map<number, number[]>();
    for (const r of runs) {
      for (const [x, v] of series(r)) {
        const list = byX.get(x) ?? [];
        list.push(v);
        byX.set(x, list);
      }
    }
    for (const x of [...byX.keys()].sort((a, b) => a - b)) {
      const s = spread(byX.get(x) ?? []);
      if (s) rows.push({ optimizer: label, x, mean: s.mean, lo: s.min, hi: s.max });
    }
  }
  return rows;
}

/** A line of the mean with a min-max band, one per optimiser. */
function bandPanel(
  rows: BandRow[],
  names: string[],
  o: { xTitle: string; yTitle: string; logY?: boolean; points?: boolean; width?: number; height?: number },
): Record<string, unknown> {
  const yScale = o.logY ? { type: 'log' } : { zero: false };
  const x = { field: 'x', type: 'quantitative', title: o.xTitle, axis: { tickMinStep: o.points ? 1 : undefined } };
  return {
    width: o.width ?? 300,
    height: o.height ?? 220,
    data: { values: rows },
    layer: [
      {
        mark: { type: 'area', opacity: 0.2 },
        encoding: {
          x,
          y: { field: 'lo', type: 'quantitative', scale: yScale, title: o.yTitle },
          y2: { field: 'hi' },
          color: colorEncoding(names),
        },
      },
      {
        mark: { type: 'line', strokeWidth: 2, point: o.points ?? false },
        encoding: { x, y: { field: 'mean', type: 'quantitative', scale: yScale, title: o.yTitle }, color: colorEncoding(names) },
      },
    ],
  };
}

const finiteEpochs = (r: RunRecord, pick: (e: RunRecord['epochs'][number]) => number | null): Array<[number, number]> =>
  r.epochs.flatMap((e) => {
    const v = pick(e);
    return v !== null && Number.isFinite(v) ? [[e.epoch, v] as [number, number]] : [];
  });

function curvesPlot(group: RecordGroup): PlannedPlot | SkippedPlot {
  const title = 'Test accuracy and training loss per epoch';
  const names = byOptimizer(group.records).map((o) => o.name);
  const acc = bandRows(group.records, (r) => finiteEpochs(r, (e) => e.testAccuracy));
  const loss = bandRows(group.records, (r) => finiteEpochs(r, (e) => e.trainLoss));
  if (acc.length === 0 && loss.length === 0) return { id: 'curves', title, skipped: 'no run has a completed epoch' };
  const maxEpoch = Math.max(...acc.map((r) => r.x), ...loss.map((r) => r.x));
  const points = maxEpoch <= 30;
  // Log scale only when the loss spans more than a decade; a narrow range reads better linearly.
  const lossLo = Math.min(...loss.map((r) => r.lo));
  const lossHi = Math.max(...loss.map((r) => r.hi));
  const logLoss = loss.length > 0 && lossLo > 0 && lossHi / lossLo > 10;
  return {
    id: 'curves',
    title,
    caption:
      'Lines: mean over seeds; bands: min–max over seeds. Training loss is the clean loss L(w) at the weights (not the perturbed loss)' +
      (logLoss ? ', on a log scale.' : '.'),
    spec: asSpec({
      hconcat: [
        bandPanel(acc, names, { xTitle: 'epoch', yTitle: 'test accuracy', points }),
        bandPanel(loss, names, { xTitle: 'epoch', yTitle: `training loss L(w)${logLoss ? ', log scale' : ''}`, logY: logLoss, points }),
      ],
      spacing: 30,
    }),
  };
}

function gapPlot(group: RecordGroup): PlannedPlot | SkippedPlot {
  const title = 'Surrogate gap per epoch';
  const withGap = group.records.filter((r) => r.epochs.some((e) => e.surrogateGap !== null && Number.isFinite(e.surrogateGap)));
  if (withGap.length === 0)
    return { id: 'surrogate-gap', title, skipped: 'no run records a surrogate gap (plain SGD only, or no completed epoch)' };
  const names = byOptimizer(withGap).map((o) => o.name);
  const rows = bandRows(withGap, (r) => finiteEpochs(r, (e) => e.surrogateGap));
  const maxEpoch = Math.max(...rows.map((r) => r.x));
  return {
    id: 'surrogate-gap',
    title,
    caption:
      'Epoch mean of h = L(w + ε) − L(w) over the training steps, for the optimisers that take a perturbed step (SGD has none). Lines: mean over seeds; bands: min–max.',
    spec: asSpec({
      ...bandPanel(rows, names, {
        xTitle: 'epoch',
        yTitle: 'surrogate gap h (at each optimiser’s own rho)',
        points: maxEpoch <= 30,
        width: 420,
      }),
    }),
  };
}

/** Edges of cells centred on sorted `centres` (midpoints; the ends extend by half a step). */
function cellEdges(centres: readonly number[]): number[] {
  const n = centres.length;
  if (n === 1) return [centres[0] - 0.5, centres[0] + 0.5];
  const edges = [centres[0] - (centres[1] - centres[0]) / 2];
  for (let i = 0; i + 1 < n; i++) edges.push((centres[i] + centres[i + 1]) / 2);
  edges.push(centres[n - 1] + (centres[n - 1] - centres[n - 2]) / 2);
  return edges;
}

interface CellRow {
  optimizer: string;
  kind: 'cell';
  x: number;
  x2: number;
  y: number;
  y2: number;
  v: number;
}

/** Heat-map cells: values[i][j] sits at (xs[j], ys[i]). Non-finite values are left out. */
function cells(label: string, xs: readonly number[], ys: readonly number[], values: readonly (readonly number[])[]): CellRow[] {
  const xe = cellEdges(xs);
  const ye = cellEdges(ys);
  const rows: CellRow[] = [];
  for (let i = 0; i < ys.length; i++) {
    for (let j = 0; j < xs.length; j++) {
      const v = values[i]?.[j];
      if (v === undefined || !Number.isFinite(v)) continue;
      // Each cell reaches 3 % into its upper neighbours: abutting rects leave hairline seams when
      // anti-aliased, overlapping ones do not (neighbouring colours are close, so nothing shows).
      const x2 = j + 1 < xs.length ? xe[j + 1] + 0.03 * (xe[j + 1] - xe[j]) : xe[j + 1];
      const y2 = i + 1 < ys.length ? ye[i + 1] + 0.03 * (ye[i + 1] - ye[i]) : ye[i + 1];
      rows.push({ optimizer: label, kind: 'cell', x: xe[j], x2, y: ye[i], y2, v });
    }
  }
  return rows;
}

function decisionPlot(group: RecordGroup): PlannedPlot | SkippedPlot {
  const title = 'Decision regions of the final models';
  const picked = firstSeedRuns(group.records, (r) => r.decisionGrid !== null && r.decisionGrid.probs.length > 0);
  if (picked.length === 0) return { id: 'decision-regions', title, skipped: 'no run has a decision grid (only moons runs record one)' };
  const values: Array<CellRow | Record<string, unknown>> = [];
  let xMin = Infinity;
  let xMax = -Infinity;
  let yMin = Infinity;
  let yMax = -Infinity;
  for (const { label, run } of picked) {
    const g = run.decisionGrid!;
    const c = cells(label, g.xs, g.ys, g.probs);
    for (const row of c) {
      xMin = Math.min(xMin, row.x);
      xMax = Math.max(xMax, row.x2);
      yMin = Math.min(yMin, row.y);
      yMax = Math.max(yMax, row.y2);
    }
    values.push(...c);
    for (const [x, y, cls] of g.points) values.push({ optimizer: label, kind: 'point', x, y, cls: `class ${cls}` });
  }
  const labels = picked.map((p) => p.label);
  const xScale = { domain: [xMin, xMax], nice: false, zero: false };
  const yScale = { domain: [yMin, yMax], nice: false, zero: false };
  return {
    id: 'decision-regions',
    title,
    caption:
      `Colour: the final model's probability of class 1 on a grid (same scale in every panel; white = 0.5, the decision boundary). ` +
      `Markers: test points by true class. One panel per optimiser, run with seed ${picked.map((p) => `${p.run.spec.seed} (${p.label})`).join(', ')}.`,
    spec: asSpec({
      data: { values },
      facet: { column: { field: 'optimizer', type: 'nominal', sort: labels, title: null } },
      spacing: 24,
      spec: {
        width: 220,
        height: 220,
        layer: [
          {
            transform: [{ filter: "datum.kind === 'cell'" }],
            mark: { type: 'rect', aria: false }, // thousands of cells: no per-cell ARIA labels (they would triple the SVG)
            encoding: {
              x: { field: 'x', type: 'quantitative', scale: xScale, title: 'x₁', axis: { tickCount: 5, labelFlush: true } },
              x2: { field: 'x2' },
              y: { field: 'y', type: 'quantitative', scale: yScale, title: 'x₂' },
              y2: { field: 'y2' },
              color: { field: 'v', type: 'quantitative', scale: { domain: [0, 1], scheme: 'blueorange' }, title: 'P(class 1)' },
            },
          },
          {
            transform: [{ filter: "datum.kind === 'point'" }],
            mark: { type: 'point', filled: true, size: 22, opacity: 0.9, stroke: 'white', strokeWidth: 0.6 },
            encoding: {
              x: { field: 'x', type: 'quantitative', scale: xScale },
              y: { field: 'y', type: 'quantitative', scale: yScale },
              shape: {
                field: 'cls',
                type: 'nominal',
                scale: { domain: ['class 0', 'class 1'], range: ['circle', 'triangle-up'] },
                title: 'test point',
              },
              fill: {
                field: 'cls',
                type: 'nominal',
                scale: { domain: ['class 0', 'class 1'], range: ['#08306b', '#7f2704'] },
                title: 'test point',
              },
            },
          },
        ],
      },
    }),
  };
}

function landscape1DPlot(group: RecordGroup): PlannedPlot | SkippedPlot {
  const title = '1-D loss landscape around the final models';
  const withSlice = group.records.filter(
    (r) => r.status === 'complete' && r.sharpness?.landscape1D && r.sharpness.landscape1D.alphas.length > 0,
  );
  if (withSlice.length === 0)
    return { id: 'landscape-1d', title, skipped: 'no complete run has a 1-D landscape slice (measure sharpness with landscape on)' };
  const names = byOptimizer(withSlice).map((o) => o.name);
  const rows = bandRows(withSlice, (r) => {
    const l = r.sharpness!.landscape1D!;
    return l.alphas.flatMap((a, i) => (Number.isFinite(l.losses[i]) ? [[a, l.losses[i]] as [number, number]] : []));
  });
  return {
    id: 'landscape-1d',
    title,
    caption:
      'Loss L(w + α·u) along a random filter-normalised direction u through each final model (α = 0 is the trained model). ' +
      'All optimisers share one axis. Lines: mean over seeds (each seed has its own direction); bands: min–max.',
    spec: asSpec({
      ...bandPanel(rows, names, { xTitle: 'α (step along the direction u)', yTitle: 'loss L(w + α·u)', width: 420, height: 260 }),
    }),
  };
}

function landscape2DPlot(group: RecordGroup): PlannedPlot | SkippedPlot {
  const title = '2-D loss landscape around the final models';
  const picked = firstSeedRuns(
    group.records.filter((r) => r.status === 'complete'),
    (r) => !!r.sharpness?.landscape2D && r.sharpness.landscape2D.losses.length > 0,
  );
  if (picked.length === 0)
    return { id: 'landscape-2d', title, skipped: 'no complete run has a 2-D landscape slice (measure sharpness with landscape on)' };
  const rows = picked.flatMap(({ label, run }) => {
    const l = run.sharpness!.landscape2D!;
    // losses[i][j] is at (alphas[i], betas[j]): alpha on x, beta on y, so transpose for cells().
    const byBeta = l.betas.map((_, j) => l.alphas.map((__, i) => l.losses[i]?.[j] ?? Number.NaN));
    return cells(label, l.alphas, l.betas, byBeta);
  });
  const vs = rows.map((r) => r.v);
  const lo = Math.min(...vs);
  const hi = Math.max(...vs);
  const log = lo > 0 && hi / lo > 20;
  const labels = picked.map((p) => p.label);
  const colour = {
    field: 'v',
    type: 'quantitative',
    scale: { type: log ? 'log' : 'linear', domain: [lo, hi], scheme: 'viridis', nice: false },
    title: 'loss',
  };
  return {
    id: 'landscape-2d',
    title,
    caption:
      `Loss L(w + α·u + β·v) on a plane through each final model spanned by two random filter-normalised directions (centre = trained model). ` +
      `Same axes and the same ${log ? 'logarithmic ' : ''}colour scale in every panel; darker is lower loss. Run with seed ${picked.map((p) => `${p.run.spec.seed} (${p.label})`).join(', ')}.`,
    spec: asSpec({
      data: { values: rows },
      facet: { column: { field: 'optimizer', type: 'nominal', sort: labels, title: null } },
      spacing: 24,
      spec: {
        width: 200,
        height: 200,
        mark: { type: 'rect', aria: false }, // thousands of cells: no per-cell ARIA labels (they would triple the SVG)
        encoding: {
          x: {
            field: 'x',
            type: 'quantitative',
            scale: { nice: false, zero: false },
            title: 'α',
            axis: { tickCount: 5, labelFlush: true },
          },
          x2: { field: 'x2' },
          y: { field: 'y', type: 'quantitative', scale: { nice: false, zero: false }, title: 'β' },
          y2: { field: 'y2' },
          color: colour,
        },
      },
    }),
  };
}

function finalBarsPlot(group: RecordGroup): PlannedPlot | SkippedPlot {
  const title = 'Final test accuracy and sharpness';
  // The same rows as the summary table (experiments/summary.ts), so bars and table agree.
  const rows = summarize(group.records);
  const labels = rows.map((r) => r.label);
  const colour = {
    field: 'optimizer',
    type: 'nominal',
    scale: { domain: labels, range: rows.map((r) => optimizerColor(r.optimizer)) },
    legend: null,
  };
  const panels: Array<Record<string, unknown>> = [];
  const metrics = [
    { key: 'testAccuracy', axis: 'final test accuracy' },
    { key: 'sigmaMax', axis: 'σ_max (top Hessian eigenvalue)' },
    { key: 'trace', axis: 'trace of the Hessian' },
  ] as const;
  for (const m of metrics) {
    const values = rows.flatMap((r) => {
      const s = r[m.key];
      if (!s || s.mean === null) return [];
      return [{ optimizer: r.label, mean: s.mean, lo: s.mean - (s.std ?? 0), hi: s.mean + (s.std ?? 0) }];
    });
    if (values.length === 0) continue;
    const x = { field: 'optimizer', type: 'nominal', sort: labels, title: null, axis: { labelAngle: -30, labelOverlap: false } };
    // No panel titles: vega places hconcat titles at uneven heights; the y-axis titles say it all.
    panels.push({
      width: { step: 42 },
      height: 220,
      data: { values },
      layer: [
        { mark: { type: 'bar' }, encoding: { x, y: { field: 'mean', type: 'quantitative', title: m.axis }, color: colour } },
        {
          mark: { type: 'errorbar', color: 'black', thickness: 1.5, ticks: { size: 12 } },
          encoding: { x, y: { field: 'lo', type: 'quantitative', title: m.axis }, y2: { field: 'hi' } },
        },
      ],
    });
  }
  if (panels.length === 0) return { id: 'final-bars', title, skipped: 'no complete run has final metrics' };
  return {
    id: 'final-bars',
    title,
    caption:
      'Bars: mean over the seeds of the complete runs (diverged runs left out); error bars: ± one sample standard deviation over seeds (none with a single seed). ' +
      'σ_max by power iteration on Hessian-vector products, trace by Hutchinson’s estimator, both on the training loss of the final model.',
    spec: asSpec({ hconcat: panels, spacing: 40 }),
  };
}

/** Every plot of one group, in page order, each planned or skipped with a reason. */
export function planPlots(group: RecordGroup): Array<PlannedPlot | SkippedPlot> {
  return [
    curvesPlot(group),
    gapPlot(group),
    decisionPlot(group),
    landscape1DPlot(group),
    landscape2DPlot(group),
    finalBarsPlot(group),
    ...planSpectrumPlots(group, asSpec),
  ];
}

/** Type guard: true when the plot was skipped. */
export function isSkipped(p: PlannedPlot | SkippedPlot): p is SkippedPlot {
  return 'skipped' in p;
}
