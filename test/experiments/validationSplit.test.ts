import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadRunData, runSeeds } from '../../src/experiments/runData.js';
import { runSpec } from '../../src/experiments/runner.js';
import { tempResults, tinySpec } from './helpers.js';

const rows = (x: Float32Array, width: number): Set<string> =>
  new Set(Array.from({ length: x.length / width }, (_, i) => Array.from(x.subarray(i * width, (i + 1) * width)).join(',')));

test('a validation split comes out of the training part, seeded, and leaves the test set as it was', () => {
  const plain = tinySpec({ dataset: { name: 'moons', n: 500, noise: 0.2 } });
  const withVal = tinySpec({ dataset: { name: 'moons', n: 500, noise: 0.2, validationFraction: 0.1 } });
  const a = loadRunData(plain, runSeeds(plain.seed));
  const b = loadRunData(withVal, runSeeds(withVal.seed));
  assert.equal(a.validation, null);
  assert.ok(b.validation !== null);
  // 500 points, 20 % test (100), then ceil(10 % of the 400 training points) = 40 for validation.
  assert.deepEqual([b.train.size, b.validation.size, b.test.size], [360, 40, 100]);
  assert.deepEqual(Array.from(b.test.x), Array.from(a.test.x));
  // Train and validation partition the plain run's training part: no example lost or shared.
  const trainRows = rows(a.train.x, 2);
  const parts = [...rows(b.train.x, 2), ...rows(b.validation.x, 2)];
  assert.equal(parts.length, 400);
  assert.deepEqual(new Set(parts), trainRows);
  // Seeded: the same spec gives the same split; another seed another one.
  const again = loadRunData(withVal, runSeeds(withVal.seed));
  assert.deepEqual(Array.from(again.validation!.x), Array.from(b.validation.x));
  const other = loadRunData({ ...withVal, seed: 1 }, runSeeds(1));
  assert.notDeepEqual(Array.from(other.validation!.x), Array.from(b.validation.x));
});

test('a run with a validation split records validation loss and accuracy every epoch; a plain run has none', async () => {
  const dir = tempResults();
  const withVal = await runSpec(tinySpec({ dataset: { name: 'moons', n: 300, noise: 0.2, validationFraction: 0.2 } }), {
    resultsDir: dir,
    backend: 'cpu',
    saveModel: false,
  });
  assert.equal(withVal.epochs.length, 2);
  for (const e of withVal.epochs) {
    assert.ok(e.validationAccuracy! >= 0 && e.validationAccuracy! <= 1);
    assert.ok(Number.isFinite(e.validationLoss) && e.validationLoss! > 0);
  }
  assert.equal(withVal.final?.validationAccuracy, withVal.epochs[1].validationAccuracy);
  const plain = await runSpec(tinySpec({ dataset: { name: 'moons', n: 300, noise: 0.2 } }), {
    resultsDir: dir,
    backend: 'cpu',
    saveModel: false,
  });
  assert.ok(plain.epochs.every((e) => !('validationAccuracy' in e)));
  assert.ok(!('validationAccuracy' in plain.final!));
});
