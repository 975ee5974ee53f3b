import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { adaptiveSharpness, hessianTopEigenvalue, surrogateGap, type Objective } from '../../src/sharpness/index.js';
import { disposeStepResult, euclideanAscent, perturbedDescent, sharpnessAwareStep } from '../../src/optimizers/index.js';
import { modelObjective } from '../../src/sharpness/index.js';
import { moonsBatch, reportMlp } from '../optimizers/mlp.js';
import { Rng } from '../../src/util/random.js';
import {
  clean,
  dominantEigenvalue,
  eigenDecomposedMatrix,
  jacobiEigenvalues,
  matrixWithEigenvalues,
  matVec,
  quadraticObjective,
  relErr,
  type Matrix,
} from './helpers.js';

tf.setBackend('cpu');

const dotv = (a: number[], b: number[]): number => a.reduce((s, x, i) => s + x * b[i], 0);

test('surrogate gap on a quadratic: 2h/rho² = ĝᵀAĝ + 2‖g‖/rho exactly', () => {
  const a = matrixWithEigenvalues([6, 3, 1, 0.5], 21);
  const w = [0.4, -0.3, 0.2, 0.6];
  const q = quadraticObjective(a, w);
  const rho = 0.1;
  const r = clean(q, () => surrogateGap(q, { rho }));
  const g = matVec(a, w);
  const gn = Math.hypot(...g);
  const gh = g.map((x) => x / gn);
  const want = dotv(gh, matVec(a, gh)) + (2 * gn) / rho;
  assert.ok(relErr(r.lemma3SigmaMax, want) < 1e-3, `${r.lemma3SigmaMax} vs ${want}`);
  assert.ok(relErr(r.loss, 0.5 * dotv(w, g)) < 1e-6);
  assert.equal(r.gap, r.perturbedLoss - r.loss);
  assert.throws(() => surrogateGap(q, { rho: -1 }), /rho must be a finite number > 0/);
  q.dispose();
});

test('Lemma 3: 2h/rho² ≈ sigma_max at a least-squares minimum reached by large-step gradient descent', () => {
  // L(w) = ‖Xw − y‖² / (2m), H = XᵀX/m. Gradient descent with step 1.8/sigma_max shrinks the error
  // along the top eigenvector by |1 − 1.8| = 0.8 per step and every other direction faster (the
  // spectrum of this X lies within [0.2, 1]·sigma_max, where |1 − 1.8λ/sigma_max| <= 0.64), so the
  // remaining gradient points along the top eigenvector: the case where Lemma 3 applies.
  const m = 40;
  const d = 5;
  const rng = new Rng(31);
  const xs: Matrix = Array.from({ length: m }, () => Array.from({ length: d }, () => rng.normal()));
  const wTrue = Array.from({ length: d }, () => rng.normal());
  const ys = xs.map((row) => dotv(row, wTrue) + 0.1 * rng.normal());
  const h: Matrix = Array.from({ length: d }, (_, i) =>
    Array.from({ length: d }, (_, j) => xs.reduce((s, row) => s + row[i] * row[j], 0) / m),
  );
  const sigma = dominantEigenvalue(h);
  assert.ok(Math.min(...jacobiEigenvalues(h)) >= 0.2 * sigma, 'the design assumes the spectrum lies within [0.2, 1]·sigma_max');
  const grad = (w: number[]): number[] => {
    const res = xs.map((row, k) => dotv(row, w) - ys[k]);
    return Array.from({ length: d }, (_, j) => xs.reduce((s, row, k) => s + row[j] * res[k], 0) / m);
  };
  let w = new Array<number>(d).fill(0);
  for (let step = 0; step < 60; step++) w = w.map((wi, i) => wi - (1.8 / sigma) * grad(w)[i]);

  const x = tf.tensor2d(xs);
  const y = tf.tensor2d(ys, [m, 1]);
  const wv = tf.variable(tf.tensor2d(w, [d, 1]));
  const obj: Objective = {
    vars: [wv],
    loss: () => tf.tidy(() => tf.mul(0.5, tf.mean(tf.square(tf.sub(tf.matMul(x, wv), y)))) as tf.Scalar),
  };
  const rho = 0.05;
  const r = clean(obj, () => surrogateGap(obj, { rho }));
  // Error budget: 2‖g‖/(rho·sigma) (the residual shrinks by 0.8⁶⁰ ≈ 1.5e-6: ‖g‖ ~ 1e-6, ~1e-4) plus float32 rounding of the
  // two losses (~1e-7 of L ≈ 5e-3, against h ≈ 2e-3: ~1e-6), plus the residual's small share off the
  // top eigenvector; 3e-3 leaves a wide margin.
  assert.ok(relErr(r.lemma3SigmaMax, sigma) < 3e-3, `2h/rho² = ${r.lemma3SigmaMax}, sigma_max = ${sigma}`);
  const top = clean(obj, () => hessianTopEigenvalue(obj, { tol: 1e-6 }));
  assert.ok(relErr(top.value, sigma) < 1e-3);
  wv.dispose();
  tf.dispose([x, y]);
});

/** max over ‖e‖ <= R of bᵀe + ½eᵀAe (A = Σ λ_k q_k q_kᵀ PSD): e_k = b_k/(mu − λ_k), ‖e‖ = R, by bisection on mu. */
function trustRegionMax(lambdas: number[], q: Matrix, b: number[], radius: number): number {
  const bt = q.map((qk) => dotv(qk, b));
  const lmax = Math.max(...lambdas);
  const normSq = (mu: number): number => bt.reduce((s, bk, k) => s + (bk / (mu - lambdas[k])) ** 2, 0);
  let lo = lmax;
  let hi = lmax + Math.hypot(...bt) / radius;
  for (let i = 0; i < 200; i++) {
    const mid = 0.5 * (lo + hi);
    if (normSq(mid) > radius * radius) lo = mid;
    else hi = mid;
  }
  const e = bt.map((bk, k) => bk / (hi - lambdas[k]));
  return e.reduce((s, ek, k) => s + bt[k] * ek + 0.5 * lambdas[k] * ek * ek, 0);
}

test('adaptive sharpness: starts at the ASAM step and climbs to the exact maximum over the ellipsoid', () => {
  // Equal |w_i| make T_w = (c + eta)·I, so the ellipsoid is a ball of radius rho(c + eta) and the
  // maximum of the quadratic over it is a trust-region problem solved exactly above.
  const lambdas = [5, 4, 1, 0.5, 0.2];
  const { a, q: eig } = eigenDecomposedMatrix(lambdas, 41);
  const c = 0.5;
  const eta = 0.01;
  // Of the sign patterns of w, take the one whose gradient is least aligned with the top eigenvector,
  // so that the ASAM step is clearly short of the maximum.
  const patterns = Array.from({ length: 16 }, (_, p) => [c, ...[0, 1, 2, 3].map((b) => ((p >> b) & 1 ? c : -c))]);
  const alignment = (v: number[]): number => Math.abs(dotv(eig[0], matVec(a, v))) / Math.hypot(...matVec(a, v));
  const w = patterns.reduce((best, p) => (alignment(p) < alignment(best) ? p : best));
  const q = quadraticObjective(a, w);
  const rho = 4;
  const radius = rho * (c + eta);
  const g = matVec(a, w);
  const gn = Math.hypot(...g);
  const e0 = g.map((x) => (radius * x) / gn); // ASAM: rho·T²g/‖Tg‖ with T = (c + eta)I
  const asamGap = dotv(g, e0) + 0.5 * dotv(e0, matVec(a, e0));
  const exact = trustRegionMax(lambdas, eig, g, radius);
  assert.ok(exact > asamGap * 1.05, 'the test needs a case where the ASAM step is not already optimal');

  const start = clean(q, () => adaptiveSharpness(q, { rho, eta, steps: 0 }));
  assert.equal(start.evaluations, 1);
  assert.ok(relErr(start.value, asamGap) < 1e-4, `ASAM step ${start.value} vs ${asamGap}`);
  const few = clean(q, () => adaptiveSharpness(q, { rho, eta }));
  const many = clean(q, () => adaptiveSharpness(q, { rho, eta, steps: 60 }));
  assert.ok(few.value >= start.value && many.value >= few.value);
  assert.ok(many.value <= exact * (1 + 1e-5), `${many.value} exceeds the maximum ${exact}`);
  assert.ok(relErr(many.value, exact) < 1e-3, `${many.value} vs exact ${exact}`);
  assert.equal(many.value, many.perturbedLoss - many.loss);

  assert.throws(() => adaptiveSharpness(q, { rho: 0 }), /rho must be a finite number > 0/);
  assert.throws(() => adaptiveSharpness(q, { rho, eta: -1 }), /eta must be a finite number >= 0/);
  assert.throws(() => adaptiveSharpness(q, { rho, steps: 2.5 }), /steps must be an integer >= 0/);
  q.dispose();
});

test("the measured surrogate gap climbs with SAM's own rule: L(w + e) equals the SAM step's, bit for bit", () => {
  // The report's MLP on 50 noisy moons (one chunk, so the objective's loss and gradient are the
  // step's); seed 8 at rho 0.5 is a case where a climb scaled in float64 lands one float32 ulp away.
  const model = reportMlp(8);
  const { x, y } = moonsBatch(50, 0.3, 108);
  const obj = modelObjective(model, x, y);
  for (const rho of [0.05, 0.5]) {
    const measured = clean(obj, () => surrogateGap(obj, { rho }));
    const step = sharpnessAwareStep(obj.loss, obj.vars, { ascent: euclideanAscent(), descent: perturbedDescent(), rho });
    assert.equal(measured.loss, step.loss.dataSync()[0]);
    assert.equal(measured.perturbedLoss, step.perturbedLoss.dataSync()[0], `rho ${rho}`);
    disposeStepResult(step);
  }
  model.dispose();
  tf.dispose([x, y]);
});
