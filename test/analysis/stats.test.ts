/**
 * The statistics against reference values obtained independently of this code:
 * - R's printed output for textbook data sets (the `sleep` data of Student 1908, shipped with R, and
 *   the Hollander & Wolfe depression data of R's `wilcox.test` help page), each also re-derived by
 *   hand in the comments;
 * - for exact Wilcoxon p-values, a brute-force enumeration of all 2^n sign patterns of the ranks,
 *   written in this test;
 * - for the normal approximation at n >= 50, the exact distribution by dynamic programming, also
 *   written here (the approximation must be close to it);
 * - for Holm, examples worked by hand.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { bootstrapInterval, estimateMean, holm, pairedTTest, tCritical, wilcoxonSignedRank } from '../../src/analysis/stats.js';
import { Rng } from '../../src/util/random.js';

// R: sleep$extra by group (10 patients, two drugs), `datasets::sleep`.
const SLEEP_1 = [0.7, -1.6, -0.2, -1.2, -0.1, 3.4, 3.7, 0.8, 0.0, 2.0];
const SLEEP_2 = [1.9, 0.8, 1.1, 0.1, -0.1, 4.4, 5.5, 1.6, 4.6, 3.4];

function close(actual: number, expected: number, tol: number, what: string): void {
  assert.ok(Math.abs(actual - expected) <= tol, `${what}: expected ${expected} ± ${tol}, got ${actual}`);
}

describe('Student t intervals', () => {
  test('critical values match the printed t table (qt in R)', () => {
    close(tCritical(9), 2.262157, 1e-6, 'qt(0.975, 9)');
    close(tCritical(4), 2.776445, 1e-6, 'qt(0.975, 4)');
    close(tCritical(9, 0.9), 1.833113, 1e-6, 'qt(0.95, 9)');
  });

  test('one-sample interval of sleep group 1 matches R t.test', () => {
    // R: t.test(sleep$extra[sleep$group == 1]): mean 0.75, 95 % CI [-0.5297804, 2.0297804].
    // By hand: sum of squares 28.805, sd = sqrt(28.805 / 9) = 1.789010, se = 0.565734, half = 2.262157 * se.
    const e = estimateMean(SLEEP_1);
    assert.equal(e.n, 10);
    close(e.mean!, 0.75, 1e-12, 'mean');
    close(e.std!, Math.sqrt(28.805 / 9), 1e-12, 'std');
    close(e.ci!.lower, -0.5297804, 1e-6, 'lower');
    close(e.ci!.upper, 2.0297804, 1e-6, 'upper');
  });

  test('no interval from fewer than two values, no mean from none', () => {
    assert.deepEqual(estimateMean([]), { n: 0, mean: null, std: null, ci: null, level: 0.95 });
    assert.deepEqual(estimateMean([0.5]), { n: 1, mean: 0.5, std: null, ci: null, level: 0.95 });
  });

  test('bad input is rejected', () => {
    assert.throws(() => estimateMean([1, Number.NaN]), RangeError);
    assert.throws(() => estimateMean([1, 2], 1), /level must be a number strictly between 0 and 1, got 1/);
  });
});

describe('paired t-test', () => {
  test('sleep data: matches R t.test(extra ~ group, data = sleep, paired = TRUE)', () => {
    // R prints: t = -4.0621, df = 9, p-value = 0.002833; mean difference -1.58; 95 % CI [-2.4598858, -0.7001142].
    const r = pairedTTest(SLEEP_1, SLEEP_2);
    assert.equal(r.n, 10);
    assert.equal(r.df, 9);
    close(r.t, -4.0621, 5e-5, 't');
    close(r.p, 0.002833, 5e-7, 'p');
    close(r.meanDifference, -1.58, 1e-12, 'mean difference');
    close(r.ci.lower, -2.4598858, 1e-6, 'ci lower');
    close(r.ci.upper, -0.7001142, 1e-6, 'ci upper');
  });

  test('swapping x and y flips the sign and keeps p', () => {
    const a = pairedTTest(SLEEP_1, SLEEP_2);
    const b = pairedTTest(SLEEP_2, SLEEP_1);
    close(b.t, -a.t, 1e-12, 't');
    close(b.p, a.p, 1e-15, 'p');
    close(b.ci.lower, -a.ci.upper, 1e-12, 'ci');
  });

  test('undefined cases are errors, not numbers', () => {
    assert.throws(() => pairedTTest([1], [2]), /at least 2 pairs, got 1/);
    assert.throws(() => pairedTTest([0.9, 0.8], [0.85, 0.75]), /must not all be equal/);
    assert.throws(() => pairedTTest([1, 2], [1]), /same length/);
  });
});

/** Exact two-sided p-value by enumerating all 2^n sign assignments of the ranks 1..n. */
function bruteForceP(ranks: number[], v: number): number {
  const n = ranks.length;
  let le = 0;
  let ge = 0;
  for (let mask = 0; mask < 1 << n; mask++) {
    let s = 0;
    for (let i = 0; i < n; i++) if (mask & (1 << i)) s += ranks[i];
    if (s <= v) le++;
    if (s >= v) ge++;
  }
  return Math.min(1, (2 * Math.min(le, ge)) / 2 ** n);
}

describe('Wilcoxon signed-rank test', () => {
  test('Hollander & Wolfe depression data: matches R wilcox.test (exact)', () => {
    // R help page of wilcox.test: wilcox.test(x, y, paired = TRUE, alternative = "greater") gives
    // V = 40, p-value = 0.01953, so two-sided 0.0390625. By hand: the negative differences have ranks
    // 2 and 3, V = 45 - 5 = 40, and 10 of the 512 rank subsets sum to <= 5: 2 * 10 / 512.
    const x = [1.83, 0.5, 1.62, 2.48, 1.68, 1.88, 1.55, 3.06, 1.3];
    const y = [0.878, 0.647, 0.598, 2.05, 1.06, 1.29, 1.06, 3.14, 1.29];
    const r = wilcoxonSignedRank(x, y);
    assert.equal(r.method, 'exact');
    assert.equal(r.statistic, 40);
    close(r.p, 20 / 512, 1e-12, 'p');
    assert.equal(r.z, null);
  });

  test('exact p-values agree with a brute-force enumeration of all sign patterns', () => {
    const rng = new Rng(7);
    for (let n = 2; n <= 14; n++) {
      for (let rep = 0; rep < 4; rep++) {
        // Distinct magnitudes (no ties), random signs; a shuffled 1..n keeps the magnitudes distinct.
        const magnitudes = Array.from(rng.permutation(n), (k) => (k + 1) * 0.01 + rng.next() * 1e-3);
        const d = magnitudes.map((m) => (rng.next() < 0.5 ? -m : m));
        const r = wilcoxonSignedRank(
          d,
          d.map(() => 0),
        );
        const order = [...magnitudes].sort((a, b) => a - b);
        const ranks = magnitudes.map((m) => order.indexOf(m) + 1);
        const v = d.reduce((s, di, i) => (di > 0 ? s + ranks[i] : s), 0);
        assert.equal(r.method, 'exact');
        assert.equal(r.statistic, v);
        close(r.p, bruteForceP(ranks, v), 1e-12, `n=${n} rep=${rep} p`);
      }
    }
  });

  test('sleep data (a zero and ties): normal approximation as R prints it', () => {
    // R: wilcox.test(extra ~ group, data = sleep, paired = TRUE): "with continuity correction",
    // V = 0, p-value = 0.009091 (R warns it cannot compute an exact p-value with ties and zeros).
    // By hand: one zero dropped, n = 9, all negative, one tie of two (|-1.3|): V = 0,
    // var = 9*10*19/24 - (8 - 2)/48 = 71.125, z = (0 - 22.5 + 0.5) / sqrt(71.125) = -2.6086.
    const r = wilcoxonSignedRank(SLEEP_1, SLEEP_2);
    assert.equal(r.method, 'normal');
    assert.equal(r.zeros, 1);
    assert.equal(r.ranked, 9);
    assert.equal(r.ties, true, 'the two differences of -1.3 tie');
    assert.equal(r.statistic, 0);
    close(r.z!, -22 / Math.sqrt(71.125), 1e-12, 'z');
    close(r.p, 0.009091, 5e-7, 'p');
  });

  test('at n = 60 without ties the normal approximation is close to the exact distribution', () => {
    const n = 60;
    // Exact null distribution of V by dynamic programming over the ranks 1..n.
    const maxSum = (n * (n + 1)) / 2;
    let dist = new Float64Array(maxSum + 1);
    dist[0] = 1;
    for (let k = 1; k <= n; k++) {
      const next = new Float64Array(maxSum + 1);
      for (let s = 0; s <= maxSum; s++) {
        if (dist[s] === 0) continue;
        next[s] += dist[s] / 2;
        next[s + k] += dist[s] / 2;
      }
      dist = next;
    }
    const rng = new Rng(3);
    for (let rep = 0; rep < 5; rep++) {
      const d = Array.from({ length: n }, (_, i) => (i + 1 + rng.next() * 0.5) * (rng.next() < 0.4 ? -1 : 1));
      const r = wilcoxonSignedRank(
        d,
        d.map(() => 0),
      );
      assert.equal(r.method, 'normal');
      let le = 0;
      for (let s = 0; s <= r.statistic; s++) le += dist[s];
      let ge = 0;
      for (let s = r.statistic; s <= maxSum; s++) ge += dist[s];
      close(r.p, Math.min(1, 2 * Math.min(le, ge)), 0.003, `rep ${rep}`);
    }
  });

  test('ties that floating point hides are found (0.3 - 0.2 and 0.2 - 0.1 are the same difference)', () => {
    assert.notEqual(0.3 - 0.2, 0.2 - 0.1);
    const r = wilcoxonSignedRank([0.3, 0.2, 0.9, 0.75], [0.2, 0.1, 0.6, 0.6]);
    assert.equal(r.ties, true);
    assert.equal(r.method, 'normal');
    assert.equal(r.statistic, 10, 'all positive: V = 1.5 + 1.5 + 3 + 4');
  });

  test('undefined cases are errors', () => {
    assert.throws(() => wilcoxonSignedRank([1, 2], [1, 2]), /must not all be zero/);
    assert.throws(() => wilcoxonSignedRank([1], [0]), /at least 2 pairs/);
  });
});

describe('Holm correction', () => {
  test('hand-worked example', () => {
    // Sorted: 0.005*4 = 0.02; 0.01*3 = 0.03; 0.03*2 = 0.06; 0.04*1 = 0.04 -> running max 0.06.
    const adj = holm([0.01, 0.04, 0.03, 0.005]);
    const expected = [0.03, 0.06, 0.06, 0.02];
    adj.forEach((p, i) => close(p!, expected[i], 1e-15, `p[${i}]`));
  });

  test('nulls are outside the family; adjusted values are capped at 1', () => {
    const a = holm([null, 0.5, 0.2]);
    assert.equal(a[0], null);
    close(a[1]!, 0.5, 1e-15, 'p[1]');
    close(a[2]!, 0.4, 1e-15, 'p[2]');
    assert.deepEqual(holm([0.6, 0.7]), [1, 1]);
    assert.deepEqual(holm([]), []);
    assert.throws(() => holm([1.2]), /\[0, 1\], got 1.2/);
  });
});

describe('bootstrap', () => {
  test('seeded: the same seed repeats, another seed differs', () => {
    const sample = [0.81, 0.84, 0.8, 0.86, 0.83];
    const stat = (rs: number[][]): number => rs[0].reduce((a, v) => a + v, 0) / rs[0].length;
    const a = bootstrapInterval([sample], stat, { seed: 1 });
    const b = bootstrapInterval([sample], stat, { seed: 1 });
    const c = bootstrapInterval([sample], stat, { seed: 2 });
    assert.deepEqual(a, b);
    assert.notDeepEqual([a.lower, a.upper], [c.lower, c.upper]);
    assert.ok(a.lower >= 0.8 && a.upper <= 0.86 && a.lower < a.upper);
  });

  test('the interval of a mean is close to the t interval for a large normal sample', () => {
    const rng = new Rng(11);
    const xs = Array.from({ length: 400 }, () => 5 + 2 * rng.normal());
    const t = estimateMean(xs);
    const b = bootstrapInterval([xs], (rs) => rs[0].reduce((a, v) => a + v, 0) / rs[0].length, { resamples: 4000 });
    const width = t.ci!.upper - t.ci!.lower;
    close(b.lower, t.ci!.lower, 0.1 * width, 'lower');
    close(b.upper, t.ci!.upper, 0.1 * width, 'upper');
  });

  test('constant samples give a degenerate interval; bad options are rejected', () => {
    const b = bootstrapInterval(
      [
        [1, 1],
        [3, 3, 3],
      ],
      (rs) => Math.max(...rs.map((s) => s[0])) - Math.min(...rs.map((s) => s[0])),
    );
    assert.equal(b.lower, 2);
    assert.equal(b.upper, 2);
    assert.throws(() => bootstrapInterval([[]], () => 0), /samples\[0\] must not be empty/);
    assert.throws(() => bootstrapInterval([[1]], () => 0, { resamples: 10 }), /resamples must be an integer >= 100/);
  });
});
