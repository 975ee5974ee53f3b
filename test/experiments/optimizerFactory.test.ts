import * as tf from '@tensorflow/tfjs';
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import { SAM, GSAM, AdaptiveGSAM, ASAM, elementwiseAscent, euclideanAscent, type AscentRule } from '../../src/optimizers/index.js';
import { toTensors } from '../../src/data/index.js';
import { crossEntropy } from '../../src/experiments/evaluate.js';
import { createRunModel, loadRunData, runSeeds } from '../../src/experiments/runData.js';
import { buildOptimizer, learningRateAt, minLearningRate, OPTIMIZER_DEFAULTS } from '../../src/experiments/optimizerFactory.js';
import type { BaseOptimizerSpec, RunSpec } from '../../src/experiments/schema.js';
import { tinySpec } from './helpers.js';

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
  assert.deepEqual(
    [49, 50, 74, 75, 99].map((s) => learningRateAt(base('step'), s, 100)),
    [0.2, 0.2 * 0.1, 0.2 * 0.1, 0.2 * 0.01, 0.2 * 0.01],
  );
  assert.deepEqual(
    ['constant', 'cosine', 'step'].map((s) => minLearningRate(base(s as BaseOptimizerSpec['schedule']))),
    [0.2, 0, 0.002],
  );
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
    {
      optimizer: { name: 'gsam', rho: 0.1, rhoMin: 0.02, rhoSchedule: 'proportional' },
      base: { name: 'sgd', learningRate: 0.4, schedule: 'cosine' },
    },
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

test("Adaptive-GSAM's default rho gives a climb of SAM's size on the moons MLP (at rho 0.05 it is ~6x smaller)", () => {
  const start = tf.memory().numTensors;
  const spec: RunSpec = tinySpec({ optimizer: { name: 'agsam' }, epochs: 1, batchSize: 64 });
  const seeds = runSeeds(spec.seed);
  const { train } = loadRunData(spec, seeds);
  const model = createRunModel(spec, train, seeds);
  const vars = model.trainableWeights.map((w) => w.read() as tf.Variable);
  const { x, y } = toTensors(
    train,
    Int32Array.from({ length: 64 }, (_, i) => i),
  );
  const { value, grads } = tf.variableGrads(() => crossEntropy(model.apply(x, { training: true }) as tf.Tensor, y), vars);
  const g = vars.map((v) => grads[v.name]);
  const climbNorm = (rule: AscentRule, rho: number): number =>
    tf.tidy(() => {
      const e = rule.perturbation({ vars, grads: g, rho, eps: 1e-12 });
      return Math.sqrt(e.reduce((s, t) => s + tf.sum(tf.square(t)).dataSync()[0], 0));
    });
  const sam = climbNorm(euclideanAscent(), OPTIMIZER_DEFAULTS.rho.sam);
  const agsam = climbNorm(elementwiseAscent({ gamma: OPTIMIZER_DEFAULTS.gamma }), OPTIMIZER_DEFAULTS.rho.agsam);
  const agsamAtSamRho = climbNorm(elementwiseAscent({ gamma: OPTIMIZER_DEFAULTS.gamma }), OPTIMIZER_DEFAULTS.rho.sam);
  assert.ok(Math.abs(sam - OPTIMIZER_DEFAULTS.rho.sam) < 1e-6, `SAM's climb has norm rho, got ${sam}`);
  assert.equal(OPTIMIZER_DEFAULTS.rho.agsam, OPTIMIZER_DEFAULTS.rho.asam);
  // ‖(|w| + gamma) ⊙ g‖ / ‖g‖ is about the weights' typical size (well under 1 at this init).
  assert.ok(agsam / sam > 0.3 && agsam / sam < 3, `Adaptive-GSAM's climb ${agsam} vs SAM's ${sam}`);
  assert.ok(agsamAtSamRho / sam < 0.3, `at rho 0.05 the elementwise climb is ${agsamAtSamRho}, SAM's ${sam}`);
  tf.dispose([x, y, value, ...g]);
  model.dispose();
  assert.equal(tf.memory().numTensors, start);
});
