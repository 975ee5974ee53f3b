/**
 * The few descriptive statistics the report needs over seeds: the library's one mean / sample-std
 * helper (src/util/stats.ts) over the finite values, plus the range.
 */
import { meanAndStd } from '../util/stats.js';

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
  const { mean, std } = meanAndStd(xs);
  return { n, mean: mean as number, std, min: Math.min(...xs), max: Math.max(...xs) };
}
