/**
 * Importing src/sharpness registers second-order gradients (secondOrder.ts); this checks that a
 * first-order CNN training step is bit-identical before and after that registration, on cpu and wasm.
 * src/sharpness is imported dynamically, in the middle of the test, so the "before" really is before.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/backend/index.js';
import { examples, exampleTensors, tinyCnn } from './tinyModels.js';

/** One SGD step (lr 0.1) of the tiny CNN's cross-entropy from weights `start`; returns the new weights. */
function sgdStep(model: tf.Sequential, start: Float32Array[], x: tf.Tensor, y: tf.Tensor): Float32Array[] {
  const vars = model.trainableWeights.map((w) => w.read() as tf.Variable);
  tf.tidy(() => vars.forEach((v, i) => v.assign(tf.tensor(start[i], v.shape))));
  tf.tidy(() => {
    const { grads } = tf.variableGrads(() => tf.mean(tf.losses.softmaxCrossEntropy(y, model.apply(x) as tf.Tensor)) as tf.Scalar, vars);
    vars.forEach((v) => v.assign(tf.sub(v, tf.mul(grads[v.name], 0.1))));
  });
  return vars.map((v) => Float32Array.from(v.dataSync()));
}

test('registering the second-order gradients leaves a first-order CNN step bit-identical (cpu, wasm)', async () => {
  const ex = examples(6, [6, 6, 1], 2, 11);
  const before: Record<string, Float32Array[]> = {};
  const backends = ['cpu', 'wasm'] as const;
  for (const backend of backends) {
    await initBackend({ backend });
    const model = tinyCnn(21);
    const { x, y } = exampleTensors(ex, 2);
    const start = model.trainableWeights.map((w) => Float32Array.from(w.read().dataSync()));
    assert.equal(tf.getGradient('MaxPoolGrad'), undefined, 'test premise: nothing registered yet');
    before[backend] = sgdStep(model, start, x, y);
    model.dispose();
    tf.dispose([x, y]);
  }
  await import('../../src/sharpness/index.js');
  assert.notEqual(tf.getGradient('MaxPoolGrad'), undefined);
  assert.notEqual(tf.getGradient('Conv2DBackpropFilter'), undefined);
  for (const backend of backends) {
    await initBackend({ backend });
    const model = tinyCnn(21);
    const { x, y } = exampleTensors(ex, 2);
    const start = model.trainableWeights.map((w) => Float32Array.from(w.read().dataSync()));
    const n0 = tf.memory().numTensors;
    const after = sgdStep(model, start, x, y);
    assert.equal(tf.memory().numTensors, n0, 'tensors leaked');
    after.forEach((w, i) => assert.deepEqual(w, before[backend][i], `${backend}: weight ${i} differs`));
    // The step moved the weights (the comparison is not vacuous).
    assert.ok(after.some((w, i) => w.some((v, j) => v !== start[i][j])));
    model.dispose();
    tf.dispose([x, y]);
  }
});
