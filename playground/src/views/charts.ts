/**
 * The live curves, drawn with uPlot (a small canvas chart library built for streaming data): one
 * table of charts, each naming its series and how to read them from the session. In race mode
 * every chart shows both optimisers on the same axes.
 */
import uPlot from 'uplot';
import type { Measurement, RecordPoint, Session } from '../trainer.js';

/** Line colours of optimiser A and B. */
export const SIDE_COLOURS = ['#6d28d9', '#0f766e'] as const;

/** One series of a chart, per optimiser. */
interface SeriesSpec {
  label: string;
  dash?: number[];
  /** The value of a record (curves over steps). */
  value?: (r: RecordPoint) => number | null;
}

/** One chart of the page. */
export interface ChartSpec {
  /** Element id suffix and test handle. */
  readonly id: string;
  readonly title: string;
  /** What the chart plots over: steps (records or measurements), or the slice's offsets. */
  readonly x: 'records' | 'measurements' | 'slice';
  readonly series: readonly SeriesSpec[];
  readonly yLabel: string;
  /** Only optimisers with a perturbed pass have these values (SGD's sides are left out). */
  readonly perturbedOnly?: boolean;
}

/** An optimiser as the charts see it. */
export interface ChartSide {
  label: string;
  perturbs: boolean;
}

/** The charts, in page order. */
export const CHARTS: readonly ChartSpec[] = [
  {
    id: 'loss',
    title: 'Loss (whole training and test sets)',
    x: 'records',
    yLabel: 'loss',
    series: [
      { label: 'train', value: (r) => r.trainLoss },
      { label: 'test', dash: [6, 4], value: (r) => r.testLoss },
    ],
  },
  {
    id: 'accuracy',
    title: 'Accuracy',
    x: 'records',
    yLabel: 'accuracy',
    series: [
      { label: 'train', value: (r) => r.trainAccuracy },
      { label: 'test', dash: [6, 4], value: (r) => r.testAccuracy },
    ],
  },
  {
    id: 'perturbed',
    title: 'Perturbed loss L(w + e), mini-batches',
    x: 'records',
    yLabel: 'L(w + e)',
    perturbedOnly: true,
    series: [{ label: 'L(w + e)', value: (r) => r.perturbedLoss }],
  },
  {
    id: 'gap',
    title: 'Surrogate gap h = L(w + e) − L(w), mini-batches',
    x: 'records',
    yLabel: 'h',
    perturbedOnly: true,
    series: [{ label: 'h', value: (r) => r.surrogateGap }],
  },
  {
    id: 'sigma',
    title: 'σ_max, the top Hessian eigenvalue',
    x: 'measurements',
    yLabel: 'σ_max',
    series: [{ label: 'σ_max' }],
  },
  {
    id: 'slice',
    title: 'Loss along a random filter-normalised direction through w',
    x: 'slice',
    yLabel: 'training loss',
    series: [{ label: 'L(w + a·u)' }],
  },
];

const CHART_WIDTH = 330;
const CHART_HEIGHT = 200;
const AXIS_FONT = '11px system-ui, "DejaVu Sans", sans-serif';
const LABEL_FONT = 'bold 11px system-ui, "DejaVu Sans", sans-serif';

/** A uPlot chart for one spec, with one group of series per optimiser. */
export class LiveChart {
  private readonly plot: uPlot;
  /** Indices of the optimisers this chart draws. */
  private readonly shown: number[];

  constructor(
    container: HTMLElement,
    readonly spec: ChartSpec,
    sides: readonly ChartSide[],
  ) {
    this.shown = sides.flatMap((s, i) => (spec.perturbedOnly && !s.perturbs ? [] : [i]));
    const series: uPlot.Series[] = [{ label: spec.x === 'slice' ? 'a' : 'step' }];
    for (const i of this.shown) {
      for (const s of spec.series) {
        series.push({
          label: sides.length > 1 ? `${sides[i]!.label} ${s.label}` : s.label,
          stroke: SIDE_COLOURS[i],
          width: 1.5,
          spanGaps: true,
          points: { show: spec.x === 'measurements' },
          ...(s.dash !== undefined ? { dash: s.dash } : {}),
        });
      }
    }
    this.plot = new uPlot(
      {
        title: this.shown.length === 0 ? `${spec.title}: none, SGD takes no perturbed step` : spec.title,
        width: CHART_WIDTH,
        height: CHART_HEIGHT,
        scales: { x: { time: false } },
        axes: [
          { label: spec.x === 'slice' ? 'a' : 'step', size: 36, labelSize: 18, font: AXIS_FONT, labelFont: LABEL_FONT },
          { label: spec.yLabel, size: 52, labelSize: 18, font: AXIS_FONT, labelFont: LABEL_FONT },
        ],
        cursor: { drag: { x: false, y: false } },
        legend: { live: false },
        series,
      },
      [[], ...series.slice(1).map(() => [])],
      container,
    );
    this.plot.root.dataset.chart = spec.id;
  }

  /** Redraws from the session's histories. */
  update(session: Session): void {
    const pick = <T>(all: readonly T[]): T[] => this.shown.map((i) => all[i]!);
    this.plot.setData(chartData(this.spec, pick(session.history), pick(session.measurements), session.step));
  }

  destroy(): void {
    this.plot.destroy();
  }
}

/** The chart's data columns: x, then each optimiser's series in spec order. */
export function chartData(
  spec: ChartSpec,
  history: readonly RecordPoint[][],
  measurements: readonly Measurement[][],
  step: number,
): uPlot.AlignedData {
  if (history.length === 0) return [[step]];
  if (spec.x === 'records') {
    const xs = history[0]!.map((r) => r.step);
    return [xs, ...history.flatMap((h) => spec.series.map((s) => h.map((r) => s.value!(r))))];
  }
  if (spec.x === 'measurements') {
    const xs = measurements[0]!.map((m) => m.step);
    return [xs, ...measurements.map((ms) => ms.map((m) => m.sigmaMax))];
  }
  const last = measurements.map((ms) => ms.at(-1));
  const xs = last[0]?.slice.alphas ?? [];
  return [xs, ...last.map((m) => m?.slice.losses ?? [])];
}
