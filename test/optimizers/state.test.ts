/** Schedules, validation, serialisation and exact save/restore of the optimiser state. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import {
  ASAM,
  AdaptiveGSAM,
  GSAM,
  SAM,
  getLearningRate,
  proportionalRho,
  rhoAt,
  setLearningRate,
  type SharpnessAwareOptimizer,
} from '../../src/index.js';
import { flatValues, Quadratic } from './helpers.js';
import { crossEntropy, moonsBatch, reportMlp, trainableVars } from './mlp.js';

test('proportional rho follows GSAM rule and tracks the base learning rate', () => {
  const sched = proportionalRho({ rhoMax: 0.1, rhoMin: 0.02, lrMax: 0.5, lrMin: 0.1 });
  assert.equal(rhoAt(sched, { step: 0, learningRate: 0.5 }), 0.1);
  assert.ok(Math.abs(rhoAt(sched, { step: 0, learningRate: 0.1 }) - 0.02) < 1e-15);
  assert.ok(Math.abs(rhoAt(sched, { step: 0, learningRate: 0.3 }) - 0.06) < 1e-15);
  assert.equal(rhoAt(proportionalRho({ rhoMax: 0.07, lrMax: 0.2, lrMin: 0.2 }), { step: 3, learningRate: 0.2 }), 0.07);

  const q = new Quadratic([[2]], [1, 1], [1, 4]);
  const opt = new GSAM({ base: tf.train.sgd(0.5), rho: sched, alpha: 0.1 });
  opt.minimize(q.loss, false, q.vars);
  assert.equal(opt.lastRhoUsed, 0.1);
  setLearningRate(opt, 0.3);
  assert.equal(getLearningRate(opt.base), 0.3);
  opt.minimize(q.loss, false, q.vars);
  assert.ok(Math.abs(opt.lastRhoUsed! - 0.06) < 1e-12);
  opt.dispose();
  q.dispose();
});

test('a rho function receives the step number and bad values are rejected', () => {
  const q = new Quadratic([[2]], [1, 1], [1, 4]);
  const seen: number[] = [];
  const opt = new SAM({ base: tf.train.sgd(0.01), rho: ({ step }) => (seen.push(step), 0.01 * (step + 1)) });
  for (let s = 0; s < 3; s++) opt.minimize(q.loss, false, q.vars);
  assert.deepEqual(seen, [0, 1, 2]);
  assert.ok(Math.abs(opt.lastRhoUsed! - 0.03) < 1e-15);
  const bad = new SAM({ base: tf.train.sgd(0.01), rho: () => -1 });
  assert.throws(() => bad.minimize(q.loss, false, q.vars), /rho schedule returned -1 at step 0/);
  assert.throws(() => new SAM({ base: tf.train.sgd(0.01), rho: () => 1 }).getConfig(), /rho is a function/);
  opt.dispose();
  q.dispose();
});

test('invalid options are rejected at construction, naming the option and the allowed range', () => {
  const base = tf.train.sgd(0.1);
  const cases: [() => unknown, RegExp][] = [
    [() => new SAM({ base, rho: -0.1 }), /SAM: rho must be a finite number >= 0, got -0.1/],
    [() => new SAM({ base, rho: Number.NaN }), /SAM: rho must be a finite number >= 0/],
    [() => new SAM({ base, rho: Infinity }), /SAM: rho must be a finite number >= 0/],
    [() => new SAM({ base: {} as tf.Optimizer, rho: 0.1 }), /SAM: base must be a tf.Optimizer/],
    [() => new SAM({ base, rho: 0.1, weightDecay: -1 }), /SAM: weightDecay must be a finite number >= 0/],
    [() => new SAM({ base, rho: 0.1, eps: -1e-12 }), /SAM: eps must be a finite number >= 0/],
    [() => new SAM({ base, rho: 0.1, alpha: 0.1 } as never), /SAM: unknown option 'alpha'/],
    [() => new GSAM({ base, rho: 0.1, alpha: -0.5 }), /GSAM: alpha must be a finite number >= 0/],
    [() => new GSAM({ base, rho: 0.1 } as never), /GSAM: alpha is required/],
    [() => new ASAM({ base, rho: 0.1, eta: -1 }), /ASAM: eta must be a finite number >= 0/],
    [() => new ASAM({ base, rho: 0.1, scope: 'biases' as never }), /ASAM: scope must be one of 'kernels', 'all', got 'biases'/],
    [
      () => new AdaptiveGSAM({ base, rho: 0.1, alpha: 0.1, gamma: Number.POSITIVE_INFINITY }),
      /AdaptiveGSAM: gamma must be a finite number >= 0/,
    ],
    [
      () => new AdaptiveGSAM({ base, rho: 0.1, alpha: 0.1, ascent: 'euclidean' as never }),
      /AdaptiveGSAM: ascent must be one of 'elementwise', 'adaptive'/,
    ],
    [() => new AdaptiveGSAM({ base, rho: 0.1, alpha: 0.1, eta: 0.1 }), /eta and scope apply only with ascent 'adaptive'/],
    [() => proportionalRho({ rhoMax: 0.1, rhoMin: 0.2, lrMax: 1 }), /rhoMin must be <= rhoMax/],
  ];
  for (const [make, message] of cases) assert.throws(make, message);
  base.dispose();
});

test('getConfig / fromConfig and the tfjs serialisation registry rebuild each optimiser', () => {
  const made: SharpnessAwareOptimizer[] = [
    new SAM({ base: tf.train.momentum(0.1, 0.9), rho: 0.05, weightDecay: 5e-4 }),
    new ASAM({ base: tf.train.sgd(0.1), rho: 0.5, eta: 0.02, scope: 'all' }),
    new GSAM({ base: tf.train.adam(0.001), rho: proportionalRho({ rhoMax: 0.1, rhoMin: 0.01, lrMax: 0.001 }), alpha: 0.3 }),
    new AdaptiveGSAM({ base: tf.train.sgd(0.1), rho: 0.05, alpha: 0.1, ascent: 'adaptive', eta: 0.0, scope: 'kernels' }),
  ];
  for (const opt of made) {
    const className = opt.getClassName();
    const entry = tf.serialization.SerializationMap.getMap().classNameMap[className];
    assert.ok(entry !== undefined, `${className} is registered`);
    const [cls, fromConfig] = entry;
    const rebuilt = fromConfig(cls, opt.getConfig()) as unknown as SharpnessAwareOptimizer;
    assert.equal(rebuilt.getClassName(), className);
    assert.deepEqual(rebuilt.getConfig(), opt.getConfig());
    assert.equal(rebuilt.base.getClassName(), opt.base.getClassName());
    rebuilt.dispose();
    opt.dispose();
  }
});

async function snapshot(opt: tf.Optimizer): Promise<{ name: string; tensor: tf.Tensor }[]> {
  // Copy the values: getWeights returns the live slot variables.
  return (await opt.getWeights()).map((w) => ({ name: w.name, tensor: tf.clone(w.tensor) }));
}

test('saving and restoring the state mid-training continues exactly as never stopping', async () => {
  const makers: [string, () => SharpnessAwareOptimizer][] = [
    ['SAM+momentum', () => new SAM({ base: tf.train.momentum(0.05, 0.9), rho: 0.05, weightDecay: 1e-3 })],
    [
      'GSAM+adam, proportional rho',
      () => new GSAM({ base: tf.train.adam(0.01), rho: proportionalRho({ rhoMax: 0.1, rhoMin: 0.01, lrMax: 0.01 }), alpha: 0.2 }),
    ],
    [
      'AdaptiveGSAM+momentum, rho(step)',
      () => new AdaptiveGSAM({ base: tf.train.momentum(0.05, 0.9), rho: ({ step }) => 0.05 / (1 + step), alpha: 0.2 }),
    ],
  ];
  for (const [name, make] of makers) {
    const { x, y } = moonsBatch(64, 0.2, 4);
    // Uninterrupted: 10 steps.
    const m1 = reportMlp(3);
    const o1 = make();
    const v1 = trainableVars(m1);
    for (let s = 0; s < 10; s++) o1.minimize(crossEntropy(m1, x, y), false, v1);

    // Interrupted after 4: save model + optimiser state, rebuild both from scratch, restore, continue.
    const m2 = reportMlp(3);
    const o2 = make();
    const v2 = trainableVars(m2);
    for (let s = 0; s < 4; s++) o2.minimize(crossEntropy(m2, x, y), false, v2);
    const savedWeights = m2.getWeights().map((t) => t.clone());
    const savedState = await snapshot(o2);
    o2.dispose();
    m2.dispose();
    const m3 = reportMlp(99);
    m3.setWeights(savedWeights);
    const o3 = make();
    await o3.setWeights(savedState);
    assert.equal(o3.step, 4, `${name}: step restored`);
    const v3 = trainableVars(m3);
    for (let s = 4; s < 10; s++) o3.minimize(crossEntropy(m3, x, y), false, v3);

    assert.deepEqual(flatValues(v3), flatValues(v1), `${name}: same weights as never stopping`);
    tf.dispose([...savedWeights, ...savedState.map((w) => w.tensor), x, y]);
    o1.dispose();
    o3.dispose();
    m1.dispose();
    m3.dispose();
  }
});

test('setWeights rejects a state that was not produced by getWeights', async () => {
  const opt = new SAM({ base: tf.train.sgd(0.1), rho: 0.1 });
  await assert.rejects(opt.setWeights([]), /expected the list returned by getWeights/);
  const t = tf.scalar(1);
  await assert.rejects(
    opt.setWeights([
      { name: 'iter', tensor: t },
      { name: 'momentum', tensor: t },
    ]),
    /unexpected weight 'momentum'/,
  );
  t.dispose();
  opt.dispose();
});
