/** model.compile + model.fit with each optimiser: learns noisy two moons, reports the clean loss, leaks nothing. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { ASAM, AdaptiveGSAM, GSAM, SAM, SharpnessMetricsCallback, type SharpnessAwareOptimizer } from '../../src/index.js';
import { crossEntropy, moonsBatch, reportMlp, trainableVars } from './mlp.js';

const presets: [string, () => SharpnessAwareOptimizer][] = [
  ['SAM', () => new SAM({ base: tf.train.momentum(0.05, 0.9), rho: 0.05 })],
  ['ASAM', () => new ASAM({ base: tf.train.momentum(0.05, 0.9), rho: 0.5 })],
  ['GSAM', () => new GSAM({ base: tf.train.momentum(0.05, 0.9), rho: 0.05, alpha: 0.1 })],
  ['AdaptiveGSAM', () => new AdaptiveGSAM({ base: tf.train.momentum(0.05, 0.9), rho: 0.05, alpha: 0.1 })],
];

test('model.fit on the 2-32-32-32-2 net learns noisy two moons with each optimiser', async () => {
  const train = moonsBatch(1000, 0.2, 1);
  const testSet = moonsBatch(500, 0.2, 2);
  for (const [name, make] of presets) {
    const model = reportMlp(0);
    const optimizer = make();
    model.compile({ optimizer, loss: 'categoricalCrossentropy', metrics: ['accuracy'] });
    const history = await model.fit(train.x, train.y, {
      epochs: 15,
      batchSize: 32,
      shuffle: true,
      verbose: 0,
      callbacks: [new SharpnessMetricsCallback(optimizer)],
    });
    const [loss, acc] = model.evaluate(testSet.x, testSet.y) as tf.Scalar[];
    const accuracy = acc.dataSync()[0];
    assert.ok(accuracy > 0.85, `${name}: test accuracy ${accuracy} should be well above chance (0.5)`);
    assert.ok(loss.dataSync()[0] < 0.4, `${name}: test loss ${loss.dataSync()[0]}`);
    const gaps = history.history.surrogateGap as number[];
    assert.equal(gaps.length, 15, `${name}: the surrogate gap is in the epoch logs`);
    assert.ok((history.history.perturbedLoss as number[]).every(Number.isFinite));
    tf.dispose([loss, acc]);
    optimizer.dispose();
    model.dispose();
  }
  tf.dispose([train.x, train.y, testSet.x, testSet.y]);
});

test('model.fit reports the CLEAN loss at w, not the perturbed one', async () => {
  const { x, y } = moonsBatch(128, 0.3, 6);
  for (const [name, make] of presets) {
    const model = reportMlp(4);
    const optimizer = make();
    model.compile({ optimizer, loss: 'categoricalCrossentropy' });
    // One batch per epoch, so the epoch's loss is the loss at the weights before the step.
    const expected = (model.evaluate(x, y, { batchSize: 128 }) as tf.Scalar).dataSync()[0];
    const history = await model.fit(x, y, { epochs: 1, batchSize: 128, shuffle: false, verbose: 0 });
    const reported = history.history.loss[0] as number;
    assert.ok(Math.abs(reported - expected) < 1e-5, `${name}: fit reported ${reported}, clean loss ${expected}`);
    assert.ok(Math.abs(optimizer.lastLoss! - expected) < 1e-5, `${name}: lastLoss is the clean loss`);
    assert.ok(optimizer.lastPerturbedLoss! > expected, `${name}: L(w+e) = ${optimizer.lastPerturbedLoss} > L(w)`);
    optimizer.dispose();
    model.dispose();
  }
  tf.dispose([x, y]);
});

test('no tensor leaks over hundreds of steps through minimize and model.fit', async () => {
  const { x, y } = moonsBatch(64, 0.2, 8);
  for (const [name, make] of presets) {
    const model = reportMlp(2);
    const optimizer = make();
    const vars = trainableVars(model);
    const f = crossEntropy(model, x, y);
    optimizer.minimize(f, false, vars); // first step creates the base optimiser's slots
    const before = tf.memory().numTensors;
    for (let s = 0; s < 300; s++) {
      const cost = optimizer.minimize(f, true, vars);
      cost?.dispose();
    }
    assert.equal(tf.memory().numTensors, before, `${name}: minimize leaks`);

    model.compile({ optimizer, loss: 'categoricalCrossentropy', metrics: ['accuracy'] });
    await model.fit(x, y, { epochs: 1, batchSize: 16, verbose: 0 });
    const beforeFit = tf.memory().numTensors;
    await model.fit(x, y, { epochs: 25, batchSize: 16, verbose: 0, callbacks: [new SharpnessMetricsCallback(optimizer)] });
    assert.equal(tf.memory().numTensors, beforeFit, `${name}: model.fit leaks`);
    optimizer.dispose();
    model.dispose();
  }
  tf.dispose([x, y]);
});
