import assert from 'node:assert/strict';
import { test } from 'node:test';
import { analyzeRecords } from '../../src/analysis/index.js';
import { formatVerdictTable, judgeClaims, type ExperimentAnalyses } from '../../src/analysis/verdict.js';
import { holm, pairedTTest, wilcoxonSignedRank } from '../../src/analysis/stats.js';
import { makeRecord } from './fixtures.js';

const SEEDS = [0, 1, 2, 3, 4, 5, 6, 7];

/** Confirmation records: one point per method over SEEDS, test accuracies and validation curves as given. */
function confirmation(agsamTest: number[], gsamTest: number[], agsamCurve: number[][], gsamCurve: number[][]) {
  return analyzeRecords([
    ...SEEDS.map((seed, i) =>
      makeRecord({ method: 'agsam', seed, rho: 0.5, alpha: 0.1, val: agsamCurve[i].at(-1)!, test: agsamTest[i], curve: agsamCurve[i] }),
    ),
    ...SEEDS.map((seed, i) =>
      makeRecord({ method: 'gsam', seed, rho: 0.05, alpha: 0.1, val: gsamCurve[i].at(-1)!, test: gsamTest[i], curve: gsamCurve[i] }),
    ),
  ]).groups[0];
}

/** Selection records: aligned 4 x 2 grids (agsam's rho 10x gsam's), one seed, the validation means given. */
function selection(agsamVal: number[], gsamVal: number[]) {
  const grid = [0.01, 0.05, 0.2, 0.5].flatMap((rho) => [0.1, 0.3].map((alpha) => ({ rho, alpha })));
  return analyzeRecords([
    ...grid.map((g, i) => makeRecord({ method: 'agsam', seed: 0, rho: g.rho * 10, alpha: g.alpha, val: agsamVal[i], test: 0.9 })),
    ...grid.map((g, i) => makeRecord({ method: 'gsam', seed: 0, rho: g.rho, alpha: g.alpha, val: gsamVal[i], test: 0.9 })),
  ]).groups[0];
}

test('a clear gain on every claim is supported, with the numbers of the underlying tests and Holm over all claims', () => {
  const agsamTest = [0.91, 0.92, 0.905, 0.915, 0.93, 0.91, 0.925, 0.92];
  const gsamTest = [0.88, 0.885, 0.87, 0.89, 0.895, 0.875, 0.88, 0.89];
  // Adaptive-GSAM reaches 0.9 validation accuracy at epoch 2, GSAM at epoch 4 (every seed).
  const fast = SEEDS.map(() => [0.8, 0.9, 0.9, 0.9]);
  const slow = SEEDS.map(() => [0.6, 0.7, 0.85, 0.9]);
  // Aligned grids of 8 points; the best points sit at different positions, so no pair has equal regrets.
  const agsamVal = [0.895, 0.9, 0.897, 0.893, 0.89, 0.898, 0.891, 0.894];
  const gsamVal = [0.9, 0.8, 0.85, 0.7, 0.75, 0.6, 0.82, 0.78];
  const e: ExperimentAnalyses = {
    experiment: 'moons',
    selection: selection(agsamVal, gsamVal),
    confirmation: confirmation(agsamTest, gsamTest, fast, slow),
    reportAccuracy: { a: 0.89, b: 0.857 },
  };
  const rows = judgeClaims([e]);
  assert.deepEqual(
    rows.map((r) => r.id),
    ['moons-accuracy', 'moons-convergence', 'moons-sensitivity'],
  );
  assert.deepEqual(
    rows.map((r) => r.verdict),
    ['supported', 'supported', 'supported'],
  );

  // Accuracy: exactly the paired t-test of the per-seed test accuracies.
  const t = pairedTTest(agsamTest, gsamTest);
  assert.ok(Math.abs(rows[0].p! - t.p) < 1e-15);
  assert.ok(Math.abs(rows[0].effect!.mean - t.meanDifference * 100) < 1e-9);
  assert.match(rows[0].notes.join(), /report's gap of 3\.3 points is (inside|outside) our 95 % CI/);
  // Convergence: 2 epochs against 4 on every seed -> effect -2, Wilcoxon on the epochs.
  assert.equal(rows[1].effect!.mean, -2);
  assert.ok(
    Math.abs(
      rows[1].p! -
        wilcoxonSignedRank(
          SEEDS.map(() => 2),
          SEEDS.map(() => 4),
        ).p,
    ) < 1e-15,
  );
  // Sensitivity: regrets from each method's best (0.9), points paired in (rho, alpha) order.
  assert.equal(rows[2].test, 'Wilcoxon signed-rank (exact) on paired regrets, n = 8 grid points');
  const regretA = agsamVal.map((v) => (0.9 - v) * 100);
  const regretG = gsamVal.map((v) => (0.9 - v) * 100);
  assert.ok(Math.abs(rows[2].p! - wilcoxonSignedRank(regretA, regretG).p) < 1e-12);
  assert.ok(rows[2].effect!.mean < 0);
  assert.match(rows[2].notes.join(), /rho of agsam = 10 x rho of gsam, same alpha/);
  // Holm over the three claims' p-values.
  assert.deepEqual(
    rows.map((r) => r.pHolm),
    holm(rows.map((r) => r.p)),
  );
  const table = formatVerdictTable(rows);
  assert.equal(table.split('\n').filter((l) => l.startsWith('| ')).length, 5); // header, rule, 3 claims
  assert.match(table, /\*\*supported\*\*/);
});

test('a significant effect the other way is contradicted; no effect is not supported', () => {
  const better = [0.91, 0.92, 0.905, 0.915, 0.93, 0.91, 0.925, 0.92];
  const worse = better.map((v, i) => v - 0.03 - 0.002 * i);
  const curve = SEEDS.map(() => [0.8, 0.9]);
  const contradicted = judgeClaims([{ experiment: 'mnist', selection: null, confirmation: confirmation(worse, better, curve, curve) }]);
  assert.equal(contradicted[0].verdict, 'contradicted');
  assert.ok(contradicted[0].effect!.mean < 0);
  // Identical curves: every epoch difference is zero, so the convergence test cannot run: not supported.
  assert.equal(contradicted[1].verdict, 'not supported');
  assert.equal(contradicted[1].p, null);
  assert.equal(contradicted.length, 2);

  const noise = [0.001, -0.002, 0.0015, -0.001, 0.0005, -0.0015, 0.002, -0.0005];
  const flat = judgeClaims([
    {
      experiment: 'moons',
      selection: null,
      confirmation: confirmation(
        better.map((v, i) => v + noise[i]),
        better,
        curve,
        curve,
      ),
    },
  ]);
  assert.equal(flat[0].verdict, 'not supported');
  assert.ok(flat[0].p! > 0.05);
});

test('runs that never reach the target count as epochs + 1, and misaligned grids are said to be', () => {
  const acc = SEEDS.map(() => 0.9);
  const reaches = SEEDS.map(() => [0.9, 0.9]);
  const never = SEEDS.map(() => [0.5, 0.6]);
  const rows = judgeClaims([
    {
      experiment: 'moons',
      selection: null,
      confirmation: confirmation(
        acc.map((v, i) => v + i * 1e-3),
        acc,
        never,
        reaches,
      ),
    },
  ]);
  // agsam never reaches 0.891 (99 % of 0.9): 2 + 1 = 3 epochs against 1.
  assert.equal(rows[1].effect!.mean, 2);
  assert.match(rows[1].notes.join(), /never reached \(counted as epochs \+ 1\): agsam 8, gsam 0/);

  const sel = analyzeRecords([
    makeRecord({ method: 'agsam', seed: 0, rho: 0.5, val: 0.9, test: 0.9 }),
    makeRecord({ method: 'agsam', seed: 0, rho: 1, val: 0.8, test: 0.9 }),
    makeRecord({ method: 'gsam', seed: 0, rho: 0.05, val: 0.9, test: 0.9 }),
  ]).groups[0];
  const s = judgeClaims([
    {
      experiment: 'moons',
      selection: sel,
      confirmation: confirmation(
        acc,
        acc.map((v) => v - 0.01),
        reaches,
        reaches,
      ),
    },
  ]);
  assert.equal(s[2].verdict, 'not supported');
  assert.match(s[2].notes.join(), /needs two aligned grids of equal size \(got 2 and 1 points\)/);
  assert.throws(() => judgeClaims([], { alpha: 1 }), RangeError);
});
