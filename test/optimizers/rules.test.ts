/**
 * The update rules of ALGORITHMS.md checked against values computed by hand (plain float64
 * arithmetic written out from the formulas) on quadratics whose gradient is known in closed form.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { ASAM, AdaptiveGSAM, GSAM, SAM, type SharpnessAwareOptimizer } from '../../src/index.js';
import { assertClose, Quadratic } from './helpers.js';

const norm = (x: number[]): number => Math.sqrt(x.reduce((s, v) => s + v * v, 0));
const dot = (x: number[], y: number[]): number => x.reduce((s, v, i) => s + v * y[i], 0);

test('SAM one step on L = 0.5 (w1^2 + 4 w2^2): matches the hand computation', () => {
  // w = (1, 1), g = (1, 4), |g| = sqrt(17). rho = sqrt(17)/10 gives e = (0.1, 0.4) exactly,
  // so w + e = (1.1, 1.4) and g_p = (1.1, 5.6); SGD lr 0.1: w' = (1 - 0.11, 1 - 0.56) = (0.89, 0.44).
  const q = new Quadratic([[2]], [1, 1], [1, 4]);
  const opt = new SAM({ base: tf.train.sgd(0.1), rho: Math.sqrt(17) / 10, eps: 0 });
  const cost = opt.minimize(q.loss, true, q.vars)!;
  assertClose(q.weights(), [0.89, 0.44], 1e-6, 0, 'w');
  assertClose([cost.dataSync()[0]], [0.5 * (1 + 4)], 1e-6, 0, 'clean loss');
  // L(w + e) = 0.5 (1.21 + 4 * 1.96) = 4.525; h = 4.525 - 2.5 = 2.025.
  assertClose([opt.lastPerturbedLoss!], [4.525], 1e-5, 0, 'perturbed loss');
  assertClose([opt.lastSurrogateGap!], [2.025], 1e-5, 0, 'surrogate gap');
  cost.dispose();
  opt.dispose();
  q.dispose();
});

test('GSAM one step: d = g_p - alpha * g_perp with g_perp orthogonal to g_p, by hand', () => {
  const q = new Quadratic([[2]], [1, 1], [1, 4]);
  const rho = Math.sqrt(17) / 10;
  const alpha = 0.3;
  const opt = new GSAM({ base: tf.train.sgd(0.1), rho, alpha, eps: 0 });
  opt.minimize(q.loss, false, q.vars);
  const g = [1, 4];
  const gp = [1.1, 5.6];
  const c = dot(g, gp) / (norm(gp) * norm(g));
  const gPerp = g.map((gi, i) => gi - (c * norm(g) * gp[i]) / norm(gp));
  assert.ok(Math.abs(dot(gPerp, gp)) < 1e-12, 'g_perp is orthogonal to g_p');
  const d = gp.map((v, i) => v - alpha * gPerp[i]);
  assertClose(q.weights(), [1 - 0.1 * d[0], 1 - 0.1 * d[1]], 1e-6, 1e-6, 'w');
  opt.dispose();
  q.dispose();
});

test('ASAM one step (scope kernels): T = |w| + eta scales only rank >= 2 variables', () => {
  // Variable A: a bias (rank 1) w = (1, -2), a = (1, 1)  -> T = 1.
  // Variable B: a kernel (rank 2) w = [[0.5, -1]], a = (2, 3) -> T = |w| + eta.
  const q = new Quadratic([[2], [1, 2]], [1, -2, 0.5, -1], [1, 1, 2, 3]);
  const eta = 0.1;
  const rho = 0.2;
  const opt = new ASAM({ base: tf.train.sgd(0.05), rho, eta, eps: 0 });
  opt.minimize(q.loss, false, q.vars);
  const w = [1, -2, 0.5, -1];
  const a = [1, 1, 2, 3];
  const T = [1, 1, 0.5 + eta, 1 + eta];
  const g = w.map((wi, i) => a[i] * wi);
  const tg = g.map((gi, i) => T[i] * gi);
  const e = tg.map((x, i) => (rho * T[i] * x) / norm(tg));
  const gp = w.map((wi, i) => a[i] * (wi + e[i]));
  assertClose(
    q.weights(),
    w.map((wi, i) => wi - 0.05 * gp[i]),
    1e-6,
    1e-6,
    'w',
  );
  opt.dispose();
  q.dispose();
});

test('Adaptive-GSAM elementwise climb: e = rho (|w| + gamma) g / |g|, by hand', () => {
  const q = new Quadratic([[3]], [0.5, -1.5, 0], [2, 1, 3]);
  const rho = 0.3;
  const gamma = 0.05;
  const alpha = 0.2;
  const opt = new AdaptiveGSAM({ base: tf.train.sgd(0.1), rho, alpha, gamma, eps: 0 });
  opt.minimize(q.loss, false, q.vars);
  const w = [0.5, -1.5, 0];
  const a = [2, 1, 3];
  const g = w.map((wi, i) => a[i] * wi);
  const e = g.map((gi, i) => (rho * (Math.abs(w[i]) + gamma) * gi) / norm(g));
  const gp = w.map((wi, i) => a[i] * (wi + e[i]));
  const c = dot(g, gp) / (norm(gp) * norm(g));
  const gPerp = g.map((gi, i) => gi - (c * norm(g) * gp[i]) / norm(gp));
  const d = gp.map((v, i) => v - alpha * gPerp[i]);
  assertClose(
    q.weights(),
    w.map((wi, i) => wi - 0.1 * d[i]),
    1e-6,
    1e-6,
    'w',
  );
  opt.dispose();
  q.dispose();
});

/**
 * A float64 reference of the whole step (ALGORITHMS.md) for a diagonal quadratic, with SGD momentum
 * (PyTorch semantics: buf = m buf + d; w -= lr buf) and coupled weight decay.
 */
function referenceTrajectory(
  w0: number[],
  a: number[],
  scaled: boolean[],
  opts: {
    ascent: 'euclidean' | 'adaptive' | 'elementwise';
    descent: 'perturbed' | 'surrogate-gap';
    rho: number;
    alpha: number;
    eta: number;
    gamma: number;
    lr: number;
    momentum: number;
    wd: number;
    eps: number;
  },
  steps: number,
): number[] {
  let w = [...w0];
  let buf = w.map(() => 0);
  for (let s = 0; s < steps; s++) {
    const g = w.map((wi, i) => a[i] * wi);
    let e: number[];
    if (opts.ascent === 'euclidean') e = g.map((gi) => (opts.rho * gi) / (norm(g) + opts.eps));
    else if (opts.ascent === 'elementwise') e = g.map((gi, i) => (opts.rho * (Math.abs(w[i]) + opts.gamma) * gi) / (norm(g) + opts.eps));
    else {
      const T = w.map((wi, i) => (scaled[i] ? Math.abs(wi) + opts.eta : 1));
      const tg = g.map((gi, i) => T[i] * gi);
      e = tg.map((x, i) => (opts.rho * T[i] * x) / (norm(tg) + opts.eps));
    }
    const gp = w.map((wi, i) => a[i] * (wi + e[i]));
    let d = gp;
    if (opts.descent === 'surrogate-gap') {
      const c = dot(g, gp) / (norm(gp) * norm(g) + opts.eps);
      d = gp.map((v, i) => v - opts.alpha * (g[i] - (c * norm(g) * v) / (norm(gp) + opts.eps)));
    }
    d = d.map((v, i) => v + opts.wd * w[i]);
    buf = buf.map((b, i) => opts.momentum * b + d[i]);
    w = w.map((wi, i) => wi - opts.lr * buf[i]);
  }
  return w;
}

test('30 steps of each preset with momentum and weight decay follow the float64 reference', () => {
  const shapes = [[2], [2, 2]];
  const w0 = [0.8, -1.2, 0.3, -0.7, 1.5, 0.05];
  const a = [1.0, 2.5, 0.5, 3.0, 1.5, 4.0];
  const scaled = [false, false, true, true, true, true];
  const common = { rho: 0.1, alpha: 0.4, eta: 0.02, gamma: 0.03, lr: 0.05, momentum: 0.9, wd: 5e-3, eps: 1e-12 };
  const cases: [
    string,
    (base: tf.Optimizer) => SharpnessAwareOptimizer,
    'euclidean' | 'adaptive' | 'elementwise',
    'perturbed' | 'surrogate-gap',
  ][] = [
    ['SAM', (base) => new SAM({ base, rho: common.rho, weightDecay: common.wd }), 'euclidean', 'perturbed'],
    ['ASAM', (base) => new ASAM({ base, rho: common.rho, eta: common.eta, weightDecay: common.wd }), 'adaptive', 'perturbed'],
    ['GSAM', (base) => new GSAM({ base, rho: common.rho, alpha: common.alpha, weightDecay: common.wd }), 'euclidean', 'surrogate-gap'],
    [
      'AdaptiveGSAM',
      (base) => new AdaptiveGSAM({ base, rho: common.rho, alpha: common.alpha, gamma: common.gamma, weightDecay: common.wd }),
      'elementwise',
      'surrogate-gap',
    ],
    [
      'AdaptiveGSAM(adaptive)',
      (base) =>
        new AdaptiveGSAM({ base, rho: common.rho, alpha: common.alpha, ascent: 'adaptive', eta: common.eta, weightDecay: common.wd }),
      'adaptive',
      'surrogate-gap',
    ],
  ];
  for (const [name, make, ascent, descent] of cases) {
    const q = new Quadratic(shapes, w0, a);
    const opt = make(tf.train.momentum(common.lr, common.momentum));
    for (let s = 0; s < 30; s++) opt.minimize(q.loss, false, q.vars);
    const expected = referenceTrajectory(w0, a, scaled, { ...common, ascent, descent }, 30);
    assertClose(q.weights(), expected, 1e-5, 1e-4, `${name} w after 30 steps`);
    opt.dispose();
    q.dispose();
  }
});

test('the perturbed gradient is the finite-difference gradient of L at w + e', () => {
  // A non-quadratic L(w) = sum(exp(0.5 w) + w^4 / 4); check d (SAM: d = g_p) against central differences.
  const w0 = [0.3, -0.8, 1.1];
  const L = (w: number[]): number => w.reduce((s, x) => s + Math.exp(0.5 * x) + x ** 4 / 4, 0);
  const grad = (w: number[]): number[] => w.map((x) => 0.5 * Math.exp(0.5 * x) + x ** 3);
  const rho = 0.25;
  const g = grad(w0);
  const e = g.map((gi) => (rho * gi) / norm(g));
  const wp = w0.map((x, i) => x + e[i]);
  const h = 1e-5;
  const fd = wp.map((_, i) => {
    const plus = [...wp];
    const minus = [...wp];
    plus[i] += h;
    minus[i] -= h;
    return (L(plus) - L(minus)) / (2 * h);
  });
  const v = tf.variable(tf.tensor1d(w0));
  const f = (): tf.Scalar => tf.tidy(() => tf.sum(tf.add(tf.exp(tf.mul(v, 0.5)), tf.div(tf.pow(v, 4), 4))) as tf.Scalar);
  const lr = 1e-3;
  const opt = new SAM({ base: tf.train.sgd(lr), rho });
  opt.minimize(f, false, [v]);
  const dTfjs = Array.from(v.dataSync()).map((x, i) => (w0[i] - x) / lr);
  assertClose(dTfjs, fd, 1e-3, 1e-3, 'g_p');
  opt.dispose();
  v.dispose();
});
