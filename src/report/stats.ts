/**
 * The few descriptive statistics the report needs over seeds. Hand-written because they are four
 * one-liners; the definitions (sample std with n - 1, non-finite values dropped) are stated here once.
 */

/** Mean, spread and range of the finite values of a sample. */
export interface Spread {
  /** Number of finite values used. */
  n: number;
  mean: number;
  /** Sample standard deviation (divisor n - 1); null when n < 2. */
  std: number | null;
  min: number;
  max: number;
}

/**
 * Statistics of the finite values in `values` (NaN and ±Infinity, e.g. from a diverged run, are
 * dropped). Returns null when no finite value remains.
 */
export function spread(values: readonly number[]): Spread | null {
  const xs = values.filter((v) => Number.isFinite(v));
  const n = xs.length;
  if (n === 0) return null;
  const mean = xs.reduce((s, v) => s + v, 0) / n;
  const std = n < 2 ? null : Math.sqrt(xs.reduce((s, v) => s + (v - mean) ** 2, 0) / (n - 1));
  return { n, mean, std, min: Math.min(...xs), max: Math.max(...xs) };
}
