/**
 * Ratios of step times with their uncertainty, for the bench's target tables. A target such as
 * "SAM / SGD at most 2.0" sits within a few per cent of what the step structure allows, and a
 * shared VM's speed drifts by about 10 % within a minute, so a bare ratio of two medians lands on
 * either side of the target from run to run. Two estimates, each with a percentile bootstrap
 * interval (src/analysis/stats.ts):
 * - {@link pairedRatio}: for two optimisers timed in one worker, block i of each comes from the same
 *   pass of the block loop (seconds apart), so the ratio of each pair cancels the drift between
 *   passes; the estimate is the median of the pairs' ratios, resampled by pair.
 * - {@link ratioOfMedians}: for times from different processes (ours against PyTorch), which do not
 *   pair, the ratio of the two medians, each sample resampled on its own.
 * The verdict against a target then says "yes" only when the whole interval is at or below it.
 */
import { bootstrapInterval } from '../src/analysis/stats.js';

/** A ratio of two sets of step times, with its 95 % bootstrap interval. */
export interface RatioEstimate {
  /** The estimate: median of paired ratios, or ratio of medians. */
  readonly ratio: number;
  readonly lower: number;
  readonly upper: number;
  /** Whether the samples were paired (block by block) or resampled independently. */
  readonly paired: boolean;
  /** Pairs (paired) or the smaller sample's size (unpaired). */
  readonly n: number;
}

/** Resamples per interval: enough for stable 2.5 % and 97.5 % quantiles at the bench's 12-60 blocks. */
const RESAMPLES = 2000;

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

function checkTimes(where: string, name: string, xs: readonly number[]): void {
  if (!Array.isArray(xs) || xs.length === 0) throw new RangeError(`${where}: ${name} must be a non-empty array of step times`);
  const bad = xs.findIndex((x) => !(Number.isFinite(x) && x > 0));
  if (bad >= 0) throw new RangeError(`${where}: ${name}[${bad}] must be a positive finite time, got ${String(xs[bad])}`);
}

/**
 * The median of `num[i] / den[i]` over pairs timed together, with a bootstrap interval over pairs.
 * @throws RangeError unless both are equally long non-empty arrays of positive finite times.
 */
export function pairedRatio(num: readonly number[], den: readonly number[], seed = 0): RatioEstimate {
  checkTimes('pairedRatio', 'num', num);
  checkTimes('pairedRatio', 'den', den);
  if (num.length !== den.length)
    throw new RangeError(`pairedRatio: num and den must pair block by block, got ${num.length} and ${den.length} times`);
  const ratios = num.map((x, i) => x / den[i]!);
  const ci = bootstrapInterval([ratios], ([r]) => median(r!), { resamples: RESAMPLES, seed });
  return { ratio: median(ratios), lower: ci.lower, upper: ci.upper, paired: true, n: ratios.length };
}

/**
 * `median(num) / median(den)` for samples that do not pair, with a bootstrap interval that
 * resamples each on its own.
 * @throws RangeError unless both are non-empty arrays of positive finite times.
 */
export function ratioOfMedians(num: readonly number[], den: readonly number[], seed = 0): RatioEstimate {
  checkTimes('ratioOfMedians', 'num', num);
  checkTimes('ratioOfMedians', 'den', den);
  const ci = bootstrapInterval([num, den], ([a, b]) => median(a!) / median(b!), { resamples: RESAMPLES, seed });
  return { ratio: median(num) / median(den), lower: ci.lower, upper: ci.upper, paired: false, n: Math.min(num.length, den.length) };
}

/**
 * The fewest pairs (or blocks of the smaller sample) a verdict is drawn from: a bootstrap of one or
 * two values has an interval of (nearly) zero width that says nothing of the noise.
 */
export const MIN_VERDICT_SAMPLES = 5;

/**
 * Against a target "at most `target`": 'yes' when the whole interval is at or below it, 'no' when
 * the whole interval is above it, 'unclear' when the interval straddles it or rests on fewer than
 * {@link MIN_VERDICT_SAMPLES} samples (this run cannot tell).
 */
export function verdict(e: RatioEstimate, target: number): 'yes' | 'no' | 'unclear' {
  if (e.n < MIN_VERDICT_SAMPLES) return 'unclear';
  if (e.upper <= target) return 'yes';
  if (e.lower > target) return 'no';
  return 'unclear';
}

/** `1.97 [1.95, 1.99]`. */
export function formatRatio(e: RatioEstimate): string {
  return `${e.ratio.toFixed(2)} [${e.lower.toFixed(2)}, ${e.upper.toFixed(2)}]`;
}
