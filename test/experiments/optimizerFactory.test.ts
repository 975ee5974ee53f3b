import * as tf from '@tensorflow/tfjs';
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import { SAM, GSAM, AdaptiveGSAM, ASAM } from '../../src/optimizers/index.js';
import { buildOptimizer, learningRateAt, minLearningRate, OPTIMIZER_DEFAULTS } from '../../src/experiments/optimizerFactory.js';
import { float32RunningPower, repairRestoredOptimizer } from '../../src/experiments/tfjsFixes.js';
import type { BaseOptimizerSpec } from '../../src/experiments/schema.js';

before(async () => {
  await tf.setBackend('cpu');
});

const lrOf = (o: tf.Optimizer): number => (o as unknown as { learningRate: number }).learningRate;

test('learning-rate schedules at hand-computed steps', () => {
  const base = (schedule: BaseOptimizerSpec['schedule']): BaseOptimizerSpec => ({ name: 'sgd', learningRate: 0.2, schedule });
  assert.equal(learningRateAt(base('constant'), 37, 100), 0.2);
  assert.equal(learningRateAt(base(undefined), 99, 100), 0.2);
  assert.equal(learningRateAt(base('cosine'), 0, 100), 0.2);
  assert.ok(Math.abs(learningRateAt(base('cosine'), 50, 100) - 0.1) < 1e-15);
  assert.ok(Math.abs(learningRateAt(base('cosine'), 25, 100) - 0.1 * (1 + Math.SQRT1_2)) < 1e-15);
  assert.ok(Math.abs(learningRateAt(base('cosine'), 100, 100)) < 1e-15);
  assert.deepEqual([49, 50, 74, 75, 99].map((s) => learningRateAt(base('step'), s, 100)), [0.2, 0.2 * 0.1, 0.2 * 0.1, 0.2 * 0.01, 0.2 * 0.01]);
  assert.deepEqual(['constant', 'cosine', 'step'].map((s) => minLearningRate(base(s as BaseOptimizerSpec['schedule']))), [0.2, 0, 0.002]);
  assert.throws(() => learningRateAt(base('constant'), 101, 100), /step must be an integer in \[0, 100\]/);
  assert.throws(() => learningRateAt(base('constant'), 0, 0), /totalSteps must be a positive integer/);
});

test('each name builds its class with the documented defaults; nothing leaks', () => {
  const start = tf.memory().numTensors;
  const cases = [
    ['sam', SAM, OPTIMIZER_DEFAULTS.rho.sam],
    ['asam', ASAM, OPTIMIZER_DEFAULTS.rho.asam],
    ['gsam', GSAM, OPTIMIZER_DEFAULTS.rho.gsam],
    ['agsam', AdaptiveGSAM, OPTIMIZER_DEFAULTS.rho.agsam],
  ] as const;
  for (const [name, cls, rho] of cases) {
    const b = buildOptimizer({ optimizer: { name }, base: { name: 'momentum', learningRate: 0.1 } }, 10);
    assert.ok(b.sharpnessAware instanceof cls, name);
    assert.equal(b.optimizer, b.sharpnessAware);
    assert.equal(b.sharpnessAware?.currentRho(), rho);
    assert.equal(b.perturbs, true);
    assert.equal(b.base.getClassName(), 'Momentum');
    b.dispose();
  }
  const plain = buildOptimizer({ optimizer: { name: 'sgd' }, base: { name: 'adam', learningRate: 0.1 } }, 10);
  assert.equal(plain.sharpnessAware, null);
  assert.equal(plain.optimizer, plain.base);
  assert.equal(plain.perturbs, false);
  plain.dispose();
  // Plain SGD with weight decay is SAM with rho 0 (one pass, base + coupled decay).
  const decayed = buildOptimizer({ optimizer: { name: 'sgd' }, base: { name: 'sgd', learningRate: 0.1, weightDecay: 1e-4 } }, 10);
  assert.ok(decayed.sharpnessAware instanceof SAM);
  assert.equal(decayed.sharpnessAware.currentRho(), 0);
  assert.equal(decayed.perturbs, false);
  decayed.dispose();
  assert.equal(tf.memory().numTensors, start);
});

test('the schedules drive the base learning rate and the proportional rho', () => {
  const b = buildOptimizer(
    { optimizer: { name: 'gsam', rho: 0.1, rhoMin: 0.02, rhoSchedule: 'proportional' }, base: { name: 'sgd', learningRate: 0.4, schedule: 'cosine' } },
    8,
  );
  b.setStep(0);
  assert.equal(lrOf(b.base), 0.4);
  assert.equal(b.sharpnessAware?.currentRho(), 0.1);
  b.setStep(4); // halfway through a cosine: lr 0.2, rho halfway from 0.02 to 0.1
  assert.ok(Math.abs(lrOf(b.base) - 0.2) < 1e-12);
  assert.ok(Math.abs((b.sharpnessAware?.currentRho() as number) - 0.06) < 1e-12);
  b.dispose();
});

test('Adam beta powers restored after setWeights match the uninterrupted run bit for bit', async () => {
  const start = tf.memory().numTensors;
  const v = tf.tidy(() => tf.variable(tf.tensor1d([0.5, -1.5])));
  const adam = tf.train.adam(0.01);
  for (let i = 0; i < 37; i++) adam.minimize(() => tf.sum(tf.square(v)) as tf.Scalar, false, [v]);
  const internals = adam as unknown as { accBeta1: tf.Variable; accBeta2: tf.Variable };
  const truth = [internals.accBeta1.dataSync()[0], internals.accBeta2.dataSync()[0]];
  assert.deepEqual(truth, [float32RunningPower(0.9, 37), float32RunningPower(0.999, 37)]);
  const saved = await adam.getWeights();
  const copy = tf.train.adam(0.01);
  await copy.setWeights(saved);
  repairRestoredOptimizer(copy);
  const c = copy as unknown as { accBeta1: tf.Variable; accBeta2: tf.Variable };
  assert.deepEqual([c.accBeta1.dataSync()[0], c.accBeta2.dataSync()[0]], truth);
  tf.dispose(saved.filter((w) => !(w.tensor instanceof tf.Variable)).map((w) => w.tensor));
  adam.dispose();
  copy.dispose();
  v.dispose();
  assert.equal(tf.memory().numTensors, start);
});
