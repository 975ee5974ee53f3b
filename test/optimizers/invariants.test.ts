/** Invariants between the presets on the report's MLP: GSAM(alpha 0) = SAM, rho 0 = base, ASAM eta 0 = |w| form. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import {
  ASAM,
  AdaptiveGSAM,
  GSAM,
  SAM,
  adaptiveAscent,
  euclideanAscent,
  sharpnessAwareStep,
  perturbedDescent,
  disposeStepResult,
} from '../../src/index.js';
import { assertClose, flatValues } from './helpers.js';
import { crossEntropy, moonsBatch, reportMlp, trainableVars } from './mlp.js';

/** Trains a fresh MLP (same seed, same data) for `steps` steps with `make(base)`, returns the weights. */
function train(make: (base: tf.Optimizer) => tf.Optimizer, base: () => tf.Optimizer, steps: number): number[] {
  const model = reportMlp(7);
  const { x, y } = moonsBatch(64, 0.2, 3);
  const opt = make(base());
  const vars = trainableVars(model);
  const f = crossEntropy(model, x, y);
  for (let s = 0; s < steps; s++) opt.minimize(f, false, vars);
  const w = flatValues(vars);
  opt.dispose();
  model.dispose();
  tf.dispose([x, y]);
  return w;
}

const momentum = (): tf.Optimizer => tf.train.momentum(0.05, 0.9);

test('GSAM with alpha 0 is SAM, and Adaptive-GSAM with alpha 0 (adaptive ascent) is ASAM', () => {
  const sam = train((base) => new SAM({ base, rho: 0.05, weightDecay: 1e-3 }), momentum, 8);
  const gsam0 = train((base) => new GSAM({ base, rho: 0.05, alpha: 0, weightDecay: 1e-3 }), momentum, 8);
  assert.deepEqual(gsam0, sam);
  const asam = train((base) => new ASAM({ base, rho: 0.5, eta: 0.01 }), momentum, 8);
  const agsam0 = train((base) => new AdaptiveGSAM({ base, rho: 0.5, alpha: 0, ascent: 'adaptive', eta: 0.01 }), momentum, 8);
  assert.deepEqual(agsam0, asam);
  const gsam = train((base) => new GSAM({ base, rho: 0.05, alpha: 0.5, weightDecay: 1e-3 }), momentum, 8);
  assert.notDeepEqual(gsam, sam, 'alpha > 0 changes the trajectory');
});

test('rho 0 is the base optimiser (SGD, momentum, Adam), for every preset', () => {
  const bases: [string, () => tf.Optimizer][] = [
    ['sgd', () => tf.train.sgd(0.1)],
    ['momentum', momentum],
    ['adam', () => tf.train.adam(0.01)],
  ];
  for (const [name, base] of bases) {
    const plain = train((b) => b, base, 6);
    for (const make of [
      (b: tf.Optimizer) => new SAM({ base: b, rho: 0 }),
      (b: tf.Optimizer) => new ASAM({ base: b, rho: 0 }),
      (b: tf.Optimizer) => new GSAM({ base: b, rho: 0, alpha: 0.3 }),
      (b: tf.Optimizer) => new AdaptiveGSAM({ base: b, rho: 0, alpha: 0.3 }),
    ]) {
      assert.deepEqual(train(make, base, 6), plain, `rho 0 on ${name}`);
    }
  }
});

test("ASAM with eta 0 and scope 'all' is the |w| form e = rho w^2 g / |(|w| g)|", () => {
  const model = reportMlp(11);
  const { x, y } = moonsBatch(32, 0.2, 5);
  const vars = trainableVars(model);
  const f = crossEntropy(model, x, y);
  const rho = 0.5;
  const { grads } = tf.variableGrads(f, vars);
  const g = vars.map((v) => grads[v.name]);
  const w = vars.map((v) => Array.from(v.dataSync()));
  const gv = g.map((t) => Array.from(t.dataSync()));
  let sq = 0;
  w.forEach((wi, i) => wi.forEach((wij, j) => (sq += (Math.abs(wij) * gv[i][j]) ** 2)));
  const expected = w.flatMap((wi, i) => wi.map((wij, j) => (rho * wij * wij * gv[i][j]) / Math.sqrt(sq)));
  const e = adaptiveAscent({ eta: 0, scope: 'all' }).perturbation({ vars, grads: g, rho, eps: 0 });
  assertClose(flatValues(e), expected, 1e-7, 1e-4, 'e');
  tf.dispose([...e, ...g, x, y]);
  model.dispose();
});

function bnModel(): tf.Sequential {
  return tf.sequential({
    layers: [
      tf.layers.dense({ units: 8, inputShape: [2], kernelInitializer: tf.initializers.glorotUniform({ seed: 1 }) }),
      tf.layers.batchNormalization(),
      tf.layers.dense({ units: 2, activation: 'softmax', kernelInitializer: tf.initializers.glorotUniform({ seed: 2 }) }),
    ],
  });
}

/** One step on a fresh BN model; returns its moving statistics afterwards. */
function bnStep(step: (f: () => tf.Scalar, vars: tf.Variable[]) => void): number[] {
  const model = bnModel();
  const { x, y } = moonsBatch(32, 0.2, 9);
  const f = (): tf.Scalar =>
    tf.tidy(() => tf.mean(tf.metrics.categoricalCrossentropy(y, model.apply(x, { training: true }) as tf.Tensor)) as tf.Scalar);
  step(f, trainableVars(model));
  const moving = flatValues(model.nonTrainableWeights.map((w) => w.read()));
  tf.dispose([x, y]);
  model.dispose();
  return moving;
}

test('BatchNormalization moving statistics are updated by the clean pass only', () => {
  const initial = bnStep(() => {});
  const cleanOnly = bnStep((f, vars) => tf.train.sgd(0.1).minimize(f, false, vars));
  assert.notDeepEqual(cleanOnly, initial, 'a training pass updates the statistics');
  for (const make of [
    () => new SAM({ base: tf.train.sgd(0.1), rho: 0.5 }),
    () => new GSAM({ base: tf.train.sgd(0.1), rho: 0.5, alpha: 0.2 }),
    () => new AdaptiveGSAM({ base: tf.train.sgd(0.1), rho: 0.5, alpha: 0.2 }),
  ]) {
    assert.deepEqual(
      bnStep((f, vars) => make().minimize(f, false, vars)),
      cleanOnly,
    );
  }
  // Without the restore the pass at w + e would move them a second time (the PyTorch SAM bug).
  const unguarded = bnStep((f, vars) => {
    disposeStepResult(
      sharpnessAwareStep(f, vars, { ascent: euclideanAscent(), descent: perturbedDescent(), rho: 0.5, restoreNonTrainable: false }),
    );
  });
  assert.notDeepEqual(unguarded, cleanOnly);
});

test('the pure step leaves the weights bit-identical', () => {
  const model = reportMlp(5);
  const { x, y } = moonsBatch(32, 0.2, 9);
  const vars = trainableVars(model);
  const before = flatValues(vars);
  const r = sharpnessAwareStep(crossEntropy(model, x, y), vars, { ascent: euclideanAscent(), descent: perturbedDescent(), rho: 0.3 });
  assert.deepEqual(flatValues(vars), before);
  assert.ok(r.perturbedLoss.dataSync()[0] > r.loss.dataSync()[0], 'the climb increases the loss');
  disposeStepResult(r);
  tf.dispose([x, y]);
  model.dispose();
});

test('a loss closure that throws at w + e leaves the weights restored and no tensor behind', () => {
  const model = reportMlp(6);
  const { x, y } = moonsBatch(16, 0.2, 3);
  const vars = trainableVars(model);
  const clean = crossEntropy(model, x, y);
  const opt = new GSAM({ base: tf.train.sgd(0.1), rho: 0.1, alpha: 0.2 });
  const before = flatValues(vars);
  const tensors = tf.memory().numTensors;
  let calls = 0;
  const f = (): tf.Scalar => {
    calls += 1;
    if (calls === 2) throw new Error('boom at w + e');
    return clean();
  };
  assert.throws(() => opt.minimize(f, false, vars), /boom at w \+ e/);
  assert.deepEqual(flatValues(vars), before);
  assert.equal(tf.memory().numTensors, tensors);
  opt.dispose();
  tf.dispose([x, y]);
  model.dispose();
});
