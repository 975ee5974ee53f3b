/**
 * Test helpers for src/sharpness: quadratic objectives with known Hessians, a small Jacobi eigen-solver
 * (hand-written: the tests must not trust the code they check, and no tiny dense eigen-solver is
 * installed), and weight fingerprints to check that nothing changed.
 */
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { Rng } from '../../src/util/random.js';
import type { Objective } from '../../src/sharpness/index.js';

export type Matrix = number[][];

/** L(w) = 0.5 wᵀAw over one variable w (A symmetric): Hessian A everywhere. */
export function quadraticObjective(a: Matrix, w0: number[]): Objective & { a: tf.Tensor2D; dispose: () => void } {
  const n = a.length;
  const at = tf.tensor2d(a, [n, n], 'float32');
  const w = tf.variable(tf.tensor1d(w0, 'float32'));
  const loss = () => tf.tidy(() => tf.mul(0.5, tf.sum(tf.mul(w, tf.squeeze(tf.matMul(at, tf.reshape(w, [n, 1])))))) as tf.Scalar);
  return { vars: [w], loss, a: at, dispose: () => tf.dispose([at, w]) };
}

/** Q diag(lambdas) Qᵀ with a random orthogonal Q (Gram-Schmidt of a seeded Gaussian matrix). */
export function matrixWithEigenvalues(lambdas: number[], seed: number): Matrix {
  return eigenDecomposedMatrix(lambdas, seed).a;
}

/** A = Σ_k lambdas[k] q_k q_kᵀ and its orthonormal eigenvectors q (rows). */
export function eigenDecomposedMatrix(lambdas: number[], seed: number): { a: Matrix; q: Matrix } {
  const n = lambdas.length;
  const rng = new Rng(seed);
  const q: number[][] = [];
  for (let k = 0; k < n; k++) {
    let v = Array.from({ length: n }, () => rng.normal());
    for (const u of q) {
      const d = v.reduce((s, x, i) => s + x * u[i], 0);
      v = v.map((x, i) => x - d * u[i]);
    }
    const nv = Math.hypot(...v);
    q.push(v.map((x) => x / nv));
  }
  const a = Array.from({ length: n }, (_, i) =>
    Array.from({ length: n }, (_, j) => lambdas.reduce((s, l, k) => s + l * q[k][i] * q[k][j], 0)),
  );
  return { a, q };
}

/** Eigenvalues of a symmetric matrix by cyclic Jacobi rotations (float64). */
export function jacobiEigenvalues(m: Matrix): number[] {
  const n = m.length;
  const a = m.map((r) => r.slice());
  for (let sweep = 0; sweep < 100; sweep++) {
    let off = 0;
    for (let p = 0; p < n; p++) for (let q = p + 1; q < n; q++) off += a[p][q] ** 2;
    if (off < 1e-24) break;
    for (let p = 0; p < n; p++) {
      for (let q = p + 1; q < n; q++) {
        if (Math.abs(a[p][q]) < 1e-300) continue;
        const theta = (a[q][q] - a[p][p]) / (2 * a[p][q]);
        const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1);
        const s = t * c;
        for (let k = 0; k < n; k++) {
          const akp = a[k][p];
          const akq = a[k][q];
          a[k][p] = c * akp - s * akq;
          a[k][q] = s * akp + c * akq;
        }
        for (let k = 0; k < n; k++) {
          const apk = a[p][k];
          const aqk = a[q][k];
          a[p][k] = c * apk - s * aqk;
          a[q][k] = s * apk + c * aqk;
        }
      }
    }
  }
  return a.map((r, i) => r[i]);
}

/** The eigenvalue of largest magnitude (what power iteration finds). */
export function dominantEigenvalue(m: Matrix): number {
  return jacobiEigenvalues(m).reduce((best, l) => (Math.abs(l) > Math.abs(best) ? l : best), 0);
}

export function matVec(a: Matrix, v: number[]): number[] {
  return a.map((r) => r.reduce((s, x, j) => s + x * v[j], 0));
}

/** Exact copies of the variables' values, to compare bit for bit afterwards. */
export function fingerprint(vars: tf.Variable[]): Float32Array[] {
  return vars.map((v) => Float32Array.from(v.dataSync()));
}

export function relErr(a: number, b: number): number {
  return Math.abs(a - b) / Math.max(Math.abs(b), 1e-30);
}

/** Runs `body` and checks that it left no tensor behind and the weights bit-identical. */
export function clean<T>(obj: Objective, body: () => T): T {
  const before = tf.memory().numTensors;
  const weights = fingerprint(obj.vars);
  const out = body();
  assert.equal(tf.memory().numTensors, before, 'tensors leaked');
  assert.deepEqual(fingerprint(obj.vars), weights, 'weights changed');
  return out;
}
