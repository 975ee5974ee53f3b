/**
 * Points and model selection on constructed records: a point's id ignores seed, name and key order;
 * selection follows the validation metric even where the test metric would choose another point,
 * reports the chosen point's test accuracy, refuses test metrics, and leaves out diverged points.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { analyzeRecords, collectPoints, pointId, selectPoints } from '../../src/analysis/index.js';
import { METHOD_ORDER } from '../../src/experiments/summary.js';
import { makeRecord, pointRecords } from './fixtures.js';

/** GSAM at three rhos, three seeds each. Validation is best at rho 0.05; TEST is best at rho 0.2. */
function gsamSweep() {
  return [
    ...pointRecords({ method: 'gsam', rho: 0.02, alpha: 0.1 }, [0.85, 0.86, 0.87], [0.84, 0.85, 0.86]),
    ...pointRecords({ method: 'gsam', rho: 0.05, alpha: 0.1 }, [0.9, 0.91, 0.92], [0.86, 0.87, 0.88]),
    ...pointRecords({ method: 'gsam', rho: 0.2, alpha: 0.1 }, [0.88, 0.89, 0.9], [0.93, 0.94, 0.95]),
  ];
}

describe('points', () => {
  test('a point id ignores seed, name and key order, and changes with any other field', () => {
    const a = makeRecord({ method: 'gsam', rho: 0.05, alpha: 0.1, seed: 0, val: 0.9, test: 0.9 }).spec;
    const reordered = JSON.parse(
      JSON.stringify({
        seed: 7,
        name: 'x',
        epochs: a.epochs,
        base: a.base,
        optimizer: { alpha: 0.1, rho: 0.05, name: 'gsam' },
        model: a.model,
        dataset: a.dataset,
        batchSize: a.batchSize,
      }),
    );
    assert.equal(pointId(reordered), pointId(a));
    assert.notEqual(pointId({ ...a, optimizer: { ...a.optimizer, rho: 0.051 } }), pointId(a));
    assert.notEqual(pointId({ ...a, epochs: a.epochs + 1 }), pointId(a));
  });

  test('points group the seeds; varied paths are the settings that differ', () => {
    const [gsam] = collectPoints(gsamSweep(), METHOD_ORDER);
    assert.equal(gsam.method, 'gsam');
    assert.deepEqual(gsam.variedPaths, ['optimizer.rho']);
    assert.deepEqual(
      gsam.points.map((p) => p.params['optimizer.rho']),
      [0.02, 0.05, 0.2],
    );
    assert.deepEqual(
      gsam.points.map((p) => p.label),
      ['rho=0.02', 'rho=0.05', 'rho=0.2'],
    );
    const p = gsam.points[1];
    assert.deepEqual(p.completeSeeds, [0, 1, 2]);
    assert.ok(Math.abs(p.metrics.validationAccuracy.mean! - 0.91) < 1e-12);
    assert.ok(Math.abs(p.metrics.testAccuracy.mean! - 0.87) < 1e-12);
  });

  test('the same (point, seed) twice is an error', () => {
    const r = makeRecord({ method: 'sam', rho: 0.05, seed: 0, val: 0.9, test: 0.9 });
    assert.throws(() => collectPoints([r, { ...r, runId: 'copy' }], METHOD_ORDER), /each \(point, seed\) once/);
  });
});

describe('selection', () => {
  test('chooses on validation, never on test: the test-best point is not chosen', () => {
    const methods = collectPoints(gsamSweep(), METHOD_ORDER);
    const [s] = selectPoints(methods);
    assert.equal(s.selectedBy, 'validationAccuracy');
    assert.equal(s.point!.params['optimizer.rho'], 0.05, 'validation-best point');
    // The test-best point (rho 0.2, test mean 0.94) loses on validation (0.89 < 0.91).
    assert.ok(Math.abs(s.selectionMetric!.mean! - 0.91) < 1e-12);
    assert.ok(Math.abs(s.testAccuracy!.mean! - 0.87) < 1e-12, 'reports the chosen point’s own test accuracy');
    assert.equal(s.candidates, 3);
    // The interval is the Student t interval of [0.86, 0.87, 0.88]: 0.87 ± 4.302653 * 0.01 / sqrt(3).
    const half = (4.302653 * 0.01) / Math.sqrt(3);
    assert.ok(Math.abs(s.testAccuracy!.ci!.lower - (0.87 - half)) < 1e-6);
  });

  test('a loss as the selection metric is minimised', () => {
    const [s] = selectPoints(collectPoints(gsamSweep(), METHOD_ORDER), { selectBy: 'validationLoss' });
    assert.equal(s.point!.params['optimizer.rho'], 0.05, 'lowest validation loss = 1 - highest validation accuracy');
    const [t] = selectPoints(collectPoints(gsamSweep(), METHOD_ORDER), { selectBy: 'trainLoss' });
    assert.equal(t.selectedBy, 'trainLoss');
  });

  test('selecting by a test metric is rejected', () => {
    const methods = collectPoints(gsamSweep(), METHOD_ORDER);
    for (const metric of ['testAccuracy', 'testLoss'] as const) {
      assert.throws(
        () => selectPoints(methods, { selectBy: metric }),
        (e: unknown) => e instanceof RangeError && /never looks at the test set/.test(e.message),
      );
      assert.throws(() => analyzeRecords(gsamSweep(), { selectBy: metric }), RangeError);
    }
    assert.throws(
      () => selectPoints(methods, { selectBy: 'accuracy' as never }),
      /selectBy must be one of validationAccuracy, validationLoss, trainAccuracy, trainLoss/,
    );
  });

  test('records without a validation split: a clear error unless a training metric is named', () => {
    const records = [
      ...pointRecords({ method: 'sam', rho: 0.05 }, [null, null], [0.9, 0.91]),
      ...pointRecords({ method: 'sam', rho: 0.1 }, [null, null], [0.92, 0.93]),
    ];
    assert.throws(() => analyzeRecords(records), /moons \(MLP\): the runs have no validation split/);
    assert.throws(() => analyzeRecords(records, { selectBy: 'validationLoss' }), /no validation split/);
    const a = analyzeRecords(records, { selectBy: 'trainAccuracy' });
    assert.equal(a.groups[0].selection[0].selectedBy, 'trainAccuracy');
    assert.ok(a.groups[0].convergence.reason!.includes('no validation split'));
  });

  test('a point with a diverged run is not selected unless allowed', () => {
    const records = [
      ...gsamSweep().filter((r) => r.spec.optimizer.rho !== 0.05),
      // rho 0.05 has the best validation mean over its complete seeds, but seed 2 diverged.
      ...pointRecords({ method: 'gsam', rho: 0.05, alpha: 0.1 }, [0.95, 0.96], [0.9, 0.9]),
      makeRecord({ method: 'gsam', rho: 0.05, alpha: 0.1, seed: 2, val: 0.5, test: 0.5, status: 'diverged' }),
    ];
    const methods = collectPoints(records, METHOD_ORDER);
    const [s] = selectPoints(methods);
    assert.equal(s.point!.params['optimizer.rho'], 0.2);
    assert.equal(s.excludedDiverged, 1);
    assert.equal(s.candidates, 2);
    const [t] = selectPoints(methods, { allowDiverged: true });
    assert.equal(t.point!.params['optimizer.rho'], 0.05);
    assert.deepEqual(t.point!.completeSeeds, [0, 1], 'the mean is over the complete seeds only');
    const diverged = methods[0].points.find((p) => p.params['optimizer.rho'] === 0.05)!;
    assert.equal(diverged.diverged, 1);
    assert.deepEqual(diverged.divergedSeeds, [2]);
    assert.equal(diverged.metrics.validationAccuracy.n, 2, 'a diverged run enters no mean');
  });

  test('failed and unfinished runs are counted, not averaged', () => {
    const records = [
      ...pointRecords({ method: 'sam', rho: 0.05 }, [0.9, 0.92], [0.9, 0.9]),
      makeRecord({ method: 'sam', rho: 0.05, seed: 2, val: 0.1, test: 0.1, status: 'running', error: 'crash' }),
      makeRecord({ method: 'sam', rho: 0.05, seed: 3, val: 0.1, test: 0.1, status: 'running' }),
    ];
    const a = analyzeRecords(records);
    const p = a.groups[0].methods[0].points[0];
    assert.deepEqual([p.runs, p.complete, p.failed, p.unfinished], [4, 2, 1, 1]);
    assert.ok(Math.abs(p.metrics.validationAccuracy.mean! - 0.91) < 1e-12);
    assert.deepEqual(a.groups[0].runs, { total: 4, complete: 2, diverged: 0, failed: 1, unfinished: 1 });
  });

  test('every method is selected on its own; methods come in display order', () => {
    const records = [
      ...pointRecords({ method: 'agsam', rho: 0.05, alpha: 0.1 }, [0.93, 0.94], [0.9, 0.91]),
      ...pointRecords({ method: 'agsam', rho: 0.1, alpha: 0.1 }, [0.9, 0.9], [0.95, 0.95]),
      ...gsamSweep(),
    ];
    const a = analyzeRecords(records);
    assert.deepEqual(
      a.groups[0].selection.map((s) => s.method),
      ['gsam', 'agsam'],
    );
    assert.equal(a.groups[0].selection[1].point!.params['optimizer.rho'], 0.05);
  });
});
