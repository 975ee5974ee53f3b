/**
 * The runner's loss as one kernel (src/backend/cross-entropy.ts): per-example values as the ops
 * compute them on cpu, the gradient bit for bit, through the clip (probabilities below epsilon, above
 * 1, NaN) and for soft labels; one kernel each way; nothing leaked.
 */
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/backend/index.js';
import { clippedCrossEntropy } from '../../src/backend/cross-entropy.js';
import { CROSS_ENTROPY_GRAD_KERNEL, CROSS_ENTROPY_KERNEL } from '../../src/backend/kernels/cross-entropy.js';
import { uniform } from './helpers.js';

before(async () => {
  const info = await initBackend({ backend: 'wasm', threads: 1 });
  assert.equal(info.name, 'wasm');
});

const EPS = 1e-7;
// Rows of 4 classes, with probabilities under epsilon (0, 1e-9), at and above 1, and a NaN.
const PROBS = [0.1, 0.2, 0.3, 0.4, 0, 1e-9, 0.5, 0.5, 1, 0, 0, 0, 1.5, 0.25, 0.25, 0.25, NaN, 0.3, 0.3, 0.4, 0.97, 0.01, 0.01, 0.01];
const ONE_HOT = [0, 0, 1, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 1];
const SOFT = Array.from(uniform(24, 5, 0, 1));

/** Values, d/dprobs (weighted per example) and d/dlabels on the current backend. */
function lossAndGrads(probs: number[], labels: number[]): Float32Array[] {
  return tf.tidy(() => {
    const p = tf.tensor2d(probs, [6, 4]);
    const y = tf.tensor2d(labels, [6, 4]);
    const w = tf.tensor1d([1, -2, 0.5, 3, 1, 0.25]);
    const f = (p: tf.Tensor, y: tf.Tensor): tf.Scalar => tf.sum(tf.mul(clippedCrossEntropy(p, y, EPS), w));
    const [dp, dy] = tf.grads(f)([p, y]);
    return [clippedCrossEntropy(p, y, EPS), dp!, dy!].map((t) => Float32Array.from(t.dataSync()));
  });
}

/** Equal NaN positions; elsewhere within `tol` relative to the largest finite |b|. */
function assertCloseWithNaN(a: Float32Array, b: Float32Array, what: string, tol: number): void {
  assert.equal(a.length, b.length);
  const scale = Math.max(1, ...Array.from(b).filter(Number.isFinite).map(Math.abs));
  a.forEach((v, i) => {
    if (Number.isNaN(b[i]!)) assert.ok(Number.isNaN(v), `${what}: element ${i} is ${v}, not NaN`);
    else assert.ok(Math.abs(v - b[i]!) <= tol * scale, `${what}: element ${i}: ${v} vs ${b[i]}`);
  });
}

async function on(backend: string, fn: () => Float32Array[]): Promise<Float32Array[]> {
  await tf.setBackend(backend);
  try {
    return fn();
  } finally {
    await tf.setBackend('wasm');
  }
}

describe('clipped cross-entropy kernel', () => {
  for (const [name, labels] of [
    ['one-hot', ONE_HOT],
    ['soft', SOFT],
  ] as const) {
    test(`${name} labels: values as the ops on cpu, d/dprobs bit for bit, d/dlabels to tolerance`, async () => {
      const wasm = await on('wasm', () => lossAndGrads(PROBS, labels));
      const cpu = await on('cpu', () => lossAndGrads(PROBS, labels));
      assertCloseWithNaN(wasm[0]!, cpu[0]!, 'values', 1e-6);
      assert.deepEqual(Array.from(wasm[1]!), Array.from(cpu[1]!), 'd/dprobs');
      assertCloseWithNaN(wasm[2]!, cpu[2]!, 'd/dlabels', 1e-6);
      assert.ok(Number.isNaN(wasm[0]![4]!) && Number.isFinite(wasm[0]![1]!), 'NaN row stays NaN, a clipped zero stays finite');
    });
  }

  test('runs as one kernel forward and one backward on wasm', async () => {
    const profile = await tf.profile(() =>
      tf.tidy(() =>
        tf.grad((p: tf.Tensor) => tf.mean(clippedCrossEntropy(p, tf.tensor2d(ONE_HOT, [6, 4]), EPS)))(tf.tensor2d(PROBS, [6, 4])),
      ),
    );
    tf.dispose(profile.result as tf.Tensor);
    const names = profile.kernels.map((k) => k.name);
    assert.ok(names.includes(CROSS_ENTROPY_KERNEL) && names.includes(CROSS_ENTROPY_GRAD_KERNEL), names.join(' '));
    assert.ok(!names.includes('Log') && !names.includes('ClipByValue'), names.join(' '));
  });

  test('no tensor left after 200 gradients', () => {
    const before = tf.memory().numTensors;
    const p = tf.tensor2d(PROBS, [6, 4]);
    const y = tf.tensor2d(ONE_HOT, [6, 4]);
    for (let i = 0; i < 200; i++) tf.grad((q: tf.Tensor) => tf.mean(clippedCrossEntropy(q, y, EPS)))(p).dispose();
    tf.dispose([p, y]);
    assert.equal(tf.memory().numTensors, before);
  });
});
