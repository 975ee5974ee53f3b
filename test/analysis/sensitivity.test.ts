/**
 * Sensitivity figures on a constructed rho x alpha grid whose per-point means are written below;
 * the expected range, std and near-best share are worked out by hand in the comments.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { analyzeRecords, collectPoints, sensitivity } from '../../src/analysis/index.js';
import { METHOD_ORDER } from '../../src/experiments/summary.js';
import { makeRecord, pointRecords } from './fixtures.js';
import type { RunRecord } from '../../src/experiments/schema.js';

// Validation-accuracy means of Adaptive-GSAM's grid (rows alpha, columns rho):
//            rho 0.02  0.05   0.2
// alpha 0.1:    0.900  0.910  0.880
// alpha 0.3:    0.905  0.912  0.860
// Test-accuracy means: validation mean + 0.01, except at rho 0.2 where alpha 0.3 has the better TEST (0.95).
const GRID: Array<{ rho: number; alpha: number; val: number; test: number }> = [
  { rho: 0.02, alpha: 0.1, val: 0.9, test: 0.91 },
  { rho: 0.05, alpha: 0.1, val: 0.91, test: 0.92 },
  { rho: 0.2, alpha: 0.1, val: 0.88, test: 0.89 },
  { rho: 0.02, alpha: 0.3, val: 0.905, test: 0.915 },
  { rho: 0.05, alpha: 0.3, val: 0.912, test: 0.922 },
  { rho: 0.2, alpha: 0.3, val: 0.86, test: 0.95 },
];

/** Three seeds per point at mean - 0.002, mean, mean + 0.002. */
function gridRecords(divergedAt?: { rho: number; alpha: number }): RunRecord[] {
  return GRID.flatMap((g) => {
    const runs = pointRecords(
      { method: 'agsam', rho: g.rho, alpha: g.alpha },
      [g.val - 0.002, g.val, g.val + 0.002],
      [g.test - 0.002, g.test, g.test + 0.002],
    );
    if (divergedAt && divergedAt.rho === g.rho && divergedAt.alpha === g.alpha) {
      runs.push(makeRecord({ method: 'agsam', rho: g.rho, alpha: g.alpha, seed: 3, val: 0.5, test: 0.5, status: 'diverged' }));
    }
    return runs;
  });
}

const near = (a: number | null, b: number, tol = 1e-9): boolean => a !== null && Math.abs(a - b) <= tol;

describe('sensitivity', () => {
  test('range, std and the share within 0.5 points of the best, worked by hand', () => {
    const [s] = sensitivity(collectPoints(gridRecords(), METHOD_ORDER), {
      metrics: ['validationAccuracy', 'testAccuracy'],
      selectBy: 'validationAccuracy',
    });
    assert.equal(s.method, 'agsam');
    assert.deepEqual(s.variedPaths, ['optimizer.rho', 'optimizer.alpha']);
    assert.equal(s.curveRule, 'best-by-selection');
    const v = s.metrics[0].summary;
    assert.equal(v.points, 6);
    assert.equal(v.usable, 6);
    assert.ok(near(v.best, 0.912));
    // Range: 0.912 - 0.860 = 0.052.
    assert.ok(near(v.range, 0.052));
    // Std: mean 0.8945; squared deviations sum to 0.0020875; sqrt(0.0020875 / 5) = 0.0204328.
    assert.ok(near(v.std, Math.sqrt(0.0020875 / 5), 1e-9), `std ${v.std}`);
    // Within 0.005 of 0.912 (>= 0.907): 0.910 and 0.912 -> 2 of 6.
    assert.equal(v.nearBest, 2);
    assert.ok(near(v.share, 2 / 6));
    // The bootstrap range interval resamples seeds within points: it brackets values near the range.
    assert.ok(
      v.rangeCi !== null && v.rangeCi.lower <= 0.052 + 0.004 && v.rangeCi.upper >= 0.052 - 0.004 && v.rangeCi.lower <= v.rangeCi.upper,
    );
    // Test accuracy: best 0.95 (rho 0.2, alpha 0.3); within 0.005: only itself -> 1 of 6; range 0.95 - 0.89.
    const t = s.metrics[1].summary;
    assert.ok(near(t.best, 0.95));
    assert.equal(t.nearBest, 1);
    assert.ok(near(t.range, 0.06));
  });

  test('the tolerance is an option: within 3 points, 4 of 6 points are near the best', () => {
    const [s] = sensitivity(collectPoints(gridRecords(), METHOD_ORDER), {
      metrics: ['validationAccuracy'],
      selectBy: 'validationAccuracy',
      within: 0.03,
    });
    // >= 0.882: all but 0.880 and 0.860 -> 4 of 6.
    assert.equal(s.metrics[0].summary.nearBest, 4);
    assert.throws(
      () => sensitivity([], { metrics: ['validationAccuracy'], selectBy: 'validationAccuracy', within: -1 }),
      /within must be a finite number >= 0/,
    );
  });

  test('a point with a diverged run leaves the range and std and counts as not near the best', () => {
    const [s] = sensitivity(collectPoints(gridRecords({ rho: 0.05, alpha: 0.3 }), METHOD_ORDER), {
      metrics: ['validationAccuracy'],
      selectBy: 'validationAccuracy',
    });
    const v = s.metrics[0].summary;
    assert.equal(v.points, 6);
    assert.equal(v.usable, 5);
    assert.equal(v.divergedPoints, 1);
    // Best of the rest: 0.910; range 0.910 - 0.860; within 0.005 (>= 0.905): 0.910, 0.905 -> 2 of 6.
    assert.ok(near(v.best, 0.91));
    assert.ok(near(v.range, 0.05));
    assert.equal(v.nearBest, 2);
    assert.ok(near(v.share, 2 / 6));
  });

  test('the rho curve takes each rho’s best alpha by VALIDATION, for the test curve too', () => {
    const [s] = sensitivity(collectPoints(gridRecords(), METHOD_ORDER), {
      metrics: ['validationAccuracy', 'testAccuracy'],
      selectBy: 'validationAccuracy',
    });
    const val = s.metrics[0].rhoCurve!;
    assert.deepEqual(
      val.map((c) => c.rho),
      [0.02, 0.05, 0.2],
    );
    assert.deepEqual(
      val.map((c) => c.label),
      ['alpha=0.3', 'alpha=0.3', 'alpha=0.1'],
    );
    assert.ok(near(val[2].estimate!.mean, 0.88));
    const test_ = s.metrics[1].rhoCurve!;
    // At rho 0.2 the test-best alpha is 0.3 (0.95), but the curve shows the validation choice: alpha 0.1, test 0.89.
    assert.ok(near(test_[2].estimate!.mean, 0.89));
    assert.equal(test_[2].pointId, val[2].pointId);
    assert.ok(test_[0].estimate!.ci !== null, 'each rho has a CI over its seeds');
  });

  test('the rho x alpha grid holds every cell’s mean', () => {
    const [s] = sensitivity(collectPoints(gridRecords(), METHOD_ORDER), {
      metrics: ['validationAccuracy'],
      selectBy: 'validationAccuracy',
    });
    const grid = s.metrics[0].grid!;
    assert.deepEqual(grid.rhos, [0.02, 0.05, 0.2]);
    assert.deepEqual(grid.alphas, [0.1, 0.3]);
    assert.equal(grid.cells.length, 6);
    for (const g of GRID) {
      const c = grid.cells.find((x) => x.rho === g.rho && x.alpha === g.alpha)!;
      assert.ok(near(c.estimate.mean, g.val), `cell ${g.rho}, ${g.alpha}`);
    }
  });

  test('methods with one point, or without rho, have no curve; the analysis says so', () => {
    const records = [
      ...gridRecords(),
      ...pointRecords({ method: 'sgd' }, [0.8, 0.81], [0.8, 0.8]),
      ...pointRecords({ method: 'sgd', learningRate: 0.05 }, [0.82, 0.83], [0.8, 0.8]),
      ...pointRecords({ method: 'sam', rho: 0.05 }, [0.85, 0.86], [0.85, 0.86]),
    ];
    const a = analyzeRecords(records);
    const g = a.groups[0];
    assert.ok(g.isSweep);
    assert.deepEqual(
      g.sensitivity.map((s) => s.method),
      ['sgd', 'agsam'],
      'SAM has a single point: no sensitivity',
    );
    const sgd = g.sensitivity[0];
    assert.deepEqual(sgd.variedPaths, ['base.learningRate']);
    assert.equal(sgd.curveRule, null);
    assert.equal(sgd.metrics[0].rhoCurve, null);
    assert.equal(sgd.metrics[0].grid, null);
    assert.deepEqual(
      g.sensitivity[1].metrics.map((m) => m.metric),
      ['validationAccuracy', 'testAccuracy'],
    );
  });
});
