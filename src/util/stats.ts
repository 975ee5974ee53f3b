/**
 * The one mean / standard-deviation helper of the library (report tables, run summaries, Hutchinson's
 * trace). Hand-written: it is two sums, and the tables must not change in the last digit, which a
 * library with compensated summation (simple-statistics) would do.
 */

/** Mean and sample spread of a list of numbers. */
export interface MeanAndStd {
  /** Number of values. */
  n: number;
  /** `Σ x / n`; null when n = 0. */
  mean: number | null;
  /** Sample variance `Σ (x - mean)² / (n - 1)`; null when n < 2. */
  variance: number | null;
  /** Sample standard deviation `sqrt(variance)`; null when n < 2. */
  std: number | null;
}

/**
 * Mean, sample variance and sample standard deviation (divisor n - 1) of `values`, summed left to
 * right in float64. The caller decides what to do with non-finite values (they propagate here).
 */
export function meanAndStd(values: readonly number[]): MeanAndStd {
  const n = values.length;
  if (n === 0) return { n, mean: null, variance: null, std: null };
  const mean = values.reduce((s, v) => s + v, 0) / n;
  if (n < 2) return { n, mean, variance: null, std: null };
  const variance = values.reduce((s, v) => s + (v - mean) * (v - mean), 0) / (n - 1);
  return { n, mean, variance, std: Math.sqrt(variance) };
}
