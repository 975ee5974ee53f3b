/**
 * Sensitivity to hyper-parameters: how a method's metric moves over its grid of points, as curves
 * against rho, a rho x alpha grid of means, and summary figures that put "less sensitive" in numbers
 * (range and std of the per-point means, share of the grid near the method's best point).
 */
import { bootstrapInterval, estimateMean, type BootstrapInterval, type MeanEstimate } from './stats.js';
import { metricGoal, type MetricName, type MethodPoints, type PointSummary } from './points.js';

/** The path of rho in a spec. */
export const RHO_PATH = 'optimizer.rho';
/** The path of alpha in a spec. */
export const ALPHA_PATH = 'optimizer.alpha';
/** Default tolerance of the near-best share: 0.005 = 0.5 accuracy points. */
export const DEFAULT_WITHIN = 0.005;

/** Options of {@link sensitivity}. */
export interface SensitivityOptions {
  /** Metrics to describe, e.g. ['validationAccuracy', 'testAccuracy']. */
  metrics: readonly MetricName[];
  /** The selection metric: it alone decides which alpha (and other setting) stands for a rho. */
  selectBy: MetricName;
  /** A point is "near the best" when its mean is within this of the best mean, in the metric's units (default 0.005). */
  within?: number;
  /** Bootstrap of the range (default 2000 resamples, seed 0). */
  bootstrap?: { resamples?: number; seed?: number };
  level?: number;
}

/** One rho value on a method's curve, at the point that stands for it. */
export interface RhoCurvePoint {
  rho: number;
  /** The point standing for this rho (the best of its points by the selection metric); null when none qualifies. */
  pointId: string | null;
  /** Label of that point (its other varied settings, e.g. `alpha=0.1`). */
  label: string | null;
  /** Points with this rho, and how many of them have a diverged run. */
  points: number;
  divergedPoints: number;
  /** The metric at the standing point over its complete seeds; null when no point qualifies. */
  estimate: MeanEstimate | null;
}

/** One cell of the rho x alpha grid. */
export interface GridCell {
  rho: number;
  alpha: number;
  /** The point of this cell (the best by the selection metric when other settings vary too). */
  pointId: string;
  estimate: MeanEstimate;
  /** Diverged runs of that point. */
  diverged: number;
}

/** The summary figures of one metric over a method's grid. */
export interface SensitivitySummary {
  /** Points of the method (the grid). */
  points: number;
  /** Points with a mean of the metric and no diverged run: the ones the range and std are over. */
  usable: number;
  /** Points with at least one diverged run. */
  divergedPoints: number;
  /** Best mean over the usable points (max for accuracies, min for losses); null when none is usable. */
  best: number | null;
  bestPointId: string | null;
  /** `max - min` of the usable points' means. */
  range: number | null;
  /** Sample std of the usable points' means (null with fewer than 2). */
  std: number | null;
  /**
   * Percentile interval of `range` under a bootstrap of the seeds within each usable point. A max − min
   * of noisy means is biased upward, and resampling adds noise, so with few seeds this interval can lie
   * wholly above `range`: it shows how much the range moves under resampling, not a confidence interval
   * of the true range (the tables therefore print `range` alone).
   */
  rangeCi: BootstrapInterval | null;
  /** The tolerance used, in the metric's units. */
  within: number;
  /** Usable points whose mean is within `within` of `best`. */
  nearBest: number;
  /** `nearBest / points`: diverged points and points without a value count as not near the best. */
  share: number | null;
}

/** Sensitivity of one metric for one method. */
export interface MetricSensitivity {
  metric: MetricName;
  summary: SensitivitySummary;
  /** The metric against rho; null when rho does not vary among the method's points. */
  rhoCurve: RhoCurvePoint[] | null;
  /** Rho x alpha means; null unless both vary. */
  grid: { rhos: number[]; alphas: number[]; cells: GridCell[] } | null;
}

/** Sensitivity of one method. */
export interface MethodSensitivity {
  /** The method (`spec.optimizer.name`). */
  method: string;
  /** The spec paths that vary among the method's points: rho, alpha, then the rest alphabetically (empty for a single point). */
  variedPaths: string[];
  /**
   * How a rho stands on the curve when other settings vary too: 'best-by-selection' (the point with
   * the best mean selection metric among those with that rho; never chosen on the test set), or
   * 'single' when rho is the only varied setting.
   */
  curveRule: 'single' | 'best-by-selection' | null;
  /** One entry per metric described (the selection metric and test accuracy in an analysis). */
  metrics: MetricSensitivity[];
}

function numeric(p: PointSummary, path: string): number | null {
  const v = p.params[path];
  return typeof v === 'number' ? v : null;
}

/** A point qualifies to stand for a setting when it has the selection metric and no diverged run. */
function qualifies(p: PointSummary, selectBy: MetricName): boolean {
  return p.diverged === 0 && p.metrics[selectBy].n > 0;
}

/** The best of `points` by the selection metric (ties: more seeds, then smaller id), or null. */
function bestBySelection(points: readonly PointSummary[], selectBy: MetricName): PointSummary | null {
  const sign = metricGoal(selectBy) === 'max' ? 1 : -1;
  const ok = points.filter((p) => qualifies(p, selectBy));
  if (ok.length === 0) return null;
  return ok.sort(
    (a, b) =>
      sign * (b.metrics[selectBy].mean! - a.metrics[selectBy].mean!) ||
      b.metrics[selectBy].n - a.metrics[selectBy].n ||
      (a.id < b.id ? -1 : a.id > b.id ? 1 : 0),
  )[0];
}

function summarize(points: readonly PointSummary[], metric: MetricName, within: number, opts: SensitivityOptions): SensitivitySummary {
  const usable = points.filter((p) => p.diverged === 0 && p.metrics[metric].n > 0);
  const means = usable.map((p) => p.metrics[metric].mean!);
  const goal = metricGoal(metric);
  const divergedPoints = points.filter((p) => p.diverged > 0).length;
  if (usable.length === 0) {
    return {
      points: points.length,
      usable: 0,
      divergedPoints,
      best: null,
      bestPointId: null,
      range: null,
      std: null,
      rangeCi: null,
      within,
      nearBest: 0,
      share: points.length > 0 ? 0 : null,
    };
  }
  const bestIndex = means.reduce((bi, v, i) => ((goal === 'max' ? v > means[bi] : v < means[bi]) ? i : bi), 0);
  const best = means[bestIndex];
  // A hair of slack so that a point exactly `within` away counts despite rounding in the means.
  const slack = 1e-12 * Math.max(1, Math.abs(best));
  const nearBest = means.filter((v) => Math.abs(best - v) <= within + slack).length;
  const spread = estimateMean(means, opts.level);
  const range = Math.max(...means) - Math.min(...means);
  const samples = usable.map((p) => p.values[metric].map((v) => v.value));
  const rangeCi =
    usable.length >= 2 && samples.every((s) => s.length > 0)
      ? bootstrapInterval(
          samples,
          (rs) => {
            const ms = rs.map((s) => s.reduce((a, v) => a + v, 0) / s.length);
            return Math.max(...ms) - Math.min(...ms);
          },
          { resamples: opts.bootstrap?.resamples, seed: opts.bootstrap?.seed, level: opts.level },
        )
      : null;
  return {
    points: points.length,
    usable: usable.length,
    divergedPoints,
    best,
    bestPointId: usable[bestIndex].id,
    range,
    std: spread.std,
    rangeCi,
    within,
    nearBest,
    share: nearBest / points.length,
  };
}

/**
 * Sensitivity of each method that has more than one point (a method with a single point has no
 * grid to be sensitive over and is left out). On the rho curve and in the rho x alpha grid, when
 * further settings vary (a learning rate, say), each rho (or cell) is represented by its best point
 * by the SELECTION metric, so the test-accuracy curve shows what the validation choice would give.
 * @throws RangeError when `within` is not a finite number >= 0.
 */
export function sensitivity(methods: readonly MethodPoints[], opts: SensitivityOptions): MethodSensitivity[] {
  const within = opts.within ?? DEFAULT_WITHIN;
  if (typeof within !== 'number' || !Number.isFinite(within) || within < 0) {
    throw new RangeError(`sensitivity: within must be a finite number >= 0, got ${String(within)}`);
  }
  const out: MethodSensitivity[] = [];
  for (const { method, variedPaths, points } of methods) {
    if (points.length < 2) continue;
    const rhoVaries = variedPaths.includes(RHO_PATH);
    const alphaVaries = variedPaths.includes(ALPHA_PATH);
    const others = variedPaths.filter((p) => p !== RHO_PATH);
    const curveRule = rhoVaries ? (others.length === 0 ? 'single' : 'best-by-selection') : null;
    const onRho = points.filter((p) => numeric(p, RHO_PATH) !== null);
    const rhos = [...new Set(onRho.map((p) => numeric(p, RHO_PATH)!))].sort((a, b) => a - b);
    // The standing point of each rho and of each (rho, alpha) cell: chosen once, on the selection metric.
    const standing = new Map(
      rhos.map(
        (rho) =>
          [
            rho,
            bestBySelection(
              onRho.filter((p) => numeric(p, RHO_PATH) === rho),
              opts.selectBy,
            ),
          ] as const,
      ),
    );
    const onGrid = onRho.filter((p) => numeric(p, ALPHA_PATH) !== null);
    const alphas = [...new Set(onGrid.map((p) => numeric(p, ALPHA_PATH)!))].sort((a, b) => a - b);
    const metrics = [...new Set(opts.metrics)].map((metric): MetricSensitivity => {
      const rhoCurve = rhoVaries
        ? rhos.map((rho): RhoCurvePoint => {
            const here = onRho.filter((p) => numeric(p, RHO_PATH) === rho);
            const p = standing.get(rho) ?? null;
            const estimate = p && p.metrics[metric].n > 0 ? p.metrics[metric] : null;
            return {
              rho,
              pointId: p?.id ?? null,
              label: p ? others.map((o) => `${o.replace(/^(optimizer|base|dataset)\./, '')}=${p.params[o] ?? 'default'}`).join(', ') : null,
              points: here.length,
              divergedPoints: here.filter((q) => q.diverged > 0).length,
              estimate,
            };
          })
        : null;
      let grid: MetricSensitivity['grid'] = null;
      if (rhoVaries && alphaVaries) {
        const cells: GridCell[] = [];
        for (const rho of rhos) {
          for (const alpha of alphas) {
            const here = onGrid.filter((p) => numeric(p, RHO_PATH) === rho && numeric(p, ALPHA_PATH) === alpha);
            if (here.length === 0) continue;
            // Best by the selection metric; a cell whose every point diverged shows its first point's counts.
            const p = bestBySelection(here, opts.selectBy) ?? here[0];
            cells.push({ rho, alpha, pointId: p.id, estimate: p.metrics[metric], diverged: p.diverged });
          }
        }
        grid = { rhos, alphas, cells };
      }
      return { metric, summary: summarize(points, metric, within, opts), rhoCurve, grid };
    });
    out.push({ method, variedPaths, curveRule, metrics });
  }
  return out;
}
