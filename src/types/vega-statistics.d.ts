/**
 * The one function of vega-statistics (a dependency of vega, which the package already uses) that
 * src/sharpness takes; the package ships no type declarations of its own.
 */
declare module 'vega-statistics' {
  /**
   * The standard normal CDF Φ((value − mean)/stdev) (defaults 0 and 1), by West's double-precision
   * algorithm: accurate relative to its value in the lower tail.
   */
  export function cumulativeNormal(value: number, mean?: number, stdev?: number): number;
}
