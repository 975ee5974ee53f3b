import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { hessianTopEigenvalue, hessianTrace, hessianVectorProduct, type Objective } from '../../src/sharpness/index.js';
import { clean, dominantEigenvalue, matrixWithEigenvalues, matVec, quadraticObjective, relErr } from './helpers.js';

tf.setBackend('cpu');

const W0 = [0.3, -1.2, 0.8, 2.0, -0.5, 0.1];

test('both HVP methods agree with A v on a quadratic', () => {
  const a = matrixWithEigenvalues([8, 4, 2, 1, 0.5, -3], 1);
  const q = quadraticObjective(a, W0);
  const v = [1, -2, 0.5, 0, 3, -1];
  const expected = matVec(a, v);
  const vt = [tf.tensor1d(v)];
  for (const method of ['double-backprop', 'finite-difference', 'auto'] as const) {
    // The product belongs to the caller: read and dispose it inside the leak check.
    const { got, used } = clean(q, () => {
      const { product, method: m } = hessianVectorProduct(q, vt, { method });
      const values = Array.from(product[0].dataSync());
      tf.dispose(product);
      return { got: values, used: m };
    });
    const scale = Math.hypot(...expected);
    got.forEach((g, i) => assert.ok(Math.abs(g - expected[i]) <= 1e-4 * scale, `${method}[${i}]: ${g} vs ${expected[i]}`));
    // The quadratic's ops (MatMul, Mul, Sum) differentiate twice correctly, so 'auto' keeps double back-prop.
    if (method === 'auto') assert.equal(used, 'double-backprop');
    else assert.equal(used, method);
  }
  tf.dispose(vt);
  q.dispose();
});

test('top eigenvalue of 0.5 wᵀAw matches A to 1e-3 with both methods', () => {
  const a = matrixWithEigenvalues([10, 5, 3, 1, 0.5, 0.2], 2);
  const want = dominantEigenvalue(a);
  assert.ok(Math.abs(want - 10) < 1e-9);
  const q = quadraticObjective(a, W0);
  for (const method of ['double-backprop', 'finite-difference'] as const) {
    const r = clean(q, () => hessianTopEigenvalue(q, { method, tol: 1e-6, maxIterations: 200, seed: 3 }));
    assert.equal(r.method, method);
    assert.ok(r.converged, `${method} did not converge`);
    assert.ok(r.iterations >= 2 && r.iterations < 200);
    assert.ok(relErr(r.value, want) < 1e-3, `${method}: ${r.value} vs ${want}`);
  }
  q.dispose();
});

test('power iteration finds the eigenvalue of largest magnitude, negative included', () => {
  // Spectrum {-6, 3, 2, 1, 0.5, 0.1}: the dominant eigenvalue is -6, not the largest (3).
  const a = matrixWithEigenvalues([-6, 3, 2, 1, 0.5, 0.1], 4);
  const q = quadraticObjective(a, W0);
  const r = clean(q, () => hessianTopEigenvalue(q, { tol: 1e-6, maxIterations: 200 }));
  assert.ok(r.converged);
  assert.ok(relErr(r.value, -6) < 1e-3, `got ${r.value}`);
  q.dispose();
});

test('fewer iterations than needed: converged false and iterations = cap', () => {
  const a = matrixWithEigenvalues([10, 9.9, 3, 1, 0.5, 0.2], 5);
  const q = quadraticObjective(a, W0);
  const r = clean(q, () => hessianTopEigenvalue(q, { tol: 1e-9, maxIterations: 3 }));
  assert.equal(r.converged, false);
  assert.equal(r.iterations, 3);
  q.dispose();
});

test('Hutchinson trace is exact for a diagonal A (zero variance)', () => {
  const diag = [4, -1, 2.5, 0.5, 3, 1];
  const a = diag.map((d, i) => diag.map((_, j) => (i === j ? d : 0)));
  const q = quadraticObjective(a, W0);
  const r = clean(q, () => hessianTrace(q, { samples: 5, seed: 1 }));
  const trace = diag.reduce((s, d) => s + d, 0);
  assert.ok(relErr(r.value, trace) < 1e-4, `${r.value} vs ${trace}`);
  assert.ok(r.stdError < 1e-4 * trace);
  assert.equal(r.samples, 5);
  q.dispose();
});

test('Hutchinson trace: diagonally dominant A to 1e-3, dense A within its standard error', () => {
  // Per-probe variance is 2 Σ_{i≠j} A_ij². Off-diagonals of 1e-3 on a 6x6 A with trace 15 give a
  // per-probe sd of 0.0077, so 100 probes have standard error 7.7e-4 ~ 5e-5 relative: 1e-3 is ~20 SE.
  const diag = [4, 1, 2.5, 0.5, 3, 4];
  const rngOff = [0.7, -0.4, 1.1, -0.9, 0.3, 0.8, -1.2, 0.5, 0.2, -0.6, 1.0, -0.3, 0.9, -0.8, 0.4];
  const off = (scale: number): number[][] => {
    const m = diag.map((d, i) => diag.map((_, j) => (i === j ? d : 0)));
    let k = 0;
    for (let i = 0; i < 6; i++) for (let j = i + 1; j < 6; j++) m[i][j] = m[j][i] = scale * rngOff[k++];
    return m;
  };
  const trace = diag.reduce((s, d) => s + d, 0);
  const dominant = quadraticObjective(off(1e-3), W0);
  const r1 = clean(dominant, () => hessianTrace(dominant, { samples: 100, seed: 7 }));
  assert.ok(relErr(r1.value, trace) < 1e-3, `${r1.value} vs ${trace}`);
  dominant.dispose();

  const a = off(1);
  const dense = quadraticObjective(a, W0);
  const samples = 200;
  const r2 = clean(dense, () => hessianTrace(dense, { samples, seed: 8 }));
  let offSq = 0;
  for (let i = 0; i < 6; i++) for (let j = 0; j < 6; j++) if (i !== j) offSq += a[i][j] ** 2;
  const theoreticalSe = Math.sqrt((2 * offSq) / samples);
  // The estimated standard error matches the theory (a sample sd over 200 probes is within ~20%).
  assert.ok(Math.abs(r2.stdError / theoreticalSe - 1) < 0.35, `SE ${r2.stdError} vs theory ${theoreticalSe}`);
  // And the estimate lies within 4 standard errors of the truth (fails with probability < 1e-4).
  assert.ok(Math.abs(r2.value - trace) < 4 * theoreticalSe, `${r2.value} vs ${trace} (SE ${theoreticalSe})`);
  dense.dispose();
});

test("'auto' falls back to central differences when double back-prop throws, without leaking", () => {
  // clipByValue's gradient uses LogicalAnd, which has no gradient in tfjs: the second pass throws.
  const w = tf.variable(tf.tensor1d([0.5, -1, 2]));
  const obj: Objective = { vars: [w], loss: () => tf.tidy(() => tf.sum(tf.square(tf.clipByValue(w, -10, 10))) as tf.Scalar) };
  const r = clean(obj, () => hessianTopEigenvalue(obj, { tol: 1e-6 }));
  assert.equal(r.method, 'finite-difference');
  assert.match(r.methodReason, /threw: .*LogicalAnd/);
  assert.ok(relErr(r.value, 2) < 1e-3, `got ${r.value}`); // Hessian 2I
  assert.throws(() => hessianTopEigenvalue(obj, { method: 'double-backprop' }), /gradient/i);
  w.dispose();
});

test("'auto' avoids double back-prop where tfjs computes it silently wrong (ops saving their output)", () => {
  // L = Σ w·exp(w): Hessian diag((2+w)e^w). tfjs 4.22 drops the terms through Exp's saved output and
  // would give (1+w)e^w; the verification against central differences must catch that.
  const w0 = [0.2, 1.0, -0.5];
  const w = tf.variable(tf.tensor1d(w0));
  const obj: Objective = { vars: [w], loss: () => tf.tidy(() => tf.sum(tf.mul(w, tf.exp(w))) as tf.Scalar) };
  const want = Math.max(...w0.map((x) => (2 + x) * Math.exp(x)));
  const r = clean(obj, () => hessianTopEigenvalue(obj, { tol: 1e-6 }));
  assert.equal(r.method, 'finite-difference');
  assert.match(r.methodReason, /save their output: Exp/);
  assert.ok(relErr(r.value, want) < 1e-3, `got ${r.value} (${r.method}), want ${want}`);
  w.dispose();
});

test('options are validated with the option named', () => {
  const q = quadraticObjective([[1]], [1]);
  assert.throws(() => hessianTopEigenvalue(q, { tol: 0 }), /tol must be a finite number > 0/);
  assert.throws(() => hessianTopEigenvalue(q, { maxIterations: 1.5 }), /maxIterations must be an integer >= 2/);
  assert.throws(() => hessianTopEigenvalue(q, { seed: 0.5 }), /seed must be an integer/);
  assert.throws(
    () => hessianTopEigenvalue(q, { method: 'exact' as never }),
    /method must be one of 'auto', 'double-backprop', 'finite-difference'/,
  );
  assert.throws(() => hessianTopEigenvalue(q, { fdRelativeStep: 1 }), /fdRelativeStep must be a finite number > 0 and <= 0.1/);
  assert.throws(() => hessianTrace(q, { samples: 1 }), /samples must be an integer >= 2/);
  assert.throws(() => hessianTrace({ vars: [], loss: q.loss }), /obj.vars must be a non-empty array/);
  assert.throws(() => hessianVectorProduct(q, []), /v must hold one tensor per obj.vars entry/);
  q.dispose();
});
