/**
 * Paired comparisons at the selected points on constructed records. The test accuracies are R's
 * `sleep` data mapped to `0.5 + extra / 10` (Adaptive-GSAM = group 1, GSAM = group 2, seed = patient),
 * so the paired t-test must reproduce R's `t.test(extra ~ group, data = sleep, paired = TRUE)`
 * (t = -4.0621, df = 9, p = 0.002833; the mean difference -1.58 and its CI [-2.4598858, -0.7001142]
 * scale by 1/10) and the Wilcoxon test R's `wilcox.test(..., paired = TRUE)` (V = 0, p = 0.009091).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { analyzeRecords, holm } from '../../src/analysis/index.js';
import { makeRecord, pointRecords } from './fixtures.js';

const SLEEP_1 = [0.7, -1.6, -0.2, -1.2, -0.1, 3.4, 3.7, 0.8, 0.0, 2.0];
const SLEEP_2 = [1.9, 0.8, 1.1, 0.1, -0.1, 4.4, 5.5, 1.6, 4.6, 3.4];
const acc = (extra: number[]): number[] => extra.map((e) => 0.5 + e / 10);

function records() {
  return [
    ...pointRecords(
      { method: 'agsam', rho: 0.05, alpha: 0.1 },
      SLEEP_1.map(() => 0.9),
      acc(SLEEP_1),
    ),
    // A second agsam point, worse on validation: never selected, never compared.
    ...pointRecords(
      { method: 'agsam', rho: 0.5, alpha: 0.1 },
      SLEEP_1.map(() => 0.8),
      SLEEP_1.map(() => 0.99),
    ),
    ...pointRecords(
      { method: 'gsam', rho: 0.05, alpha: 0.1 },
      SLEEP_2.map(() => 0.9),
      acc(SLEEP_2),
    ),
    // SAM ran five seeds only: its comparisons pair over seeds 0..4.
    ...pointRecords({ method: 'sam', rho: 0.05 }, [0.9, 0.9, 0.9, 0.9, 0.9], [0.55, 0.5, 0.52, 0.56, 0.51]),
  ];
}

const close = (a: number, b: number, tol: number, what: string): void =>
  assert.ok(Math.abs(a - b) <= tol, `${what}: expected ${b} ± ${tol}, got ${a}`);

describe('paired comparisons', () => {
  test('named pair agsam:gsam reproduces R on the sleep data', () => {
    const a = analyzeRecords(records(), { pairs: [['agsam', 'gsam']] });
    const c = a.groups[0].comparisons;
    assert.equal(c.pairs, 'named');
    assert.equal(c.metric, 'testAccuracy');
    assert.equal(c.comparisons.length, 1);
    const x = c.comparisons[0];
    assert.deepEqual([x.a, x.b, x.n], ['agsam', 'gsam', 10]);
    assert.deepEqual(x.seeds, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    assert.ok(x.pointA!.includes('-agsam-') && x.pointA === a.groups[0].selection.find((s) => s.method === 'agsam')!.point!.id);
    close(x.tTest!.t, -4.0621, 5e-5, 't');
    assert.equal(x.tTest!.df, 9);
    close(x.tTest!.p, 0.002833, 5e-7, 'p');
    close(x.tTest!.meanDifference, -0.158, 1e-12, 'mean difference');
    close(x.tTest!.ci.lower, -0.24598858, 1e-7, 'ci lower');
    close(x.tTest!.ci.upper, -0.07001142, 1e-7, 'ci upper');
    assert.equal(x.wilcoxon!.statistic, 0);
    assert.equal(x.wilcoxon!.method, 'normal');
    close(x.wilcoxon!.p, 0.009091, 5e-7, 'Wilcoxon p');
    // A family of one: Holm leaves the p-value as it is.
    assert.equal(x.tTestHolm, x.tTest!.p);
    assert.equal(x.wilcoxonHolm, x.wilcoxon!.p);
    close(x.meanA!, 0.575, 1e-12, 'mean a');
  });

  test('all pairs by default, later method minus earlier, Holm over the three', () => {
    const a = analyzeRecords(records());
    const cs = a.groups[0].comparisons.comparisons;
    assert.deepEqual(
      cs.map((c) => `${c.a}-${c.b}`),
      ['gsam-sam', 'agsam-sam', 'agsam-gsam'],
    );
    assert.deepEqual(
      cs.map((c) => c.n),
      [5, 5, 10],
    );
    assert.deepEqual(cs[0].seeds, [0, 1, 2, 3, 4], 'only the seeds both points completed');
    const adjusted = holm(cs.map((c) => c.tTest!.p));
    cs.forEach((c, i) => assert.equal(c.tTestHolm, adjusted[i]));
    // Holm multiplies the smallest p-value by 3.
    const smallest = Math.min(...cs.map((c) => c.tTest!.p));
    const i = cs.findIndex((c) => c.tTest!.p === smallest);
    close(cs[i].tTestHolm!, Math.min(1, 3 * smallest), 1e-15, 'smallest adjusted');
  });

  test('a named pair with an absent method is rejected; repeated pairs too', () => {
    assert.throws(
      () => analyzeRecords(records(), { pairs: [['agsam', 'asam']] }),
      /pairs\[0\] must name methods the records have \(agsam, gsam, sam\), got asam/,
    );
    assert.throws(
      () =>
        analyzeRecords(records(), {
          pairs: [
            ['agsam', 'gsam'],
            ['gsam', 'agsam'],
          ],
        }),
      /must not repeat a pair/,
    );
    assert.throws(() => analyzeRecords(records(), { pairs: [['gsam', 'gsam']] }), /two different methods/);
  });

  test('too few common seeds, or identical results: no test, a note instead', () => {
    const few = [
      ...pointRecords({ method: 'sam', rho: 0.05 }, [0.9, 0.9], [0.8, 0.82], [0, 1]),
      ...pointRecords({ method: 'gsam', rho: 0.05, alpha: 0.1 }, [0.9, 0.9], [0.81, 0.83], [1, 2]),
    ];
    const [c] = analyzeRecords(few).groups[0].comparisons.comparisons;
    assert.equal(c.n, 1);
    assert.deepEqual(c.seeds, [1]);
    assert.equal(c.tTest, null);
    assert.equal(c.wilcoxon, null);
    assert.equal(c.tTestHolm, null);
    assert.match(c.notes.join(' '), /1 common seed with testAccuracy: at least 2 pairs are needed/);

    const same = [
      ...pointRecords({ method: 'sam', rho: 0.05 }, [0.9, 0.9, 0.9], [0.8, 0.82, 0.85]),
      ...pointRecords({ method: 'gsam', rho: 0.05, alpha: 0.1 }, [0.9, 0.9, 0.9], [0.8, 0.82, 0.85]),
    ];
    const [d] = analyzeRecords(same).groups[0].comparisons.comparisons;
    assert.equal(d.tTest, null);
    assert.equal(d.wilcoxon, null);
    assert.match(d.notes.join(' '), /t-test not run: .*must not all be equal/);
    assert.match(d.notes.join(' '), /Wilcoxon test not run: .*must not all be zero/);
  });

  test('a method whose every point diverged has no selection and its comparison says so', () => {
    const recs = [
      ...pointRecords({ method: 'sam', rho: 0.05 }, [0.9, 0.9, 0.9], [0.8, 0.82, 0.85]),
      makeRecord({ method: 'gsam', rho: 0.05, alpha: 0.1, seed: 0, val: 0.5, test: 0.5, status: 'diverged' }),
    ];
    const g = analyzeRecords(recs).groups[0];
    assert.equal(g.selection[1].point, null);
    assert.match(g.selection[1].reason!, /no complete run of gsam records validationAccuracy/);
    assert.match(g.comparisons.comparisons[0].notes.join(' '), /gsam has no selected point/);
  });

  test('points on different data are flagged: equal seeds are not real pairs there', () => {
    const recs = [
      ...pointRecords({ method: 'sam', rho: 0.05 }, [0.9, 0.9, 0.9], [0.8, 0.82, 0.85]),
      ...pointRecords(
        { method: 'gsam', rho: 0.05, alpha: 0.1, dataset: { name: 'moons', n: 500, validationFraction: 0.1 } },
        [0.9, 0.9, 0.9],
        [0.81, 0.8, 0.86],
      ),
    ];
    const [c] = analyzeRecords(recs).groups[0].comparisons.comparisons;
    assert.match(c.notes.join(' '), /differ in data or model settings/);
  });
});
