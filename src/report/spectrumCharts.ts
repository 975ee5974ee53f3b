/**
 * The report's Hessian-spectrum plots, from the optional spectrum fields of the run records'
 * sharpness (src/sharpness/spectrum.ts): the eigenvalue spectral density of each optimiser's final
 * model on shared axes with a logarithmic density, the top-k eigenvalues of every run as points, and
 * per-layer bars of the diagonal blocks' top eigenvalue and trace. Like charts.ts, each builder gives
 * a Vega-Lite spec or says why the records cannot give it. charts.ts places them on the page and
 * passes in its `asSpec` (shared fonts and schema), so this module does not import it.
 */
import type { TopLevelSpec } from 'vega-lite';
import type { RunRecord } from '../experiments/schema.js';
import type { RecordGroup } from './records.js';
import { spread } from './stats.js';
import { optimizerColorScale, optimizerLabel, sortOptimizers } from './style.js';

/** The spectrum plots, in page order. */
export const SPECTRUM_PLOT_IDS = ['spectral-density', 'top-eigenvalues', 'layer-sharpness'] as const;
/** One of {@link SPECTRUM_PLOT_IDS}. */
export type SpectrumPlotId = (typeof SPECTRUM_PLOT_IDS)[number];

/** A spectrum plot ready to render, or the reason it is not drawn (the shapes of charts.ts's plans). */
export type SpectrumPlot =
  { id: SpectrumPlotId; title: string; caption: string; spec: TopLevelSpec } | { id: SpectrumPlotId; title: string; skipped: string };

/** charts.ts's wrapper that adds the schema, fonts and padding to a spec body. */
export type SpecWrapper = (spec: Record<string, unknown>) => TopLevelSpec;

/** Densities below this fraction of the highest plotted peak fall below the log axis. */
export const DENSITY_FLOOR = 1e-6;

type Sharpness = NonNullable<RunRecord['sharpness']>;

/** Complete runs whose sharpness has `has`, by optimiser in display order, seeds ascending. */
function runsWith(
  records: readonly RunRecord[],
  has: (s: Sharpness) => boolean,
): Array<{ name: string; label: string; runs: RunRecord[] }> {
  const usable = records.filter((r) => r.status === 'complete' && r.sharpness !== null && has(r.sharpness));
  return sortOptimizers(usable.map((r) => r.spec.optimizer.name)).map((name) => ({
    name,
    label: optimizerLabel(name),
    runs: usable.filter((r) => r.spec.optimizer.name === name).sort((a, b) => a.spec.seed - b.spec.seed),
  }));
}

function colour(names: string[], legend: Record<string, unknown> | null): Record<string, unknown> {
  return { field: 'optimizer', type: 'nominal', scale: optimizerColorScale(names), legend };
}

/** One density curve per optimiser (its first seed's run), faceted, on shared axes with a log density. */
function densityPlot(group: RecordGroup, asSpec: SpecWrapper): SpectrumPlot {
  const id = 'spectral-density';
  const title = 'Hessian eigenvalue spectral density of the final models';
  const picked = runsWith(group.records, (s) => !!s.density && s.density.grid.length > 0);
  if (picked.length === 0)
    return { id, title, skipped: 'no complete run has a spectral density (measure with the density on: --measure-density)' };
  const peak = Math.max(...picked.map(({ runs }) => Math.max(...runs[0].sharpness!.density!.density)));
  const floor = peak * DENSITY_FLOOR;
  const rows = picked.flatMap(({ label, runs }) => {
    const d = runs[0].sharpness!.density!;
    // A value below the axis (or zero, which has no logarithm) is drawn just below it and clipped.
    return d.grid.map((x, i) => ({ optimizer: label, x, y: Math.max(d.density[i], floor / 10) }));
  });
  const labels = picked.map((p) => p.label);
  // Ticks and grid lines at the decades only (a log axis otherwise draws 1, 2, …, 9 in each).
  const decades: number[] = [];
  for (let e = Math.ceil(Math.log10(floor)); e <= Math.floor(Math.log10(peak * 2)); e++) decades.push(10 ** e);
  const sigmas = picked.map(({ label, runs }) => `${label} ${Number(runs[0].sharpness!.density!.sigma.toPrecision(2))}`).join(', ');
  return {
    id,
    title,
    caption:
      'Stochastic Lanczos quadrature: the Hessian’s eigenvalues smoothed by a Gaussian of width σ, averaged over several random start vectors; ' +
      `the curve integrates to 1. Same axes in every panel; density on a log scale, cut at ${DENSITY_FLOOR} of the highest peak. ` +
      `One panel per optimiser, run with seed ${picked.map((p) => `${p.runs[0].spec.seed} (${p.label})`).join(', ')}; σ = ${sigmas}.`,
    spec: asSpec({
      data: { values: rows },
      facet: { column: { field: 'optimizer', type: 'nominal', sort: labels, title: null } },
      spacing: 16,
      spec: {
        width: 220,
        height: 200,
        mark: { type: 'line', strokeWidth: 1.5, clip: true },
        encoding: {
          x: { field: 'x', type: 'quantitative', title: 'eigenvalue', scale: { zero: false, nice: false }, axis: { tickCount: 5 } },
          y: {
            field: 'y',
            type: 'quantitative',
            title: 'density (log scale)',
            scale: { type: 'log', domain: [floor, peak * 2] },
            axis: { values: decades, format: '~g' },
          },
          color: colour(
            picked.map((p) => p.name),
            null,
          ),
        },
      },
    }),
  };
}

/** Every run's k largest eigenvalues as points, by rank, optimisers side by side. */
function topEigenvaluesPlot(group: RecordGroup, asSpec: SpecWrapper): SpectrumPlot {
  const id = 'top-eigenvalues';
  const title = 'Largest Hessian eigenvalues of the final models';
  const picked = runsWith(group.records, (s) => !!s.topEigenvalues && s.topEigenvalues.length > 0);
  if (picked.length === 0) return { id, title, skipped: 'no complete run has top-k eigenvalues (measure with --measure-top-k)' };
  const rows = picked.flatMap(({ label, runs }) =>
    runs.flatMap((r) =>
      r.sharpness!.topEigenvalues!.flatMap((value, i) =>
        Number.isFinite(value) ? [{ optimizer: label, rank: i + 1, value, seed: r.spec.seed }] : [],
      ),
    ),
  );
  const names = picked.map((p) => p.name);
  return {
    id,
    title,
    caption:
      'The k algebraically largest eigenvalues λ₁ ≥ λ₂ ≥ … of each final model’s Hessian (Lanczos with full re-orthogonalisation), one point per run (seed). ' +
      'Optimisers side by side within each rank; λ₁ is the σ_max of the other plots when the top eigenvalue is also the largest in magnitude.',
    spec: asSpec({
      width: { step: 14 }, // per optimiser within a rank
      height: 240,
      data: { values: rows },
      mark: { type: 'point', filled: true, size: 60, opacity: 0.85 },
      encoding: {
        x: { field: 'rank', type: 'ordinal', title: 'rank i of λᵢ', axis: { labelAngle: 0 } },
        xOffset: { field: 'optimizer', type: 'nominal', sort: picked.map((p) => p.label) },
        y: { field: 'value', type: 'quantitative', title: 'eigenvalue λᵢ', scale: { zero: false } },
        color: colour(names, { title: 'optimiser' }),
        tooltip: [{ field: 'optimizer' }, { field: 'seed' }, { field: 'rank' }, { field: 'value', format: '.4g' }],
      },
    }),
  };
}

/** A readable label of a variable: its position, layer type, role and shape ('2. dense kernel 32×32'). */
export function layerLabel(index: number, name: string, shape: readonly number[]): string {
  const [layer = name, role = ''] = name.split('/');
  // tfjs numbers layer names per process (dense_Dense3); the type is what identifies them across runs.
  const type = layer.replace(/_[A-Za-z0-9]+$/, '');
  return `${index + 1}. ${type}${role ? ` ${role}` : ''} ${shape.join('×')}`;
}

/** Per variable: bars of the mean over seeds (± sample std) of its block's top eigenvalue and trace. */
function layerPlot(group: RecordGroup, asSpec: SpecWrapper): SpectrumPlot {
  const id = 'layer-sharpness';
  const title = 'Sharpness per layer of the final models';
  const picked = runsWith(group.records, (s) => !!s.layers && s.layers.length > 0);
  if (picked.length === 0) return { id, title, skipped: 'no complete run has per-layer sharpness (measure with --measure-layers)' };
  // Runs are pooled by variable position; only runs with the first run's layout (same sizes) are used.
  const layout = picked[0].runs[0].sharpness!.layers!;
  const sameLayout = (r: RunRecord): boolean => {
    const l = r.sharpness!.layers!;
    return l.length === layout.length && l.every((v, i) => v.size === layout[i].size);
  };
  const labels = layout.map((v, i) => layerLabel(i, v.name, v.shape));
  const panel = (key: 'topEigenvalue' | 'trace', axis: string): Record<string, unknown> => {
    const values = picked.flatMap(({ label, runs }) =>
      labels.flatMap((layer, i) => {
        const s = spread(runs.filter(sameLayout).map((r) => r.sharpness!.layers![i][key]));
        return s ? [{ optimizer: label, layer, mean: s.mean, lo: s.mean - (s.std ?? 0), hi: s.mean + (s.std ?? 0), runs: s.n }] : [];
      }),
    );
    const x = {
      field: 'layer',
      type: 'nominal',
      sort: labels,
      title: null,
      axis: { labelAngle: -45, labelOverlap: false, labelLimit: 180 },
    };
    const xOffset = { field: 'optimizer', type: 'nominal', sort: picked.map((p) => p.label) };
    return {
      width: { step: 12 }, // per optimiser within a layer
      height: 220,
      data: { values },
      layer: [
        {
          mark: { type: 'bar' },
          encoding: {
            x,
            xOffset,
            y: { field: 'mean', type: 'quantitative', title: axis },
            color: colour(
              picked.map((p) => p.name),
              { title: 'optimiser' },
            ),
          },
        },
        {
          mark: { type: 'errorbar', color: 'black', thickness: 1 },
          encoding: { x, xOffset, y: { field: 'lo', type: 'quantitative', title: axis }, y2: { field: 'hi' } },
        },
      ],
    };
  };
  return {
    id,
    title,
    caption:
      'For each trainable variable (a layer’s kernel or bias), the curvature of the loss when only that variable moves: the top eigenvalue (Lanczos) and the trace ' +
      '(exact for small blocks, Hutchinson otherwise) of its diagonal Hessian block. Bars: mean over the seeds of the complete runs; error bars: ± one sample standard deviation.',
    spec: asSpec({ hconcat: [panel('topEigenvalue', 'top eigenvalue of the block'), panel('trace', 'trace of the block')], spacing: 40 }),
  };
}

/** The spectrum plots of one group, in page order. */
export function planSpectrumPlots(group: RecordGroup, asSpec: SpecWrapper): SpectrumPlot[] {
  return [densityPlot(group, asSpec), topEigenvaluesPlot(group, asSpec), layerPlot(group, asSpec)];
}
