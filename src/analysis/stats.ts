/**
 * The statistics of the analysis: means with Student-t confidence intervals, the paired t-test, the
 * Wilcoxon signed-rank test, Holm's correction and a seeded percentile bootstrap.
 *
 * The DISTRIBUTIONS come from stdlib (`@stdlib/stats-base-dists-*`): the t quantile and CDF, the
 * exact signed-rank CDF and the normal CDF. stdlib was chosen over jStat because it is the only
 * well-kept JavaScript library with the exact null distribution of the signed-rank statistic (jStat
 * has none), each distribution is its own small, typed, tested package, and its t-test and Wilcoxon
 * packages follow R's conventions, which our results are checked against. The test statistics
 * themselves (a mean difference, ranks, a variance) are arithmetic and written here, so that each
 * result can say which method produced it; the tests check them against R's printed output and
 * against a brute-force enumeration, not against stdlib.
 */
import normalCdf from '@stdlib/stats-base-dists-normal-cdf';
import signrankCdf from '@stdlib/stats-base-dists-signrank-cdf';
import tCdf from '@stdlib/stats-base-dists-t-cdf';
import tQuantile from '@stdlib/stats-base-dists-t-quantile';
import { Rng } from '../util/random.js';

/** Default confidence level of every interval. */
export const DEFAULT_LEVEL = 0.95;

/** A closed interval `[lower, upper]`. */
export interface Interval {
  lower: number;
  upper: number;
}

/** Mean, sample standard deviation and Student-t confidence interval of a sample. */
export interface MeanEstimate {
  /** Number of values. */
  n: number;
  /** Mean; null when n = 0. */
  mean: number | null;
  /** Sample standard deviation (divisor n - 1); null when n < 2. */
  std: number | null;
  /** `mean ± t_{(1+level)/2, n-1} · std / sqrt(n)`; null when n < 2. */
  ci: Interval | null;
  /** Confidence level of `ci`, e.g. 0.95. */
  level: number;
}

function checkLevel(where: string, level: number): void {
  if (typeof level !== 'number' || !(level > 0 && level < 1)) {
    throw new RangeError(`${where}: level must be a number strictly between 0 and 1, got ${String(level)}`);
  }
}

function checkFinite(where: string, name: string, values: readonly number[]): void {
  if (!Array.isArray(values)) throw new TypeError(`${where}: ${name} must be an array of numbers, got ${typeof values}`);
  for (const v of values) {
    if (typeof v !== 'number') throw new TypeError(`${where}: ${name} must hold numbers only, got ${typeof v}`);
    if (!Number.isFinite(v)) throw new RangeError(`${where}: ${name} must hold finite numbers only, got ${v}`);
  }
}

/** Arithmetic mean of a non-empty sample. */
export function mean(values: readonly number[]): number {
  checkFinite('mean', 'values', values);
  if (values.length === 0) throw new RangeError('mean: values must not be empty, got 0 values');
  return values.reduce((s, v) => s + v, 0) / values.length;
}

/** Sample standard deviation `sqrt(Σ (x - mean)² / (n - 1))` of at least two values. */
export function sampleStd(values: readonly number[]): number {
  checkFinite('sampleStd', 'values', values);
  if (values.length < 2) throw new RangeError(`sampleStd: values must hold at least 2 values, got ${values.length}`);
  const m = mean(values);
  return Math.sqrt(values.reduce((s, v) => s + (v - m) ** 2, 0) / (values.length - 1));
}

/** The two-sided Student-t critical value `t_{(1+level)/2, df}`. */
export function tCritical(df: number, level = DEFAULT_LEVEL): number {
  checkLevel('tCritical', level);
  if (!(Number.isFinite(df) && df > 0)) throw new RangeError(`tCritical: df must be a positive number, got ${df}`);
  return tQuantile(0.5 + level / 2, df);
}

/**
 * Mean, sample std and the Student-t confidence interval of the mean, `mean ± t · std / sqrt(n)`
 * with `t = t_{(1+level)/2, n-1}`. Empty samples give nulls (not an error): a point whose every run
 * diverged has no mean, and tables show that.
 */
export function estimateMean(values: readonly number[], level = DEFAULT_LEVEL): MeanEstimate {
  checkFinite('estimateMean', 'values', values);
  checkLevel('estimateMean', level);
  const n = values.length;
  if (n === 0) return { n, mean: null, std: null, ci: null, level };
  const m = mean(values);
  if (n < 2) return { n, mean: m, std: null, ci: null, level };
  const s = sampleStd(values);
  const half = (tCritical(n - 1, level) * s) / Math.sqrt(n);
  return { n, mean: m, std: s, ci: { lower: m - half, upper: m + half }, level };
}

/** Result of {@link pairedTTest}: differences are `x[i] - y[i]`. */
export interface PairedTTest {
  /** Number of pairs. */
  n: number;
  /** Degrees of freedom, `n - 1`. */
  df: number;
  /** `t = mean(d) / (std(d) / sqrt(n))`. */
  t: number;
  /** Two-sided p-value, `2 · P(T_df <= -|t|)`. */
  p: number;
  /** Mean of the differences. */
  meanDifference: number;
  /** Sample std of the differences. */
  stdDifference: number;
  /** Student-t confidence interval of the mean difference. */
  ci: Interval;
  /** Confidence level of `ci`, in (0, 1). */
  level: number;
}

function pairedDifferences(where: string, x: readonly number[], y: readonly number[]): number[] {
  checkFinite(where, 'x', x);
  checkFinite(where, 'y', y);
  if (x.length !== y.length) throw new RangeError(`${where}: x and y must have the same length, got ${x.length} and ${y.length}`);
  return x.map((v, i) => v - y[i]);
}

/**
 * Paired two-sided Student t-test of `mean(x - y) = 0`, with the confidence interval of the mean
 * difference (R's `t.test(x, y, paired = TRUE)`).
 * @throws RangeError when there are fewer than 2 pairs, or the differences are all equal (the test
 * is undefined: zero standard error).
 */
export function pairedTTest(x: readonly number[], y: readonly number[], level = DEFAULT_LEVEL): PairedTTest {
  checkLevel('pairedTTest', level);
  const d = pairedDifferences('pairedTTest', x, y);
  const n = d.length;
  if (n < 2) throw new RangeError(`pairedTTest: x and y must hold at least 2 pairs, got ${n}`);
  const m = mean(d);
  const s = sampleStd(d);
  // Relative to the size of the differences: a spread of rounding error is no spread.
  if (!(s > 1e-12 * Math.max(1, Math.abs(m)))) {
    throw new RangeError(`pairedTTest: the differences x - y must not all be equal (zero standard error), got all ${m}`);
  }
  const se = s / Math.sqrt(n);
  const t = m / se;
  const df = n - 1;
  const half = tCritical(df, level) * se;
  return {
    n,
    df,
    t,
    p: Math.min(1, 2 * tCdf(-Math.abs(t), df)),
    meanDifference: m,
    stdDifference: s,
    ci: { lower: m - half, upper: m + half },
    level,
  };
}

/** Result of {@link wilcoxonSignedRank}. */
export interface WilcoxonTest {
  /** Number of pairs given. */
  n: number;
  /** Pairs with a zero difference (dropped before ranking, as R and Wilcoxon do). */
  zeros: number;
  /** Pairs ranked: `n - zeros`. */
  ranked: number;
  /** Whether some absolute differences are tied (they get mid-ranks). */
  ties: boolean;
  /** `V`: the sum of the ranks of the positive differences `x - y > 0` (R's statistic). */
  statistic: number;
  /** Two-sided p-value. */
  p: number;
  /**
   * 'exact': the exact null distribution of V (fewer than 50 ranked pairs, no ties, no zeros);
   * 'normal': the normal approximation with continuity correction and the tie correction of the
   * variance (otherwise), as R's `wilcox.test(x, y, paired = TRUE)` chooses.
   */
  method: 'exact' | 'normal';
  /** The z statistic of the normal approximation; null for 'exact'. */
  z: number | null;
}

/** Below this many ranked pairs (and without ties or zeros) the exact distribution is used, as in R. */
const EXACT_LIMIT = 50;

/**
 * Differences of accuracies are differences of multiples of 1/N computed in floating point, so two
 * equal differences can differ in the last bits (0.7 - 1.9 vs 1.1 - 2.3) and would be ranked apart.
 * Rounding to 12 significant digits restores the ties exact arithmetic has.
 */
function roundDifference(v: number): number {
  return v === 0 ? 0 : Number(v.toPrecision(12));
}

/** Mid-ranks (1-based) of `values`; tied values share the mean of their ranks. */
function midRanks(values: readonly number[]): { ranks: number[]; tieSizes: number[] } {
  const order = values.map((_, i) => i).sort((a, b) => values[a] - values[b]);
  const ranks = new Array<number>(values.length);
  const tieSizes: number[] = [];
  for (let i = 0; i < order.length;) {
    let j = i;
    while (j + 1 < order.length && values[order[j + 1]] === values[order[i]]) j++;
    const rank = (i + j + 2) / 2;
    for (let k = i; k <= j; k++) ranks[order[k]] = rank;
    if (j > i) tieSizes.push(j - i + 1);
    i = j + 1;
  }
  return { ranks, tieSizes };
}

/**
 * Two-sided Wilcoxon signed-rank test of the paired differences `x - y` (symmetric about 0 under
 * the null). Zero differences are dropped; tied absolute differences get mid-ranks. Exact p-value
 * `2 · min(P(V <= v), P(V >= v))` (capped at 1) from the signed-rank distribution when fewer than
 * 50 pairs remain and there are no ties or zeros; otherwise the normal approximation
 * `z = (V - n(n+1)/4 - 0.5·sign(V - n(n+1)/4)) / sqrt(n(n+1)(2n+1)/24 - Σ(t³ - t)/48)`.
 * @throws RangeError when fewer than 2 pairs are given or every difference is zero.
 */
export function wilcoxonSignedRank(x: readonly number[], y: readonly number[]): WilcoxonTest {
  const d = pairedDifferences('wilcoxonSignedRank', x, y).map(roundDifference);
  const n = d.length;
  if (n < 2) throw new RangeError(`wilcoxonSignedRank: x and y must hold at least 2 pairs, got ${n}`);
  const nonZero = d.filter((v) => v !== 0);
  const zeros = n - nonZero.length;
  const m = nonZero.length;
  if (m === 0) throw new RangeError('wilcoxonSignedRank: the differences x - y must not all be zero, got all zero');
  const { ranks, tieSizes } = midRanks(nonZero.map((v) => Math.abs(v)));
  const statistic = nonZero.reduce((s, v, i) => (v > 0 ? s + ranks[i] : s), 0);
  const ties = tieSizes.length > 0;
  if (m < EXACT_LIMIT && !ties && zeros === 0) {
    // P(V <= v) and P(V >= v) = 1 - P(V <= v - 1); V is an integer here (no ties).
    const lower = signrankCdf(statistic, m);
    const upper = 1 - signrankCdf(statistic - 1, m);
    return { n, zeros, ranked: m, ties, statistic, p: Math.min(1, 2 * Math.min(lower, upper)), method: 'exact', z: null };
  }
  const centre = (m * (m + 1)) / 4;
  const variance = (m * (m + 1) * (2 * m + 1)) / 24 - tieSizes.reduce((s, t) => s + t ** 3 - t, 0) / 48;
  const diff = statistic - centre;
  const z = (diff - 0.5 * Math.sign(diff)) / Math.sqrt(variance);
  return { n, zeros, ranked: m, ties, statistic, p: Math.min(1, 2 * normalCdf(-Math.abs(z), 0, 1)), method: 'normal', z };
}

/**
 * Holm's step-down adjustment of a family of p-values (controls the family-wise error rate): with
 * the m p-values sorted ascending, `p_adj(i) = max_{j <= i} min(1, (m - j + 1) · p(j))`, returned in
 * the input order. Nulls (comparisons that could not be tested) are not part of the family and stay
 * null. Hand-written: it is a sort and a running maximum.
 */
export function holm(pValues: readonly (number | null)[]): Array<number | null> {
  if (!Array.isArray(pValues)) throw new TypeError(`holm: pValues must be an array, got ${typeof pValues}`);
  for (const p of pValues) {
    if (p !== null && (typeof p !== 'number' || !(p >= 0 && p <= 1))) {
      throw new RangeError(`holm: each p-value must be null or a number in [0, 1], got ${String(p)}`);
    }
  }
  const present = pValues.flatMap((p, i) => (p === null ? [] : [{ p, i }])).sort((a, b) => a.p - b.p || a.i - b.i);
  const m = present.length;
  const out: Array<number | null> = pValues.map(() => null);
  let running = 0;
  present.forEach(({ p, i }, rank) => {
    running = Math.max(running, Math.min(1, (m - rank) * p));
    out[i] = running;
  });
  return out;
}

/** Options of {@link bootstrapInterval}. */
export interface BootstrapOptions {
  /** Resamples drawn (default 2000). */
  resamples?: number;
  /** Seed of the resampling stream (default 0): the same seed gives the same interval. */
  seed?: number;
  level?: number;
}

/** A percentile bootstrap interval and how it was drawn. */
export interface BootstrapInterval extends Interval {
  resamples: number;
  seed: number;
  level: number;
}

/**
 * Seeded percentile bootstrap of a statistic of several independent samples: each resample draws,
 * within every sample, as many values with replacement as it has, and evaluates `statistic` on the
 * resampled samples; the interval is the `(1 - level)/2` and `(1 + level)/2` quantiles (type 7) of
 * the resampled statistics. Used for the sensitivity range, whose samples are the seeds of each
 * point. Hand-written because it is a loop over {@link Rng}; no distribution is involved.
 * @throws RangeError when a sample is empty or the options are out of range.
 */
export function bootstrapInterval(
  samples: readonly (readonly number[])[],
  statistic: (resampled: number[][]) => number,
  opts: BootstrapOptions = {},
): BootstrapInterval {
  const resamples = opts.resamples ?? 2000;
  const seed = opts.seed ?? 0;
  const level = opts.level ?? DEFAULT_LEVEL;
  if (!Number.isInteger(resamples) || resamples < 100)
    throw new RangeError(`bootstrapInterval: resamples must be an integer >= 100, got ${resamples}`);
  if (!Number.isInteger(seed)) throw new RangeError(`bootstrapInterval: seed must be an integer, got ${seed}`);
  checkLevel('bootstrapInterval', level);
  if (!Array.isArray(samples) || samples.length === 0)
    throw new RangeError('bootstrapInterval: samples must be a non-empty array of samples');
  samples.forEach((s, i) => {
    checkFinite('bootstrapInterval', `samples[${i}]`, s);
    if (s.length === 0) throw new RangeError(`bootstrapInterval: samples[${i}] must not be empty`);
  });
  const rng = new Rng(seed);
  const stats: number[] = [];
  for (let b = 0; b < resamples; b++) {
    const drawn = samples.map((s) => Array.from({ length: s.length }, () => s[rng.int(s.length)]));
    stats.push(statistic(drawn));
  }
  stats.sort((a, b) => a - b);
  const quantile = (q: number): number => {
    const h = (stats.length - 1) * q;
    const lo = Math.floor(h);
    return stats[lo] + (h - lo) * ((stats[Math.min(lo + 1, stats.length - 1)] ?? stats[lo]) - stats[lo]);
  };
  return { lower: quantile((1 - level) / 2), upper: quantile((1 + level) / 2), resamples, seed, level };
}
