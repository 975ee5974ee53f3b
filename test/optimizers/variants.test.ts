/**
 * The cheaper variants through the public API: LookSAM, MomentumSAM, ESAM and the climb policies
 * (interval, climbProbability). Trajectories are checked against float64 arithmetic written out here
 * from the rules of docs/algorithms.md (not from the code), the invariants against the methods they
 * reduce to, and the forward-backward passes are counted through an instrumented loss closure.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { ESAM, LookSAM, MomentumSAM, Rng, SAM, optimizerSeeds, type ExampleLossClosure } from '../../src/index.js';
import { assertClose, flatValues, Quadratic } from './helpers.js';
import { dot, indices, LeastSquares, lsq, norm } from './lsq.js';
import { crossEntropy, moonsBatch, reportMlp, trainableVars } from './mlp.js';

const EPS = 1e-12;
const A = [1, 3, 0.5];
const W0 = [1, -0.5, 2];
const quadratic = (): Quadratic => new Quadratic([[2], [1]], W0, A);
const counting = (f: () => tf.Scalar, counter: { n: number }) => (): tf.Scalar => (counter.n++, f());

/** One loss per example of the MLP on (x, y): what ESAM's selection, micro-batches and accumulation need. */
function mlpExamples(model: tf.LayersModel, x: tf.Tensor2D, y: tf.Tensor2D): ExampleLossClosure {
  return {
    size: x.shape[0],
    losses: (idx) =>
      tf.tidy(() => {
        const xs = idx === null ? x : tf.gather(x, idx);
        const ys = idx === null ? y : tf.gather(y, idx);
        return tf.metrics.categoricalCrossentropy(ys, model.predict(xs) as tf.Tensor) as tf.Tensor1D;
      }),
  };
}

/** The weights after `steps` steps of `make(base)` on the report's MLP and a moons batch (plain closure). */
function trainMlp(make: (base: tf.Optimizer) => tf.Optimizer, steps: number, seed = 9): number[] {
  const model = reportMlp(seed);
  const { x, y } = moonsBatch(64, 0.2, 5);
  const opt = make(tf.train.momentum(0.05, 0.9));
  const vars = trainableVars(model);
  for (let s = 0; s < steps; s++) opt.minimize(crossEntropy(model, x, y), false, vars);
  const w = flatValues(vars);
  opt.dispose();
  model.dispose();
  tf.dispose([x, y]);
  return w;
}

test('LookSAM: ten steps with k = 3 follow the float64 reference, and 10 steps with k = 5 make 12 forward-backward passes', () => {
  const [rho, alpha, lr, k] = [0.2, 0.7, 0.1, 3];
  const q = quadratic();
  const opt = new LookSAM({ base: tf.train.sgd(lr), rho, k, alpha });
  const counter = { n: 0 };
  for (let s = 0; s < 10; s++) opt.minimize(counting(q.loss, counter), false, q.vars);
  assert.equal(counter.n, 10 + 4, 'climbs on steps 1, 4, 7, 10 (two passes), one pass on the others');

  // The rule: climb on steps 0, k, 2k, ... (0-based), d = g_p, g_v = g_p - (<g_p, g> / ‖g‖²) g;
  // between them d = g + alpha ‖g‖ g_v / ‖g_v‖.
  let w = [...W0];
  let gv: number[] | null = null;
  for (let s = 0; s < 10; s++) {
    const g = w.map((wi, i) => A[i] * wi);
    let d: number[];
    if (s % k === 0) {
      const e = g.map((gi) => (rho * gi) / (norm(g) + EPS));
      const gp = w.map((wi, i) => A[i] * (wi + e[i]));
      const c = dot(gp, g) / (norm(g) ** 2 + EPS);
      gv = gp.map((x, i) => x - c * g[i]);
      d = gp;
    } else {
      const v = gv as number[];
      d = g.map((gi, i) => gi + (alpha * norm(g) * v[i]) / (norm(v) + EPS));
    }
    w = w.map((wi, i) => wi - lr * d[i]);
  }
  assertClose(q.weights(), w, 1e-6, 1e-5, 'w after 10 LookSAM steps');
  opt.dispose();
  q.dispose();

  const q5 = quadratic();
  const opt5 = new LookSAM({ base: tf.train.sgd(lr), rho, k: 5 });
  const c5 = { n: 0 };
  for (let s = 0; s < 10; s++) opt5.minimize(counting(q5.loss, c5), false, q5.vars);
  assert.equal(c5.n, 12);
  opt5.dispose();
  q5.dispose();
});

test('LookSAM with k = 1 is SAM, bit for bit', () => {
  const look = trainMlp((base) => new LookSAM({ base, rho: 0.05, k: 1, alpha: 0.7, weightDecay: 1e-3 }), 10);
  const sam = trainMlp((base) => new SAM({ base, rho: 0.05, weightDecay: 1e-3 }), 10);
  assert.deepEqual(look, sam);
});

test('interval: SAM with interval 3 follows the float64 reference (climbs on steps 1, 4, 7), and interval 1 is SAM', () => {
  const [rho, lr] = [0.2, 0.1];
  const q = quadratic();
  const opt = new SAM({ base: tf.train.sgd(lr), rho, interval: 3 });
  const counter = { n: 0 };
  for (let s = 0; s < 8; s++) opt.minimize(counting(q.loss, counter), false, q.vars);
  assert.equal(counter.n, 8 + 3);
  let w = [...W0];
  for (let s = 0; s < 8; s++) {
    const g = w.map((wi, i) => A[i] * wi);
    const e = s % 3 === 0 ? g.map((gi) => (rho * gi) / (norm(g) + EPS)) : g.map(() => 0);
    w = w.map((wi, i) => wi - lr * A[i] * (wi + e[i]));
  }
  assertClose(q.weights(), w, 1e-6, 1e-5, 'w after 8 steps');
  opt.dispose();
  q.dispose();

  const every = trainMlp((base) => new SAM({ base, rho: 0.05, interval: 1 }), 8);
  const sam = trainMlp((base) => new SAM({ base, rho: 0.05 }), 8);
  assert.deepEqual(every, sam);
});

test('climbProbability (RST): 1 is the method itself, 0 the base optimiser, and 0.5 climbs on the steps its seeded draws say', () => {
  assert.deepEqual(
    trainMlp((base) => new LookSAM({ base, rho: 0.05, k: 2, climbProbability: 1 }), 8),
    trainMlp((base) => new LookSAM({ base, rho: 0.05, k: 2 }), 8),
    'climbProbability 1 is LookSAM',
  );
  assert.deepEqual(
    trainMlp((base) => new SAM({ base, rho: 0.05, climbProbability: 0 }), 8),
    trainMlp((base) => base, 8),
    'climbProbability 0 is the base optimiser',
  );

  // p = 0.5, seed 4: step s climbs when the s-th draw of Rng(optimizerSeeds(4).climb) is below 0.5.
  const [rho, lr, p, seed] = [0.2, 0.1, 0.5, 4];
  const draws = new Rng(optimizerSeeds(seed).climb);
  const climbs = Array.from({ length: 12 }, () => draws.next() < p);
  assert.ok(climbs.some(Boolean) && !climbs.every(Boolean), 'the draws both climb and skip');
  const q = quadratic();
  const opt = new SAM({ base: tf.train.sgd(lr), rho, climbProbability: p, seed });
  const counter = { n: 0 };
  for (let s = 0; s < 12; s++) opt.minimize(counting(q.loss, counter), false, q.vars);
  assert.equal(counter.n, 12 + climbs.filter(Boolean).length);
  let w = [...W0];
  for (let s = 0; s < 12; s++) {
    const g = w.map((wi, i) => A[i] * wi);
    const e = climbs[s] ? g.map((gi) => (rho * gi) / (norm(g) + EPS)) : g.map(() => 0);
    w = w.map((wi, i) => wi - lr * A[i] * (wi + e[i]));
  }
  assertClose(q.weights(), w, 1e-6, 1e-5, 'w after 12 RST steps');
  opt.dispose();
  q.dispose();
});

test('MomentumSAM: one pass per step at w - rho v/‖v‖ (float64 reference, weight decay there too); the weights are back at w after every step', () => {
  const [rho, lr, mu, wd] = [0.2, 0.1, 0.9, 0.01];
  const q = quadratic();
  const opt = new MomentumSAM({ base: tf.train.momentum(lr, mu), rho, weightDecay: wd });
  const counter = { n: 0 };
  // msam.py: e = -rho v / ‖v‖ with v the momentum after the previous step (0 at first: e = 0);
  // g at w + e (weight decay taken there); v <- mu v + g; w <- w - lr v.
  let w = [...W0];
  let v = [0, 0, 0];
  let lossAtShift = 0;
  for (let s = 0; s < 6; s++) {
    const loss = opt.minimize(counting(q.loss, counter), true, q.vars) as tf.Scalar;
    const nv = norm(v);
    const wp = w.map((wi, i) => wi - (nv > 0 ? (rho * v[i]) / (nv + EPS) : 0));
    lossAtShift = wp.reduce((sum, x, i) => sum + 0.5 * A[i] * x * x, 0);
    assertClose(loss.dataSync(), [lossAtShift], 1e-6, 1e-5, `the loss step ${s} reports, L(w + e)`);
    loss.dispose();
    const g = wp.map((x, i) => A[i] * x + wd * x);
    v = v.map((vi, i) => mu * vi + g[i]);
    w = w.map((wi, i) => wi - lr * v[i]);
    assertClose(q.weights(), w, 1e-6, 1e-5, `w (not w + e) after step ${s}`);
  }
  assert.equal(counter.n, 6, 'one forward-backward pass per step');
  assert.equal(opt.lastLoss !== null && Math.abs(opt.lastLoss - lossAtShift) < 1e-5, true);
  opt.dispose();
  q.dispose();
});

test('ESAM: one step with gamma 0.5 descends on the half of the batch whose loss rose most (float64 reference); passes clean, probe, perturbed', () => {
  const xs = [
    [1, 0.5, -1],
    [0.2, -1, 0.3],
    [-0.7, 0.4, 1.2],
    [1.5, 1, 0.1],
    [0, -0.3, -0.8],
    [0.9, -1.2, 0.6],
  ];
  const ts = [0.5, -1, 2, 0.3, -0.2, 1];
  const w0 = [0.3, -0.2, 0.5];
  const [rho, lr] = [0.5, 0.1];
  const p = new LeastSquares(xs, ts, w0);
  const opt = new ESAM({ base: tf.train.sgd(lr), rho, beta: 1, gamma: 0.5 });
  const loss = opt.minimize(p.examples(), true, p.vars) as tf.Scalar;
  assert.deepEqual(p.calls, [
    { pass: 'clean', n: 6 },
    { pass: 'probe', n: 6 },
    { pass: 'perturbed', n: 3 },
  ]);
  const all = indices(6);
  const g = lsq.grad(xs, ts, w0, all);
  const e = g.map((gi) => (rho * gi) / (norm(g) + EPS));
  const wp = w0.map((wi, i) => wi + e[i]);
  const rise = all.map((i) => lsq.loss(xs[i], ts[i], wp) - lsq.loss(xs[i], ts[i], w0));
  const chosen = [...all].sort((a, b) => rise[b] - rise[a]).slice(0, 3);
  const gp = lsq.grad(xs, ts, wp, chosen);
  assertClose(
    p.weights(),
    w0.map((wi, i) => wi - lr * gp[i]),
    1e-6,
    1e-5,
    'w after the step',
  );
  assertClose(loss.dataSync(), [all.reduce((s, i) => s + lsq.loss(xs[i], ts[i], w0), 0) / 6], 1e-6, 1e-5, 'the clean loss');
  assertClose(
    [opt.lastPerturbedLoss as number],
    [all.reduce((s, i) => s + lsq.loss(xs[i], ts[i], wp), 0) / 6],
    1e-6,
    1e-5,
    'L(w + e) over the whole batch',
  );
  loss.dispose();
  opt.dispose();
  p.dispose();
});

test('ESAM: beta 0.5 perturbs the weights its seeded mask keeps, scaled by 1/beta (float64 reference)', () => {
  const xs = [
    [1, 0.5, -1],
    [0.2, -1, 0.3],
    [-0.7, 0.4, 1.2],
    [1.5, 1, 0.1],
  ];
  const ts = [0.5, -1, 2, 0.3];
  const w0 = [0.3, -0.2, 0.5];
  const [rho, lr, beta] = [0.5, 0.1, 0.5];
  // The first seed whose mask over the 3 weights keeps some and drops some (one draw per scalar, in variable order).
  const maskOf = (seed: number): number[] => {
    const rng = new Rng(optimizerSeeds(seed).rules);
    return [0, 1, 2].map(() => (rng.next() < beta ? 1 : 0));
  };
  let seed = 0;
  while (maskOf(seed).every((m) => m === maskOf(seed)[0])) seed++;
  const mask = maskOf(seed);
  const p = new LeastSquares(xs, ts, w0);
  const opt = new ESAM({ base: tf.train.sgd(lr), rho, beta, gamma: 1, seed });
  opt.minimize(p.mean, false, p.vars);
  const g = lsq.grad(xs, ts, w0, indices(4));
  const wp = w0.map((wi, i) => wi + ((rho / beta) * mask[i] * g[i]) / (norm(g) + EPS));
  const gp = lsq.grad(xs, ts, wp, indices(4));
  assertClose(
    p.weights(),
    w0.map((wi, i) => wi - lr * gp[i]),
    1e-6,
    1e-5,
    `w after the step (mask ${mask.join('')}, seed ${seed})`,
  );
  opt.dispose();
  p.dispose();
});

test('ESAM with beta 1 and gamma 1 is SAM, bit for bit', () => {
  const esam = trainMlp((base) => new ESAM({ base, rho: 0.05, beta: 1, gamma: 1, weightDecay: 1e-3 }), 10);
  const sam = trainMlp((base) => new SAM({ base, rho: 0.05, weightDecay: 1e-3 }), 10);
  assert.deepEqual(esam, sam);
});

test('state saved mid-cycle (LookSAM, RST, ESAM, MomentumSAM) and restored continues exactly as a run that never stopped', async () => {
  const cases: [string, () => tf.Optimizer, boolean][] = [
    ['LookSAM k 3, saved after step 5', () => new LookSAM({ base: tf.train.momentum(0.05, 0.9), rho: 0.05, k: 3 }), false],
    ['SAM climbProbability 0.5', () => new SAM({ base: tf.train.momentum(0.05, 0.9), rho: 0.05, climbProbability: 0.5, seed: 2 }), false],
    ['ESAM beta 0.5 gamma 0.5', () => new ESAM({ base: tf.train.momentum(0.05, 0.9), rho: 0.05, beta: 0.5, gamma: 0.5, seed: 1 }), true],
    ['MomentumSAM', () => new MomentumSAM({ base: tf.train.momentum(0.05, 0.9), rho: 0.3 }), false],
  ];
  const { x, y } = moonsBatch(48, 0.2, 4);
  const start = tf.memory().numTensors;
  for (const [what, make, examples] of cases) {
    const step = (opt: tf.Optimizer, model: tf.LayersModel, vars: tf.Variable[]): void => {
      const f = examples ? mlpExamples(model, x, y) : crossEntropy(model, x, y);
      (opt.minimize as (f: unknown, r: boolean, v: tf.Variable[]) => void)(f, false, vars);
    };
    const m1 = reportMlp(3);
    const o1 = make();
    const v1 = trainableVars(m1);
    for (let s = 0; s < 12; s++) step(o1, m1, v1);

    const m2 = reportMlp(3);
    const o2 = make();
    const v2 = trainableVars(m2);
    for (let s = 0; s < 5; s++) step(o2, m2, v2);
    const saved = await o2.getWeights();
    // Copied as a file would hold them; the fresh tensors freed (the runner does the same).
    const copies = saved.map((w) => ({ name: w.name, tensor: tf.tensor(w.tensor.dataSync(), w.tensor.shape, w.tensor.dtype) }));
    tf.dispose(saved.map((w) => w.tensor).filter((t) => !(t instanceof tf.Variable)));
    const weights = m2.getWeights().map((t) => t.clone());
    o2.dispose();
    m2.dispose();

    const m3 = reportMlp(50);
    m3.setWeights(weights);
    tf.dispose(weights);
    const o3 = make();
    await o3.setWeights(copies);
    tf.dispose(copies.map((w) => w.tensor));
    const v3 = trainableVars(m3);
    for (let s = 5; s < 12; s++) step(o3, m3, v3);
    assert.deepEqual(flatValues(v3), flatValues(v1), `${what}: same weights as never stopping`);
    o1.dispose();
    o3.dispose();
    m1.dispose();
    m3.dispose();
  }
  assert.equal(tf.memory().numTensors, start, "dispose frees the rules' states");
  tf.dispose([x, y]);
});

test('no tensor leaks over hundreds of steps of each variant, through minimize and model.fit', async () => {
  const { x, y } = moonsBatch(64, 0.2, 8);
  const makers: [string, (base: tf.Optimizer) => tf.Optimizer, boolean][] = [
    ['LookSAM', (base) => new LookSAM({ base, rho: 0.05, k: 5 }), false],
    ['MomentumSAM', (base) => new MomentumSAM({ base, rho: 0.3 }), false],
    ['ESAM (gamma 1 in model.fit)', (base) => new ESAM({ base, rho: 0.05, beta: 0.5, gamma: 1 }), false],
    ['ESAM gamma 0.5', (base) => new ESAM({ base, rho: 0.05, beta: 0.5, gamma: 0.5 }), true],
    ['SAM interval 3, climbProbability 0.5', (base) => new SAM({ base, rho: 0.05, interval: 3, climbProbability: 0.5 }), false],
    ['SAM microBatches 4', (base) => new SAM({ base, rho: 0.05, microBatches: 4 }), true],
    ['LookSAM accumulation 3', (base) => new LookSAM({ base, rho: 0.05, k: 2, accumulation: 3 }), true],
  ];
  for (const [what, make, examples] of makers) {
    const model = reportMlp(2);
    const optimizer = make(tf.train.momentum(0.05, 0.9));
    const vars = trainableVars(model);
    const f = examples ? mlpExamples(model, x, y) : crossEntropy(model, x, y);
    const minimize = (): void =>
      (optimizer.minimize as (f: unknown, r: boolean, v: tf.Variable[]) => tf.Scalar | null)(f, true, vars)?.dispose();
    // Until the base's slots and the rules' states exist.
    for (let s = 0; s < 6; s++) minimize();
    const before = tf.memory().numTensors;
    for (let s = 0; s < 200; s++) minimize();
    assert.equal(tf.memory().numTensors, before, `${what}: minimize leaks`);
    if (!examples) {
      model.compile({ optimizer, loss: 'categoricalCrossentropy' });
      await model.fit(x, y, { epochs: 1, batchSize: 16, verbose: 0 });
      const beforeFit = tf.memory().numTensors;
      await model.fit(x, y, { epochs: 50, batchSize: 16, verbose: 0 });
      assert.equal(tf.memory().numTensors, beforeFit, `${what}: model.fit leaks`);
    }
    optimizer.dispose();
    model.dispose();
  }
  tf.dispose([x, y]);
});

test('bad options are rejected at construction with the option named and the range allowed', () => {
  const cases: [() => unknown, typeof TypeError | typeof RangeError, RegExp][] = [
    [() => new LookSAM({ base: tf.train.sgd(0.1), rho: 0.05, k: 0 }), RangeError, /^LookSAM: k must be an integer >= 1, got 0$/],
    [() => new LookSAM({ base: tf.train.sgd(0.1), rho: 0.05, k: 2.5 }), RangeError, /^LookSAM: k must be an integer >= 1, got 2.5$/],
    [
      () => new LookSAM({ base: tf.train.sgd(0.1), rho: 0.05, alpha: -1 }),
      RangeError,
      /^LookSAM: alpha must be a finite number >= 0, got -1$/,
    ],
    [
      () => new LookSAM({ base: tf.train.sgd(0.1), rho: 0.05, k: '5' as never }),
      TypeError,
      /^LookSAM: k must be an integer >= 1, got '5'$/,
    ],
    [() => new LookSAM({ base: tf.train.sgd(0.1), rho: 0.05, kk: 5 } as never), TypeError, /LookSAM: unknown option 'kk'/],
    [
      () => new ESAM({ base: tf.train.sgd(0.1), rho: 0.05, beta: 0 }),
      RangeError,
      /^ESAM: beta must be a finite number > 0 and <= 1, got 0$/,
    ],
    [
      () => new ESAM({ base: tf.train.sgd(0.1), rho: 0.05, beta: 1.5 }),
      RangeError,
      /^ESAM: beta must be a finite number > 0 and <= 1, got 1.5$/,
    ],
    [
      () => new ESAM({ base: tf.train.sgd(0.1), rho: 0.05, gamma: 0 }),
      RangeError,
      /^ESAM: gamma must be a finite number > 0 and <= 1, got 0$/,
    ],
    [() => new MomentumSAM({ base: tf.train.sgd(0.1), rho: 0.3 }), TypeError, /^MomentumSAM: base must be momentum SGD .*got SGD$/],
    [
      () => new MomentumSAM({ base: tf.train.momentum(0.1, 0.9, true), rho: 0.3 }),
      RangeError,
      /^MomentumSAM: base must not use Nesterov momentum/,
    ],
    [
      () => new MomentumSAM({ base: tf.train.momentum(0.1, 0.9), rho: 0.3, microBatches: 2 }),
      RangeError,
      /MomentumSAM: microBatches must be 1 with an ascent that needs no gradient/,
    ],
    [() => new SAM({ base: tf.train.sgd(0.1), rho: 0.05, interval: 0 }), RangeError, /^SAM: interval must be an integer >= 1, got 0$/],
    [
      () => new SAM({ base: tf.train.sgd(0.1), rho: 0.05, climbProbability: 1.5 }),
      RangeError,
      /^SAM: climbProbability must be a finite number >= 0 and <= 1, got 1.5$/,
    ],
    [
      () => new SAM({ base: tf.train.sgd(0.1), rho: 0.05, microBatches: 0 }),
      RangeError,
      /^SAM: microBatches must be an integer >= 1, got 0$/,
    ],
    [
      () => new SAM({ base: tf.train.sgd(0.1), rho: 0.05, accumulation: 2.5 }),
      RangeError,
      /^SAM: accumulation must be an integer >= 1, got 2.5$/,
    ],
    [
      () => new SAM({ base: tf.train.sgd(0.1), rho: 0.05, microBatches: 2, accumulation: 2 }),
      RangeError,
      /SAM: microBatches and accumulation cannot both exceed 1/,
    ],
    [
      () => new LookSAM({ base: tf.train.sgd(0.1), rho: 0.05, microBatches: 2 }),
      RangeError,
      /LookSAM: microBatches must be 1 with a descent rule that carries state/,
    ],
    [() => new SAM({ base: tf.train.sgd(0.1), rho: 0.05, seed: 0.5 }), RangeError, /^SAM: seed must be an integer, got 0.5$/],
  ];
  for (const [make, kind, message] of cases) {
    assert.throws(make, (err: unknown) => {
      assert.ok(err instanceof kind, `${message}: ${String(err)} is a ${kind.name}`);
      assert.match((err as Error).message, message);
      return true;
    });
  }
  // A step that needs one loss per example, given the batch's mean loss, says what to pass.
  const q = quadratic();
  const esam = new ESAM({ base: tf.train.sgd(0.1), rho: 0.05, gamma: 0.5 });
  assert.throws(
    () => esam.minimize(q.loss, false, q.vars),
    (err: unknown) => {
      assert.ok(err instanceof TypeError);
      assert.match(
        err.message,
        /the data selection of 'sharpness-sensitive' \(exampleShare 0.5\) need one loss per example: pass exampleLosses\(size, losses\)/,
      );
      return true;
    },
  );
  esam.dispose();
  q.dispose();
});
