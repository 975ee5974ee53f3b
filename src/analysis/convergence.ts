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
  /** Target as a fraction of the reference method's final mean validation accuracy, in (0, 1] (default 0.99). */
  target?: number;
  /**
   * The reference method: the target is `target` times ITS final mean validation accuracy (e.g.
   * 'sam' with target 1: the time each method takes to reach SAM's final accuracy). Default: the
   * method with the highest final mean.
   */
  targetOf?: string;
  /**
   * An absolute target validation accuracy in (0, 1] instead (e.g. a figure from another results
   * directory); excludes `target` and `targetOf`.
   */
  targetAccuracy?: number;
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
  /**
   * The method whose final mean validation accuracy sets the target, and that mean; null when no
   * selected point has one, or when the target was given as an accuracy (`basis` 'given').
   */
  reference: {
    /** The method named by `targetOf`, else the one with the highest final mean validation accuracy at its selected point. */
    method: string;
    /** That mean, over the point's complete runs that have a final validation accuracy. */
    mean: number;
  } | null;
  /** How the target was set: a fraction of the best method's final mean, of a named method's, or given as an accuracy. */
  basis: 'best' | 'method' | 'given';
  /** `fraction · reference.mean` (or the given accuracy); null when there is no reference. */
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

/**
 * Checks the target options together: `targetAccuracy` (an accuracy in (0, 1]) excludes `target`
 * and `targetOf`; `targetOf` must be a method name string.
 */
export function checkTargetOptions(where: string, opts: Pick<ConvergenceOptions, 'target' | 'targetOf' | 'targetAccuracy'>): void {
  if (opts.target !== undefined) checkTargetFraction(where, opts.target);
  if (opts.targetOf !== undefined && (typeof opts.targetOf !== 'string' || opts.targetOf === ''))
    throw new TypeError(`${where}: targetOf must be a method name, got ${JSON.stringify(opts.targetOf)}`);
  if (opts.targetAccuracy === undefined) return;
  if (
    typeof opts.targetAccuracy !== 'number' ||
    !(Number.isFinite(opts.targetAccuracy) && opts.targetAccuracy > 0 && opts.targetAccuracy <= 1)
  )
    throw new RangeError(`${where}: targetAccuracy must be an accuracy in (0, 1], got ${String(opts.targetAccuracy)}`);
  if (opts.target !== undefined || opts.targetOf !== undefined)
    throw new RangeError(`${where}: targetAccuracy is a target of its own; give it without target and targetOf`);
}

/** The target in words, for table headings and captions: `99.0 % of SAM’s final mean (91.38 %)`. */
export function describeTarget(c: Convergence, label: (method: string) => string): string {
  if (c.basis === 'given') return 'a given validation accuracy';
  if (c.reference === null) return 'no target';
  const whose = c.basis === 'best' ? `${label(c.reference.method)}’s (the best)` : `${label(c.reference.method)}’s`;
  return `${(c.fraction * 100).toFixed(1)} % of ${whose} final mean validation accuracy (${(c.reference.mean * 100).toFixed(2)} %)`;
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
  checkTargetOptions('convergence', opts);
  const fraction = opts.targetAccuracy !== undefined ? 1 : (opts.target ?? DEFAULT_TARGET_FRACTION);
  const basis: Convergence['basis'] = opts.targetAccuracy !== undefined ? 'given' : opts.targetOf !== undefined ? 'method' : 'best';
  const level = opts.level ?? DEFAULT_LEVEL;
  const refs = selections.flatMap((s) => {
    if (!s.point) return [];
    const complete = runsOf(s.point.id).filter((r) => r.status === 'complete');
    const finals = complete.flatMap((r) =>
      typeof r.final?.validationAccuracy === 'number' && Number.isFinite(r.final.validationAccuracy) ? [r.final.validationAccuracy] : [],
    );
    return finals.length > 0 ? [{ method: s.method, mean: finals.reduce((a, v) => a + v, 0) / finals.length }] : [];
  });
  const empty = { metric: 'validationAccuracy' as const, fraction, basis, reference: null, target: null, methods: [] };
  if (refs.length === 0)
    return { ...empty, reason: 'no selected point has a final validation accuracy (the runs have no validation split)' };
  let reference: { method: string; mean: number } | null = null;
  if (basis === 'best') reference = refs.reduce((best, r) => (r.mean > best.mean ? r : best));
  if (basis === 'method') {
    reference = refs.find((r) => r.method === opts.targetOf) ?? null;
    if (reference === null) {
      const have = refs.map((r) => r.method).join(', ');
      return {
        ...empty,
        reason: `the target's method ${String(opts.targetOf)} has no selected point with a final validation accuracy here (methods with one: ${have})`,
      };
    }
  }
  const target = basis === 'given' ? opts.targetAccuracy! : fraction * reference!.mean;
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
  return { metric: 'validationAccuracy', fraction, basis, reference, target, methods, reason: null };
}
