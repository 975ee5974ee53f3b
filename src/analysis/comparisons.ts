/**
 * Paired comparisons between methods at their selected points. Runs with the same seed share the
 * data split and the initial weights, so the per-seed differences are real pairs: each comparison
 * gets a paired t-test, a Wilcoxon signed-rank test and the mean difference with its confidence
 * interval, and the p-values of all comparisons made are Holm-corrected (each test its own family).
 */
import { holm, pairedTTest, wilcoxonSignedRank, DEFAULT_LEVEL, type PairedTTest, type WilcoxonTest } from './stats.js';
import { canonicalJson, type MetricName, type MethodPoints, type PointSummary } from './points.js';
import type { Selection } from './selection.js';

/** The default compared metric: the test accuracy of the selected points (the number reported). */
export const DEFAULT_COMPARE_METRIC: MetricName = 'testAccuracy';

/** One comparison: `a - b` over the seeds both selected points completed. */
export interface Comparison {
  /** The method whose values are the minuend. */
  a: string;
  /** The method whose values are subtracted. */
  b: string;
  /** The metric compared (the group's comparison metric, test accuracy by default). */
  metric: MetricName;
  /** The point id of a's selected point (null when a has none). */
  pointA: string | null;
  /** The point id of b's selected point (null when b has none). */
  pointB: string | null;
  /** Number of common seeds (the pairs). */
  n: number;
  /** The common seeds, ascending. */
  seeds: number[];
  /** Mean of a over the common seeds (null when there are none). */
  meanA: number | null;
  /** Mean of b over the common seeds (null when there are none). */
  meanB: number | null;
  /** Paired t-test of `a - b` (mean difference, its CI, t, df, p); null when it cannot be run (see `notes`). */
  tTest: PairedTTest | null;
  /** Wilcoxon signed-rank test of `a - b`; null when it cannot be run (see `notes`). */
  wilcoxon: WilcoxonTest | null;
  /** Holm-adjusted p-value of the t-test over the group's comparisons (null when the test was not run). */
  tTestHolm: number | null;
  /** Holm-adjusted p-value of the Wilcoxon test over the group's comparisons (null when the test was not run). */
  wilcoxonHolm: number | null;
  /** Why a test is missing, and anything that weakens the pairing. */
  notes: string[];
}

/** Every comparison of a group. */
export interface ComparisonSet {
  metric: MetricName;
  level: number;
  /** Which pairs: 'all' (every pair of methods, later method minus earlier) or 'named'. */
  pairs: 'all' | 'named';
  correction: 'holm';
  comparisons: Comparison[];
}

/** Options of {@link comparePoints}. */
export interface ComparisonOptions {
  metric?: MetricName;
  /** Pairs `[a, b]` to compare as `a - b`; default: every pair of methods present, later minus earlier. */
  pairs?: ReadonlyArray<readonly [string, string]>;
  level?: number;
}

/**
 * Checks a list of method pairs: each `[a, b]` of two different non-empty names, no pair twice
 * (in either order).
 * @throws TypeError / RangeError naming the bad pair.
 */
export function checkPairs(where: string, pairs: unknown): Array<[string, string]> {
  if (!Array.isArray(pairs)) throw new TypeError(`${where}: pairs must be an array of [method, method] pairs, got ${typeof pairs}`);
  const seen = new Set<string>();
  return pairs.map((pair, i) => {
    if (!Array.isArray(pair) || pair.length !== 2 || pair.some((m) => typeof m !== 'string' || m.length === 0)) {
      throw new TypeError(`${where}: pairs[${i}] must be a pair of two method names, got ${JSON.stringify(pair)}`);
    }
    const [a, b] = pair as [string, string];
    if (a === b) throw new RangeError(`${where}: pairs[${i}] must name two different methods, got ${a} twice`);
    const key = [a, b].sort().join('\u0000');
    if (seen.has(key)) throw new RangeError(`${where}: pairs[${i}] must not repeat a pair, got ${a}:${b} again`);
    seen.add(key);
    return [a, b];
  });
}

function compareOne(
  a: string,
  b: string,
  pa: PointSummary | null,
  pb: PointSummary | null,
  metric: MetricName,
  level: number,
): Omit<Comparison, 'tTestHolm' | 'wilcoxonHolm'> {
  const notes: string[] = [];
  const base = { a, b, metric, pointA: pa?.id ?? null, pointB: pb?.id ?? null };
  if (!pa || !pb) {
    for (const [m, p] of [
      [a, pa],
      [b, pb],
    ] as const)
      if (!p) notes.push(`${m} has no selected point`);
    return { ...base, n: 0, seeds: [], meanA: null, meanB: null, tTest: null, wilcoxon: null, notes };
  }
  if (canonicalJson(pa.spec.dataset) !== canonicalJson(pb.spec.dataset) || pa.spec.model !== pb.spec.model) {
    notes.push('the two points differ in data or model settings, so equal seeds do not give the same split and initial weights');
  }
  const byA = new Map(pa.values[metric].map((v) => [v.seed, v.value]));
  const pairs = pb.values[metric].filter((v) => byA.has(v.seed)).map((v) => ({ seed: v.seed, a: byA.get(v.seed)!, b: v.value }));
  const x = pairs.map((p) => p.a);
  const y = pairs.map((p) => p.b);
  const n = pairs.length;
  const avg = (vs: number[]): number | null => (vs.length === 0 ? null : vs.reduce((s, v) => s + v, 0) / vs.length);
  let tTest: PairedTTest | null = null;
  let wilcoxon: WilcoxonTest | null = null;
  if (n < 2) {
    notes.push(`${n} common seed${n === 1 ? '' : 's'} with ${metric}: at least 2 pairs are needed for a test`);
  } else {
    try {
      tTest = pairedTTest(x, y, level);
    } catch (err) {
      notes.push(`t-test not run: ${(err as Error).message.replace(/^pairedTTest: /, '')}`);
    }
    try {
      wilcoxon = wilcoxonSignedRank(x, y);
    } catch (err) {
      notes.push(`Wilcoxon test not run: ${(err as Error).message.replace(/^wilcoxonSignedRank: /, '')}`);
    }
  }
  return { ...base, n, seeds: pairs.map((p) => p.seed), meanA: avg(x), meanB: avg(y), tTest, wilcoxon, notes };
}

/**
 * Paired comparisons between the selected points of the methods, on `metric` (default test accuracy)
 * over the seeds both points completed. Named pairs whose method is absent from the group are kept,
 * with a note and no test, so that a requested comparison never silently disappears. Holm's
 * correction runs over the comparisons that have a p-value, separately for the t-test and Wilcoxon.
 */
export function comparePoints(
  methods: readonly MethodPoints[],
  selections: readonly Selection[],
  opts: ComparisonOptions = {},
): ComparisonSet {
  const metric = opts.metric ?? DEFAULT_COMPARE_METRIC;
  const level = opts.level ?? DEFAULT_LEVEL;
  const names = methods.map((m) => m.method);
  const pairs = opts.pairs
    ? checkPairs('comparePoints', opts.pairs)
    : names.flatMap((b, i) => names.slice(i + 1).map((a) => [a, b] as [string, string]));
  const selected = new Map<string, PointSummary | null>();
  for (const s of selections) {
    const m = methods.find((x) => x.method === s.method);
    selected.set(s.method, (s.point && m?.points.find((p) => p.id === s.point!.id)) || null);
  }
  const raw = pairs.map(([a, b]) => {
    const c = compareOne(a, b, selected.get(a) ?? null, selected.get(b) ?? null, metric, level);
    for (const m of [a, b]) if (!names.includes(m)) c.notes.unshift(`no runs of ${m} in this group`);
    return c;
  });
  const tAdj = holm(raw.map((c) => c.tTest?.p ?? null));
  const wAdj = holm(raw.map((c) => c.wilcoxon?.p ?? null));
  return {
    metric,
    level,
    pairs: opts.pairs ? 'named' : 'all',
    correction: 'holm',
    comparisons: raw.map((c, i) => ({ ...c, tTestHolm: tAdj[i], wilcoxonHolm: wAdj[i] })),
  };
}
