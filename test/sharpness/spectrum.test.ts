/**
 * The spectrum measures on quadratics 0.5 wᵀAw, whose Hessian A = Q diag(λ) Qᵀ is built from a chosen
 * spectrum λ (helpers.ts): the top-k eigenvalues, their eigenvectors and the spectral density against
 * the known λ, restarts for repeated eigenvalues, the quadrature's properties, seeding, weights and
 * tensors left as they were, and the rejection of bad options.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import {
  hessianSpectralDensity,
  hessianTopEigenvalue,
  hessianTopEigenvalues,
  hessianLayerSharpness,
  measureSharpness,
  modelObjective,
} from '../../src/sharpness/index.js';
import { Rng } from '../../src/util/random.js';
import { clean, eigenDecomposedMatrix, matrixWithEigenvalues, matVec, quadraticObjective, relErr, type Matrix } from './helpers.js';
import { integral, mixtureDensity, trace } from './spectrumHelpers.js';

tf.setBackend('cpu');

const W0 = [0.3, -1.2, 0.8, 2.0, -0.5, 0.1];
const descending = (xs: number[]): number[] => [...xs].sort((a, b) => b - a);
const diagonal = (d: number[]): Matrix => d.map((x, i) => d.map((_, j) => (i === j ? x : 0)));

function assertClose(got: number[], want: number[], rel: number, what: string): void {
  assert.equal(got.length, want.length, `${what}: ${got.length} values, want ${want.length}`);
  const scale = Math.max(...want.map(Math.abs));
  got.forEach((g, i) =>
    assert.ok(Math.abs(g - want[i]) <= rel * Math.max(Math.abs(want[i]), 1e-3 * scale), `${what}[${i}]: ${g} vs ${want[i]}`),
  );
}

test('top-k of 6x6 quadratics: distinct, repeated and negative eigenvalues, within 1e-4 relative', () => {
  const spectra = [
    [10, 5, 3, 1, 0.5, 0.2],
    [10, 10, 5, 3, 1, 0.5],
    [4, 4, 4, 4, 4, 4],
    [10, 10, 10, 5, 3, 1],
    [-6, 3, 2, 1, 0.5, 0.1],
    [-1, -2, -3, -4, -5, -6],
  ];
  for (const [s, lambdas] of spectra.entries()) {
    const q = quadraticObjective(matrixWithEigenvalues(lambdas, 10 + s), W0);
    for (const k of [1, 3, 6]) {
      const r = clean(q, () => hessianTopEigenvalues(q, { k, tol: 1e-6 }));
      assertClose(r.values, descending(lambdas).slice(0, k), 1e-4, `spectrum ${lambdas}, k ${k}`);
      assert.deepEqual(r.converged, new Array(k).fill(true));
      assert.equal(r.method, 'double-backprop');
      assert.ok(r.iterations <= 6, 'a 6-dimensional space is spanned in 6 steps');
      assert.ok(r.residuals.every((x) => x >= 0 && x <= 1e-5 * 10));
    }
    q.dispose();
  }
});

test('top-k is the algebraically largest, unlike power iteration, which finds the largest magnitude', () => {
  const q = quadraticObjective(matrixWithEigenvalues([-6, 3, 2, 1, 0.5, 0.1], 4), W0);
  const power = clean(q, () => hessianTopEigenvalue(q, { tol: 1e-6, maxIterations: 200 }));
  const lanczos = clean(q, () => hessianTopEigenvalues(q, { k: 1 }));
  assert.ok(relErr(power.value, -6) < 1e-3, `power iteration: ${power.value}`);
  assert.ok(relErr(lanczos.values[0], 3) < 1e-4, `Lanczos: ${lanczos.values[0]}`);
  q.dispose();
});

test('repeated eigenvalues in a larger space: the process restarts in the rest of the space and finds every copy', () => {
  // 60 dimensions but only 7 distinct eigenvalues: one Krylov sequence is invariant after 7 steps
  // and holds each value once; the copies of 9 and 7 are only reached by restarting.
  const rng = new Rng(3);
  const bulk = Array.from({ length: 54 }, () => [1, 0.5, 0, -1][rng.int(4)]);
  const lambdas = [9, 9, 9, 7, 7, 5, ...bulk];
  const q = quadraticObjective(
    matrixWithEigenvalues(lambdas, 8),
    Array.from({ length: 60 }, (_, i) => Math.sin(i)),
  );
  const r = clean(q, () => hessianTopEigenvalues(q, { k: 6 }));
  assertClose(r.values, [9, 9, 9, 7, 7, 5], 1e-4, 'top-6');
  assert.ok(r.restarts >= 2, `restarts ${r.restarts}`);
  assert.ok(r.iterations < 60, `stopped after ${r.iterations} products, before spanning the space`);
  assert.deepEqual(r.converged, new Array(6).fill(true));
  q.dispose();
});

test('a 200-dimensional quadratic with a bulk and outliers: top-5 converge long before 200 products', () => {
  const rng = new Rng(4);
  const lambdas = [20, 15, 12, 10, 9, ...Array.from({ length: 195 }, () => -1 + 4 * rng.next())];
  const q = quadraticObjective(
    matrixWithEigenvalues(lambdas, 9),
    Array.from({ length: 200 }, (_, i) => Math.cos(i)),
  );
  const r = clean(q, () => hessianTopEigenvalues(q, { k: 5, seed: 2 }));
  assertClose(r.values, [20, 15, 12, 10, 9], 1e-4, 'top-5');
  assert.deepEqual(r.converged, [true, true, true, true, true]);
  assert.ok(r.iterations < 100, `${r.iterations} products`);
  assert.equal(r.restarts, 0);
  // With a cap below what convergence needs, the result says so.
  const capped = clean(q, () => hessianTopEigenvalues(q, { k: 5, seed: 2, maxIterations: 6 }));
  assert.equal(capped.iterations, 6);
  assert.ok(capped.converged.includes(false), `converged ${capped.converged}`);
  q.dispose();
});

test('eigenvectors: unit, orthogonal, A y = θ y; the caller owns and frees them', () => {
  const { a, q: eigvecs } = eigenDecomposedMatrix([10, 5, 3, 1, 0.5, 0.2], 6);
  const q = quadraticObjective(a, W0);
  const before = tf.memory().numTensors;
  const r = hessianTopEigenvalues(q, { k: 3, eigenvectors: true, tol: 1e-6 });
  assert.equal(r.eigenvectors?.length, 3);
  assert.equal(tf.memory().numTensors, before + 3, 'one tensor per variable per eigenvector');
  const ys = r.eigenvectors!.map((v) => Array.from(v[0].dataSync()));
  for (const v of r.eigenvectors!) tf.dispose(v);
  assert.equal(tf.memory().numTensors, before);
  ys.forEach((y, i) => {
    assert.ok(Math.abs(Math.hypot(...y) - 1) < 1e-6);
    const ay = matVec(a, y);
    const res = Math.hypot(...ay.map((v, j) => v - r.values[i] * y[j]));
    assert.ok(res < 1e-4, `residual ${res}`);
    // The eigenvector of a simple eigenvalue is unique up to sign: |<y, q_i>| = 1.
    const overlap = Math.abs(y.reduce((s, v, j) => s + v * eigvecs[i][j], 0));
    assert.ok(Math.abs(overlap - 1) < 1e-5, `overlap with the true eigenvector ${overlap}`);
    for (let j = 0; j < i; j++) assert.ok(Math.abs(y.reduce((s, v, l) => s + v * ys[j][l], 0)) < 1e-5);
  });
  q.dispose();
});

test('spectral density of a diagonal quadratic: Ritz values are the eigenvalues, weights their multiplicities / n', () => {
  // A normalised Rademacher start has (e_iᵀv)² = 1/n for every i, so with A diagonal the quadrature
  // puts weight (multiplicity)/n on each distinct eigenvalue, whatever the seed.
  const lambdas = [10, 10, 5, 3, -2, 0.5];
  const q = quadraticObjective(diagonal(lambdas), W0);
  const d = clean(q, () => hessianSpectralDensity(q, { runs: 3, seed: 5 }));
  assert.equal(d.runs.length, 3);
  for (const run of d.runs) {
    assertClose(run.ritzValues, [-2, 0.5, 3, 5, 10], 1e-5, 'Ritz values');
    assertClose(
      run.weights,
      [1, 1, 1, 1, 2].map((m) => m / 6),
      1e-5,
      'weights',
    );
    assert.equal(run.iterations, 5, 'the Krylov space is invariant after 5 distinct eigenvalues');
  }
  assert.equal(d.iterations, 15);
  assert.ok(relErr(d.sigma, 12 / 100) < 1e-5, 'default sigma: 1 % of the spread of the Ritz values');
  assert.ok(Math.abs(integral(d.grid, d.density) - 1) < 1e-6, `integral ${integral(d.grid, d.density)}`);
  assert.ok(d.density.every((x) => x >= 0));
  assert.equal(d.grid.length, 512);
  assert.ok(d.grid[0] < -2 - 5.5 * d.sigma && d.grid[511] > 10 + 5.5 * d.sigma, 'the grid reaches 6 sigma beyond the extremes');
  q.dispose();
});

test('spectral density: on a fine grid the cell averages equal the Gaussian mixture, for any sigma; mass 1 on a coarse grid too', () => {
  const lambdas = [10, 5, 3, 1, 0.5, 0.2];
  const q = quadraticObjective(matrixWithEigenvalues(lambdas, 2), W0);
  for (const sigma of [0.05, 0.7]) {
    const fine = clean(q, () => hessianSpectralDensity(q, { runs: 2, sigma, gridPoints: 20000 }));
    assert.equal(fine.sigma, sigma);
    const peak = Math.max(...fine.density);
    fine.grid.forEach((t, i) => {
      if (i % 97 !== 0) return;
      const want = mixtureDensity(fine.runs, sigma, t);
      assert.ok(Math.abs(fine.density[i] - want) < 1e-4 * peak, `sigma ${sigma}, t ${t}: ${fine.density[i]} vs ${want}`);
    });
    assert.ok(Math.abs(integral(fine.grid, fine.density) - 1) < 1e-6);
    // 16 cells, each wider than sigma: a histogram of the smoothed spectrum, still of mass 1.
    const coarse = clean(q, () => hessianSpectralDensity(q, { runs: 2, sigma, gridPoints: 16 }));
    assert.ok(Math.abs(integral(coarse.grid, coarse.density) - 1) < 1e-6, `coarse integral ${integral(coarse.grid, coarse.density)}`);
  }
  q.dispose();
});

test('spectral density: each run is a Gauss quadrature of vᵀAv; the mean over runs estimates tr(A)/n', () => {
  const a = matrixWithEigenvalues([10, 5, 3, 1, 0.5, -0.2], 7);
  const q = quadraticObjective(a, W0);
  // Truncated runs (3 of 6 steps): Ritz values interlace, so they lie inside [λ_min, λ_max].
  const short = clean(q, () => hessianSpectralDensity(q, { runs: 4, iterations: 3 }));
  for (const run of short.runs) {
    assert.equal(run.ritzValues.length, 3);
    assert.ok(run.ritzValues.every((t) => t > -0.2 - 1e-5 && t < 10 + 1e-5));
    assert.ok(Math.abs(run.weights.reduce((s, w) => s + w, 0) - 1) < 1e-9);
  }
  // Σ_j τ_j θ_j = vᵀAv for the run's unit Rademacher v, whose mean is tr(A)/n; its variance is
  // 2 Σ_{i≠j} A_ij² / n² per run.
  const runs = 120;
  const d = clean(q, () => hessianSpectralDensity(q, { runs }));
  const firstMoments = d.runs.map((run) => run.ritzValues.reduce((s, t, j) => s + t * run.weights[j], 0));
  const mean = firstMoments.reduce((s, x) => s + x, 0) / runs;
  let offSq = 0;
  a.forEach((row, i) =>
    row.forEach((x, j) => {
      if (i !== j) offSq += x * x;
    }),
  );
  const se = Math.sqrt((2 * offSq) / 36 / runs);
  assert.ok(Math.abs(mean - trace(a) / 6) < 4 * se, `mean first moment ${mean} vs tr/n ${trace(a) / 6} (SE ${se})`);
  q.dispose();
});

test('same seed, same results; another seed, another start', () => {
  const q = quadraticObjective(matrixWithEigenvalues([10, 5, 3, 1, 0.5, 0.2], 3), W0);
  const topA = clean(q, () => hessianTopEigenvalues(q, { k: 2, seed: 7, maxIterations: 3 }));
  const topB = clean(q, () => hessianTopEigenvalues(q, { k: 2, seed: 7, maxIterations: 3 }));
  const topC = clean(q, () => hessianTopEigenvalues(q, { k: 2, seed: 8, maxIterations: 3 }));
  assert.deepEqual(topA, topB);
  assert.notDeepEqual(topA.values, topC.values);
  const dA = clean(q, () => hessianSpectralDensity(q, { runs: 2, iterations: 3, seed: 1 }));
  const dB = clean(q, () => hessianSpectralDensity(q, { runs: 2, iterations: 3, seed: 1 }));
  const dC = clean(q, () => hessianSpectralDensity(q, { runs: 2, iterations: 3, seed: 2 }));
  assert.deepEqual(dA, dB);
  assert.notDeepEqual(dA.runs, dC.runs);
  const lA = clean(q, () => hessianLayerSharpness(q, { seed: 3, samples: 2 }));
  const lB = clean(q, () => hessianLayerSharpness(q, { seed: 3, samples: 2 }));
  assert.deepEqual(lA, lB);
  q.dispose();
});

test('bad options are rejected before any product, naming the option and the allowed range', () => {
  const q = quadraticObjective(matrixWithEigenvalues([3, 2, 1, 0.5, 0.2, 0.1], 1), W0);
  const before = tf.memory().numTensors;
  const cases: Array<[() => unknown, ErrorConstructor | TypeErrorConstructor | RangeErrorConstructor, RegExp]> = [
    [
      () => hessianTopEigenvalues(q, { k: 0 }),
      RangeError,
      /hessianTopEigenvalues: k must be an integer >= 1 and <= 6 \(the number of parameters\), got 0/,
    ],
    [() => hessianTopEigenvalues(q, { k: 7 }), RangeError, /k must be an integer >= 1 and <= 6 \(the number of parameters\), got 7/],
    [() => hessianTopEigenvalues(q, { k: 1.5 }), RangeError, /k must be an integer/],
    [() => hessianTopEigenvalues(q, { k: '2' as never }), TypeError, /k must be an integer/],
    [() => hessianTopEigenvalues(q, { tol: 0 }), RangeError, /tol must be a finite number > 0 and < 1, got 0/],
    [() => hessianTopEigenvalues(q, { k: 4, maxIterations: 3 }), RangeError, /maxIterations must be an integer >= 4 \(k\), got 3/],
    [() => hessianTopEigenvalues(q, { seed: 0.5 }), RangeError, /seed must be an integer/],
    [() => hessianTopEigenvalues(q, { eigenvectors: 'yes' as never }), TypeError, /eigenvectors must be a boolean/],
    [() => hessianTopEigenvalues(q, { method: 'exact' as never }), RangeError, /method must be one of/],
    [() => hessianTopEigenvalues(q, 5 as never), TypeError, /hessianTopEigenvalues: options must be an object/],
    [() => hessianSpectralDensity(q, { sigma: 0 }), RangeError, /hessianSpectralDensity: sigma must be a finite number > 0, got 0/],
    [() => hessianSpectralDensity(q, { sigma: -1 }), RangeError, /sigma must be a finite number > 0, got -1/],
    [() => hessianSpectralDensity(q, { sigma: Number.NaN }), RangeError, /sigma must be a finite number > 0/],
    [() => hessianSpectralDensity(q, { runs: 0 }), RangeError, /runs must be an integer >= 1, got 0/],
    [() => hessianSpectralDensity(q, { iterations: 0 }), RangeError, /iterations must be an integer >= 1, got 0/],
    [() => hessianSpectralDensity(q, { gridPoints: 1 }), RangeError, /gridPoints must be an integer >= 2 and <= 1000000, got 1/],
    [() => hessianLayerSharpness(q, { samples: 1 }), RangeError, /hessianLayerSharpness: samples must be an integer >= 2, got 1/],
    [() => hessianLayerSharpness(q, { maxIterations: 0 }), RangeError, /maxIterations must be an integer >= 1, got 0/],
    [
      () => measureSharpness({ ...q, examples: 6 }, { rho: 0.1, topK: 9 }),
      RangeError,
      /measureSharpness: topK must be an integer >= 1 and <= 6 \(the number of parameters\), got 9/,
    ],
    [
      () => measureSharpness({ ...q, examples: 6 }, { rho: 0.1, topK: { k: 2, tol: 2 } }),
      RangeError,
      /measureSharpness: topK.tol must be a finite number > 0 and < 1/,
    ],
    [
      () => measureSharpness({ ...q, examples: 6 }, { rho: 0.1, density: { sigma: 0 } }),
      RangeError,
      /measureSharpness: density.sigma must be a finite number > 0, got 0/,
    ],
    [
      () => measureSharpness({ ...q, examples: 6 }, { rho: 0.1, density: 'yes' as never }),
      TypeError,
      /density must be a boolean or an options object/,
    ],
    [
      () => measureSharpness({ ...q, examples: 6 }, { rho: 0.1, layers: { samples: 1 } }),
      RangeError,
      /measureSharpness: layers.samples must be an integer >= 2/,
    ],
  ];
  for (const [call, kind, message] of cases) {
    assert.throws(call, (err: unknown) => err instanceof kind && message.test((err as Error).message), `${message}`);
  }
  assert.equal(tf.memory().numTensors, before);
  q.dispose();
});

test('an empty data set is rejected, as tensors or as an example source', () => {
  const model = tf.sequential({ layers: [tf.layers.dense({ units: 2, inputShape: [2], activation: 'softmax' })] });
  const x = tf.zeros([0, 2]);
  const y = tf.zeros([0, 2]);
  assert.throws(
    () => modelObjective(model, x, y),
    (e: unknown) =>
      e instanceof RangeError && /x and y must hold the same positive number of examples, got 0 and 0/.test((e as Error).message),
  );
  assert.throws(
    () => modelObjective(model, { size: 0, chunk: () => ({ x, y }) }),
    (e: unknown) =>
      e instanceof RangeError &&
      /source.size must be a positive integer \(an empty data set has no loss\), got 0/.test((e as Error).message),
  );
  assert.throws(
    () => modelObjective(model, { size: 3 } as never),
    (e: unknown) => e instanceof TypeError && /ExampleSource/.test((e as Error).message),
  );
  assert.throws(() => modelObjective(model, x, y, { chunkSize: 0 }), RangeError);
  tf.dispose([x, y]);
  model.dispose();
});
