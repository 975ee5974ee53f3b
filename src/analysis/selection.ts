/**
 * Model selection: per method, the point with the best mean of a selection metric over seeds. The
 * selection metric may be a validation or a training metric, never a test metric: the number reported
 * for the chosen point is its TEST accuracy, which must not have influenced the choice.
 */
import type { MeanEstimate } from './stats.js';
import { isTestMetric, metricGoal, METRICS, type MetricName, type MethodPoints, type PointSummary } from './points.js';

/** The default selection metric. */
export const DEFAULT_SELECT_BY: MetricName = 'validationAccuracy';

/** Options of {@link selectPoints}. */
export interface SelectionOptions {
  /** Metric that chooses (default 'validationAccuracy'; max for accuracies, min for losses). */
  selectBy?: MetricName;
  /**
   * Whether a point with a diverged run may be chosen (default false). A point where some seeds
   * diverged has a mean over its surviving seeds only, which flatters it; by default it is not a
   * candidate, and the selection says how many points were left out for that reason.
   */
  allowDiverged?: boolean;
}

/** What a selection names of its chosen point (the full summary is in the group's points). */
export type SelectedPoint = Pick<PointSummary, 'id' | 'label' | 'params' | 'completeSeeds' | 'runs' | 'diverged'>;

/** The chosen point of one method. */
export interface Selection {
  /** The method (`spec.optimizer.name`). */
  method: string;
  /** The metric that chose the point. */
  selectedBy: MetricName;
  /** The chosen point (its id, label, parameters and seeds); null when no point is a candidate (see `reason`). */
  point: SelectedPoint | null;
  /** The selection metric of the chosen point over its complete seeds (mean, std, CI). */
  selectionMetric: MeanEstimate | null;
  /** Test accuracy of the chosen point over its complete seeds: the number to report. */
  testAccuracy: MeanEstimate | null;
  /** Points of the method. */
  points: number;
  /** Points that were candidates (a mean of the selection metric, no diverged run unless allowed). */
  candidates: number;
  /** Points left out because a run of theirs diverged. */
  excludedDiverged: number;
  /** Why no point was chosen; null when one was. */
  reason: string | null;
}

/**
 * Checks a selection metric name: one of the validation or training metrics.
 * @throws RangeError for a test metric (model selection never looks at the test set) or an unknown name.
 */
export function checkSelectionMetric(where: string, metric: unknown): MetricName {
  if (typeof metric !== 'string') throw new TypeError(`${where}: selectBy must be a metric name string, got ${typeof metric}`);
  const allowed = METRICS.filter((m) => !isTestMetric(m));
  if ((METRICS as readonly string[]).includes(metric) && isTestMetric(metric as MetricName)) {
    throw new RangeError(
      `${where}: selectBy must not be a test metric (model selection never looks at the test set), got ${JSON.stringify(metric)}; allowed: ${allowed.join(', ')}`,
    );
  }
  if (!(allowed as readonly string[]).includes(metric)) {
    throw new RangeError(`${where}: selectBy must be one of ${allowed.join(', ')}, got ${JSON.stringify(metric)}`);
  }
  return metric as MetricName;
}

/**
 * Chooses one point per method by the mean of `selectBy` over its complete seeds (max for
 * accuracies, min for losses). Ties go to the point with more seeds, then to the smaller point id,
 * so the choice is deterministic. Points with a diverged run are not candidates unless
 * `allowDiverged`; points without any value of the metric never are.
 * @throws RangeError when `selectBy` is a test metric.
 * @throws Error when `selectBy` is a validation metric and no run of any method has it (the runs
 * have no validation split).
 */
export function selectPoints(methods: readonly MethodPoints[], opts: SelectionOptions = {}): Selection[] {
  const selectBy = checkSelectionMetric('selectPoints', opts.selectBy ?? DEFAULT_SELECT_BY);
  const allowDiverged = opts.allowDiverged ?? false;
  if (typeof allowDiverged !== 'boolean') throw new TypeError(`selectPoints: allowDiverged must be a boolean, got ${typeof allowDiverged}`);
  const anyValue = methods.some((m) => m.points.some((p) => p.metrics[selectBy].n > 0));
  if (!anyValue && selectBy.startsWith('validation') && methods.some((m) => m.points.some((p) => p.complete > 0))) {
    throw new Error(
      `selectPoints: the runs have no validation split (no complete run records ${selectBy}); ` +
        `run them with dataset.validationFraction set, or select by a training metric (trainAccuracy, trainLoss)`,
    );
  }
  const sign = metricGoal(selectBy) === 'max' ? 1 : -1;
  return methods.map(({ method, points }) => {
    const withValue = points.filter((p) => p.metrics[selectBy].n > 0);
    const candidates = withValue.filter((p) => allowDiverged || p.diverged === 0);
    const excludedDiverged = withValue.length - candidates.length;
    const base = { method, selectedBy: selectBy, points: points.length, candidates: candidates.length, excludedDiverged };
    if (candidates.length === 0) {
      const reason =
        withValue.length === 0
          ? `no complete run of ${method} records ${selectBy}`
          : `every point of ${method} with ${selectBy} has a diverged run (allowDiverged is off)`;
      return { ...base, point: null, selectionMetric: null, testAccuracy: null, reason };
    }
    const best = [...candidates].sort(
      (a, b) =>
        sign * (b.metrics[selectBy].mean! - a.metrics[selectBy].mean!) ||
        b.metrics[selectBy].n - a.metrics[selectBy].n ||
        (a.id < b.id ? -1 : a.id > b.id ? 1 : 0),
    )[0];
    const point: SelectedPoint = {
      id: best.id,
      label: best.label,
      params: best.params,
      completeSeeds: best.completeSeeds,
      runs: best.runs,
      diverged: best.diverged,
    };
    return { ...base, point, selectionMetric: best.metrics[selectBy], testAccuracy: best.metrics.testAccuracy, reason: null };
  });
}
