/**
 * Convergence speed at the selected points: the epochs and the wall seconds each run takes to reach
 * a target validation accuracy, and the mean validation-accuracy curves. The target is a fraction
 * (default 99 %) of the best method's final mean validation accuracy, so every method races to the
 * same line.
 */
import type { RunRecord } from '../experiments/schema.js';
import { estimateMean, DEFAULT_LEVEL, type MeanEstimate } from './stats.js';
import type { Selection } from './selection.js';

/** Default target: 99 % of the best method's final mean validation accuracy. */
export const DEFAULT_TARGET_FRACTION = 0.99;

/** Options of {@link convergence}. */
export interface ConvergenceOptions {
  /** Target as a fraction of the best method's final mean validation accuracy, in (0, 1] (default 0.99). */
  target?: number;
  level?: number;
}

/** When one run first reached the target. */
export interface RunConvergence {
  runId: string;
  seed: number;
  /** First epoch whose validation accuracy is >= the target; null when none is. */
  epoch: number | null;
  /** `Σ EpochRecord.seconds` over epochs 1..epoch (training wall time to the target); null when not reached. */
  seconds: number | null;
}

/** One mean-curve point: validation accuracy at an epoch over the runs that have it. */
export interface CurvePoint {
  epoch: number;
  estimate: MeanEstimate;
}

/** Convergence of one method at its selected point. */
export interface MethodConvergence {
  method: string;
  pointId: string | null;
  /** Complete runs at the selected point (diverged and unfinished runs are not timed). */
  runs: number;
  reached: number;
  /** Runs that never reached the target: counted here, not averaged in as their last epoch. */
  notReached: number;
  notReachedSeeds: number[];
  /** Epochs to the target over the runs that reached it. */
  epochs: MeanEstimate;
  /** Wall seconds to the target over the runs that reached it. */
  seconds: MeanEstimate;
  perRun: RunConvergence[];
  /** Mean validation accuracy per epoch with its CI band, over the complete runs. */
  curve: CurvePoint[];
}

/** Convergence of a group; `methods` is empty and `reason` set when it cannot be computed. */
export interface Convergence {
  /** The metric raced on: always the validation accuracy. */
  metric: 'validationAccuracy';
  /** The target fraction asked for. */
  fraction: number;
  /** The method whose final mean validation accuracy sets the target, and that mean; null when no selected point has one. */
  reference: {
    /** The method with the highest final mean validation accuracy at its selected point. */
    method: string;
    /** That mean, over the point's complete runs that have a final validation accuracy. */
    mean: number;
  } | null;
  /** `fraction · reference.mean`; null when there is no reference. */
  target: number | null;
  /** One entry per selection, in the selections' order (empty when `reason` is set). */
  methods: MethodConvergence[];
  /** Why convergence could not be computed (no selected point has a final validation accuracy); null when it was. */
  reason: string | null;
}

/** Checks a target fraction: a number in (0, 1]. */
export function checkTargetFraction(where: string, target: unknown): number {
  if (typeof target !== 'number') throw new TypeError(`${where}: target must be a number, got ${typeof target}`);
  if (!(Number.isFinite(target) && target > 0 && target <= 1))
    throw new RangeError(`${where}: target must be a fraction in (0, 1], got ${target}`);
  return target;
}

/** The first epoch at or above `target` and the wall seconds spent up to the end of it. */
export function timeToTarget(record: RunRecord, target: number): RunConvergence {
  let seconds = 0;
  for (const e of record.epochs) {
    seconds += e.seconds;
    const v = e.validationAccuracy;
    if (typeof v === 'number' && Number.isFinite(v) && v >= target)
      return { runId: record.runId, seed: record.spec.seed, epoch: e.epoch, seconds };
  }
  return { runId: record.runId, seed: record.spec.seed, epoch: null, seconds: null };
}

/**
 * Convergence of each selected point. `runsOf(pointId)` gives the point's records. Only complete
 * runs are timed. Runs that never reach the target are counted and listed by seed; the means of
 * epochs and seconds are over the runs that did reach it (so read them together with the counts).
 */
export function convergence(
  selections: readonly Selection[],
  runsOf: (pointId: string) => readonly RunRecord[],
  opts: ConvergenceOptions = {},
): Convergence {
  const fraction = checkTargetFraction('convergence', opts.target ?? DEFAULT_TARGET_FRACTION);
  const level = opts.level ?? DEFAULT_LEVEL;
  const refs = selections.flatMap((s) => {
    if (!s.point) return [];
    const complete = runsOf(s.point.id).filter((r) => r.status === 'complete');
    const finals = complete.flatMap((r) =>
      typeof r.final?.validationAccuracy === 'number' && Number.isFinite(r.final.validationAccuracy) ? [r.final.validationAccuracy] : [],
    );
    return finals.length > 0 ? [{ method: s.method, mean: finals.reduce((a, v) => a + v, 0) / finals.length }] : [];
  });
  const empty = { metric: 'validationAccuracy' as const, fraction, reference: null, target: null, methods: [] };
  if (refs.length === 0)
    return { ...empty, reason: 'no selected point has a final validation accuracy (the runs have no validation split)' };
  const reference = refs.reduce((best, r) => (r.mean > best.mean ? r : best));
  const target = fraction * reference.mean;
  const methods = selections.map((s): MethodConvergence => {
    const complete = s.point
      ? runsOf(s.point.id)
          .filter((r) => r.status === 'complete')
          .sort((a, b) => a.spec.seed - b.spec.seed)
      : [];
    const perRun = complete.map((r) => timeToTarget(r, target));
    const hit = perRun.filter((r) => r.epoch !== null);
    const byEpoch = new Map<number, number[]>();
    for (const r of complete) {
      for (const e of r.epochs) {
        if (typeof e.validationAccuracy !== 'number' || !Number.isFinite(e.validationAccuracy)) continue;
        byEpoch.set(e.epoch, [...(byEpoch.get(e.epoch) ?? []), e.validationAccuracy]);
      }
    }
    return {
      method: s.method,
      pointId: s.point?.id ?? null,
      runs: complete.length,
      reached: hit.length,
      notReached: perRun.length - hit.length,
      notReachedSeeds: perRun.filter((r) => r.epoch === null).map((r) => r.seed),
      epochs: estimateMean(
        hit.map((r) => r.epoch!),
        level,
      ),
      seconds: estimateMean(
        hit.map((r) => r.seconds!),
        level,
      ),
      perRun,
      curve: [...byEpoch.keys()].sort((a, b) => a - b).map((epoch) => ({ epoch, estimate: estimateMean(byEpoch.get(epoch)!, level) })),
    };
  });
  return { metric: 'validationAccuracy', fraction, reference, target, methods, reason: null };
}
