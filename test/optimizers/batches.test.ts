/**
 * m-sharpness (one perturbation per micro-batch) and gradient accumulation, on loss closures with
 * one loss per example: a micro-batch step against float64 arithmetic written out from the rule,
 * one micro-batch against the plain step, and accumulation over n parts against the step on their
 * union, for every method of the method table (SGD included).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import {
  METHODS,
  disposeStepResult,
  euclideanAscent,
  methodOptions,
  perturbedDescent,
  sharpnessAwareStep,
  surrogateGapDescent,
  type ExampleLossClosure,
} from '../../src/index.js';
import { assertClose, flatValues } from './helpers.js';
import { indices, LeastSquares, lsq, norm } from './lsq.js';
import { moonsBatch, reportMlp, trainableVars } from './mlp.js';

const EPS = 1e-12;
const XS = [
  [1, 0.5, -1],
  [0.2, -1, 0.3],
  [-0.7, 0.4, 1.2],
  [1.5, 1, 0.1],
  [0, -0.3, -0.8],
  [0.9, -1.2, 0.6],
  [-0.4, 0.8, 0.2],
];
const TS = [0.5, -1, 2, 0.3, -0.2, 1, 0.7];
const W0 = [0.3, -0.2, 0.5];

test('microBatches 2 on 7 examples: a perturbation per micro-batch (3 and 4 examples), directions averaged by size (float64 reference)', () => {
  const rho = 0.4;
  const p = new LeastSquares(XS, TS, W0);
  const r = sharpnessAwareStep(p.examples(), p.vars, { ascent: euclideanAscent(), descent: perturbedDescent(), rho, microBatches: 2 });
  const groups = [
    [0, 1, 2],
    [3, 4, 5, 6],
  ];
  const d = [0, 0, 0];
  let loss = 0;
  for (const idx of groups) {
    const g = lsq.grad(XS, TS, W0, idx);
    const wp = W0.map((wi, i) => wi + (rho * g[i]) / (norm(g) + EPS));
    const gp = lsq.grad(XS, TS, wp, idx);
    gp.forEach((x, i) => (d[i] += (idx.length / 7) * x));
    loss += idx.reduce((s, i) => s + lsq.loss(XS[i], TS[i], W0), 0) / 7;
  }
  assertClose(flatValues(r.gradients), d, 1e-6, 1e-5, 'd');
  assertClose(r.loss.dataSync(), [loss], 1e-6, 1e-5, 'the clean loss of the batch');
  assert.deepEqual(
    p.calls.map((c) => `${c.pass} ${c.n}`),
    ['clean 3', 'perturbed 3', 'clean 4', 'perturbed 4'],
  );
  disposeStepResult(r);
  p.dispose();
});

test('one micro-batch (and accumulation 1) with one loss per example is the plain step, bit for bit', () => {
  for (const descent of [perturbedDescent(), surrogateGapDescent({ alpha: 0.3 })]) {
    const p = new LeastSquares(XS, TS, W0);
    const config = { ascent: euclideanAscent(), descent, rho: 0.3, weightDecay: 0.01 };
    const plain = sharpnessAwareStep(p.mean, p.vars, config);
    const perExample = sharpnessAwareStep(p.examples(), p.vars, { ...config, microBatches: 1, accumulation: 1 });
    assert.deepEqual(flatValues(perExample.gradients), flatValues(plain.gradients), descent.name);
    assert.deepEqual(flatValues([perExample.loss, perExample.perturbedLoss]), flatValues([plain.loss, plain.perturbedLoss]));
    assert.deepEqual(
      p.calls.map((c) => `${c.pass} ${c.n}`),
      ['clean 7', 'perturbed 7'],
    );
    disposeStepResult(plain);
    disposeStepResult(perExample);
    p.dispose();
  }
});

/** The MLP's per-example cross-entropy on (x, y); counts the examples each pass sees. */
function mlpExamples(model: tf.LayersModel, x: tf.Tensor2D, y: tf.Tensor2D, seen: number[]): ExampleLossClosure {
  return {
    size: x.shape[0],
    losses: (idx) => {
      seen.push(idx === null ? x.shape[0] : idx.shape[0]);
      return tf.tidy(() => {
        const xs = idx === null ? x : tf.gather(x, idx);
        const ys = idx === null ? y : tf.gather(y, idx);
        return tf.metrics.categoricalCrossentropy(ys, model.predict(xs) as tf.Tensor) as tf.Tensor1D;
      });
    },
  };
}

test('accumulation over 4 parts equals one step on their union (float32 tolerance), for every method of the table, SGD included', () => {
  const { x, y } = moonsBatch(30, 0.2, 6);
  const start = tf.memory().numTensors;
  for (const row of METHODS) {
    const settings: Record<string, unknown> = { ...row.defaults, ...(row.name === 'looksam' ? { k: 2 } : {}) };
    const train = (accumulation: number): { w: number[]; parts: number[] } => {
      const model = reportMlp(7);
      const vars = trainableVars(model);
      const base = tf.train.momentum(0.05, 0.9);
      const rho = (settings.rho as number | undefined) ?? 0;
      const opt = row.create(methodOptions(row.name, { ...settings, accumulation }, { base, rho, weightDecay: 1e-3, seed: 3 }));
      const seen: number[] = [];
      const f = mlpExamples(model, x, y, seen);
      for (let s = 0; s < 5; s++) (opt.minimize as (f: unknown, r: boolean, v: tf.Variable[]) => void)(f, false, vars);
      const w = flatValues(vars);
      opt.dispose();
      model.dispose();
      return { w, parts: seen };
    };
    const whole = train(1);
    const parts = train(4);
    assert.ok(
      whole.parts.every((n) => n <= 30),
      `${row.name}: whole-batch passes`,
    );
    assert.ok(
      parts.parts.every((n) => n <= 8),
      `${row.name}: no pass of the accumulated run sees more than a part (30 / 4 rounded up), got ${parts.parts.join(',')}`,
    );
    assertClose(parts.w, whole.w, 2e-6, 1e-4, `${row.name}: weights after 5 steps`);
  }
  assert.equal(tf.memory().numTensors, start);
  tf.dispose([x, y]);
});

test("accumulation on the least-squares problem: 3 parts of 7 examples (2, 2, 3) give the whole batch's SAM direction (float64 reference)", () => {
  const rho = 0.4;
  const p = new LeastSquares(XS, TS, W0);
  const r = sharpnessAwareStep(p.examples(), p.vars, { ascent: euclideanAscent(), descent: perturbedDescent(), rho, accumulation: 3 });
  const all = indices(7);
  const g = lsq.grad(XS, TS, W0, all);
  const wp = W0.map((wi, i) => wi + (rho * g[i]) / (norm(g) + EPS));
  assertClose(flatValues(r.gradients), lsq.grad(XS, TS, wp, all), 1e-6, 1e-5, 'd = g_p of the whole batch');
  assert.deepEqual(
    p.calls.map((c) => `${c.pass} ${c.n}`),
    ['clean 2', 'clean 2', 'clean 3', 'perturbed 2', 'perturbed 2', 'perturbed 3'],
  );
  disposeStepResult(r);
  p.dispose();
});
