/**
 * `analyzeRecords`: run records in, a plain JSON-able {@link Analysis} out, per data set and model:
 * every point's statistics over seeds, the selected point per method, paired comparisons between the
 * selected points, sensitivity over each method's grid, and convergence. Computed from the records
 * alone; nothing is re-run.
 */
import type { RunRecord } from '../experiments/schema.js';
import { METHOD_ORDER } from '../experiments/summary.js';
import { checkPairs, comparePoints, DEFAULT_COMPARE_METRIC, type ComparisonSet } from './comparisons.js';
import { checkTargetOptions, convergence, DEFAULT_TARGET_FRACTION, type Convergence } from './convergence.js';
import { collectPoints, pointId, splitByDataset, type MethodPoints, type MetricName } from './points.js';
import { checkSelectionMetric, DEFAULT_SELECT_BY, selectPoints, type Selection } from './selection.js';
import { DEFAULT_WITHIN, sensitivity, type MethodSensitivity } from './sensitivity.js';
import { DEFAULT_LEVEL } from './stats.js';

/** Options of {@link analyzeRecords}; every field is optional. */
export interface AnalyzeOptions {
  /** Selection metric (default 'validationAccuracy'); a test metric is rejected. */
  selectBy?: MetricName;
  /** Let points with diverged runs be selected (default false; see {@link selectPoints}). */
  allowDiverged?: boolean;
  /** Comparisons to make, `[a, b]` meaning `a - b`; default: every pair of methods. */
  pairs?: ReadonlyArray<readonly [string, string]>;
  /** Convergence target as a fraction of the reference method's final mean validation accuracy (default 0.99). */
  target?: number;
  /** The convergence target's reference method (default: the best at its selected point); see `ConvergenceOptions.targetOf`. */
  targetOf?: string;
  /** An absolute convergence target (validation accuracy in (0, 1]); excludes `target` and `targetOf`. */
  targetAccuracy?: number;
  /** Near-best tolerance of the sensitivity share, in metric units (default 0.005 = 0.5 accuracy points). */
  within?: number;
  /** Confidence level of every interval (default 0.95). */
  level?: number;
  /** Resamples and seed of the bootstrap of the sensitivity range (default 2000, seed 0). */
  bootstrap?: {
    /** Bootstrap resamples (integer >= 100, default 2000). */
    resamples?: number;
    /** Seed of the resampling (integer, default 0). */
    seed?: number;
  };
}

/** The options an analysis was computed with, defaults filled in. */
export interface ResolvedAnalyzeOptions {
  selectBy: MetricName;
  allowDiverged: boolean;
  /** The named pairs, or 'all'. */
  pairs: Array<[string, string]> | 'all';
  compareMetric: MetricName;
  /** Metrics the sensitivity describes: the selection metric and test accuracy. */
  sensitivityMetrics: MetricName[];
  target: number;
  /** The target's reference method, or null for the best method. */
  targetOf: string | null;
  /** The absolute target, or null when it is a fraction of a method's final mean. */
  targetAccuracy: number | null;
  within: number;
  level: number;
  bootstrap: { resamples: number; seed: number };
}

/** Counts of a group's runs by status. */
export interface RunCounts {
  total: number;
  complete: number;
  diverged: number;
  failed: number;
  unfinished: number;
}

/** The analysis of one data set and model. */
export interface AnalysisGroup {
  /** The report's group key, e.g. 'moons-mlp'. */
  key: string;
  /** Heading of the group, e.g. 'moons (MLP)'. */
  title: string;
  /** The data-set label: the dataset name, or the IDX directory's last part. */
  dataset: string;
  /** `spec.model`: 'mlp' or 'cnn'. */
  model: string;
  /** The group's runs counted by status. */
  runs: RunCounts;
  /** True when some method has more than one point (a sweep): then the sensitivity is meaningful. */
  isSweep: boolean;
  /** Per method: its points and the spec paths that vary among them. */
  methods: MethodPoints[];
  /** Per method: the point chosen by the selection metric (never a test metric). */
  selection: Selection[];
  /** Paired comparisons of the selected points, with Holm-adjusted p-values. */
  comparisons: ComparisonSet;
  /** Per method: how its metrics move over its grid of points. */
  sensitivity: MethodSensitivity[];
  /** Epochs and wall seconds each selected point takes to reach the target validation accuracy. */
  convergence: Convergence;
}

/** Everything {@link analyzeRecords} computes; plain JSON. */
export interface Analysis {
  /** The options the analysis was computed with, defaults filled in. */
  options: ResolvedAnalyzeOptions;
  /** One entry per data set and model, in order of first appearance in the records. */
  groups: AnalysisGroup[];
}

const KNOWN_OPTIONS = ['selectBy', 'allowDiverged', 'pairs', 'target', 'targetOf', 'targetAccuracy', 'within', 'level', 'bootstrap'];

/** Validates the options and fills in the defaults. */
export function resolveAnalyzeOptions(opts: AnalyzeOptions = {}): ResolvedAnalyzeOptions {
  const where = 'analyzeRecords';
  if (opts === null || typeof opts !== 'object')
    throw new TypeError(`${where}: options must be an object, got ${opts === null ? 'null' : typeof opts}`);
  const unknown = Object.keys(opts).filter((k) => !KNOWN_OPTIONS.includes(k));
  if (unknown.length > 0) throw new RangeError(`${where}: options must only have ${KNOWN_OPTIONS.join(', ')}, got ${unknown.join(', ')}`);
  const selectBy = checkSelectionMetric(where, opts.selectBy ?? DEFAULT_SELECT_BY);
  const allowDiverged = opts.allowDiverged ?? false;
  if (typeof allowDiverged !== 'boolean') throw new TypeError(`${where}: allowDiverged must be a boolean, got ${typeof allowDiverged}`);
  const pairs = opts.pairs === undefined ? 'all' : checkPairs(where, opts.pairs);
  checkTargetOptions(where, opts);
  // checkTargetOptions has checked the fraction; with a given accuracy the fraction is 1.
  const target = opts.targetAccuracy !== undefined ? 1 : (opts.target ?? DEFAULT_TARGET_FRACTION);
  const within = opts.within ?? DEFAULT_WITHIN;
  if (typeof within !== 'number' || !Number.isFinite(within) || within < 0)
    throw new RangeError(`${where}: within must be a finite number >= 0, got ${String(within)}`);
  const level = opts.level ?? DEFAULT_LEVEL;
  if (typeof level !== 'number' || !(level > 0 && level < 1))
    throw new RangeError(`${where}: level must be a number strictly between 0 and 1, got ${String(level)}`);
  const resamples = opts.bootstrap?.resamples ?? 2000;
  const seed = opts.bootstrap?.seed ?? 0;
  if (!Number.isInteger(resamples) || resamples < 100)
    throw new RangeError(`${where}: bootstrap.resamples must be an integer >= 100, got ${String(resamples)}`);
  if (!Number.isInteger(seed)) throw new RangeError(`${where}: bootstrap.seed must be an integer, got ${String(seed)}`);
  const sensitivityMetrics = [...new Set<MetricName>([selectBy, 'testAccuracy'])];
  return {
    selectBy,
    allowDiverged,
    pairs,
    compareMetric: DEFAULT_COMPARE_METRIC,
    sensitivityMetrics,
    target,
    targetOf: opts.targetOf ?? null,
    targetAccuracy: opts.targetAccuracy ?? null,
    within,
    level,
    bootstrap: { resamples, seed },
  };
}

function countRuns(records: readonly RunRecord[]): RunCounts {
  return {
    total: records.length,
    complete: records.filter((r) => r.status === 'complete').length,
    diverged: records.filter((r) => r.status === 'diverged').length,
    failed: records.filter((r) => r.status === 'running' && r.error !== undefined).length,
    unfinished: records.filter((r) => r.status === 'running' && r.error === undefined).length,
  };
}

/**
 * Analyses run records (any mix of data sets, models, methods, points and seeds; unfinished runs are
 * counted). See the modules for each part: points.ts (statistics per point), selection.ts,
 * comparisons.ts, sensitivity.ts, convergence.ts.
 * @throws RangeError for bad options (a test metric to select by, a pair naming a method no record
 * has, a target outside (0, 1], ...).
 * @throws Error when selecting by a validation metric and a group's runs have no validation split.
 */
export function analyzeRecords(records: readonly RunRecord[], opts: AnalyzeOptions = {}): Analysis {
  if (!Array.isArray(records)) throw new TypeError(`analyzeRecords: records must be an array of run records, got ${typeof records}`);
  const options = resolveAnalyzeOptions(opts);
  if (options.pairs !== 'all') {
    const present = new Set(records.map((r) => r.spec.optimizer.name));
    options.pairs.forEach(([a, b], i) => {
      for (const m of [a, b]) {
        if (!present.has(m))
          throw new RangeError(
            `analyzeRecords: pairs[${i}] must name methods the records have (${[...present].sort().join(', ')}), got ${m}`,
          );
      }
    });
  }
  const groups = splitByDataset(records).map((set): AnalysisGroup => {
    const methods = collectPoints(set.records, METHOD_ORDER, options.level);
    let selection: Selection[];
    try {
      selection = selectPoints(methods, { selectBy: options.selectBy, allowDiverged: options.allowDiverged });
    } catch (err) {
      if (err instanceof RangeError) throw err;
      throw new Error(`analyzeRecords: ${set.title}: ${(err as Error).message.replace(/^selectPoints: /, '')}`, { cause: err });
    }
    const byPoint = new Map<string, RunRecord[]>();
    for (const r of set.records) {
      const id = pointId(r.spec);
      byPoint.set(id, [...(byPoint.get(id) ?? []), r]);
    }
    return {
      key: set.key,
      title: set.title,
      dataset: set.dataset,
      model: set.model,
      runs: countRuns(set.records),
      isSweep: methods.some((m) => m.points.length > 1),
      methods,
      selection,
      comparisons: comparePoints(methods, selection, {
        metric: options.compareMetric,
        level: options.level,
        ...(options.pairs !== 'all' ? { pairs: options.pairs } : {}),
      }),
      sensitivity: sensitivity(methods, {
        metrics: options.sensitivityMetrics,
        selectBy: options.selectBy,
        within: options.within,
        level: options.level,
        bootstrap: options.bootstrap,
      }),
      convergence: convergence(selection, (id) => byPoint.get(id) ?? [], {
        ...(options.targetAccuracy !== null ? { targetAccuracy: options.targetAccuracy } : { target: options.target }),
        ...(options.targetOf !== null ? { targetOf: options.targetOf } : {}),
        level: options.level,
      }),
    };
  });
  return { options, groups };
}
