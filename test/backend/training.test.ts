/**
 * End to end: CNN SGD steps on wasm (with our kernels) and on cpu from the same weights give the
 * same weights; many steps leak neither tensors nor wasm heap.
 */
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/backend/index.js';
import { assertClose } from './helpers.js';
import { initialWeights, trainSteps } from './fixtures/cnn-steps.js';

before(async () => {
  await initBackend({ backend: 'wasm', threads: 1 });
});

test('3 CNN SGD steps: wasm and cpu agree on the weights and losses', async () => {
  await tf.setBackend('cpu');
  const start = initialWeights();
  const before = tf.memory().numTensors;
  const cpu = trainSteps(start, 3);
  await tf.setBackend('wasm');
  const wasm = trainSteps(start, 3);
  assert.equal(tf.memory().numTensors, before);
  assert.ok(cpu.losses[2]! < cpu.losses[0]!, 'the loss goes down');
  cpu.losses.forEach((l, i) => assert.ok(Math.abs(l - wasm.losses[i]!) < 1e-4 * (1 + Math.abs(l)), `loss ${i}: ${l} vs ${wasm.losses[i]}`));
  cpu.weights.forEach((w, i) => {
    let moved = 0;
    w.forEach((v, j) => (moved = Math.max(moved, Math.abs(v - start[i]![j]!))));
    assert.ok(moved > 0, `weight ${i} changed`);
    assertClose(wasm.weights[i]!, w, `weight ${i}`, 1e-4);
  });
});

test('many wasm steps leak no tensors and no wasm heap', async () => {
  await tf.setBackend('wasm');
  const backend = tf.backend() as unknown as { numDataIds(): number; wasm: { HEAPU8: Uint8Array } };
  const start = initialWeights();
  trainSteps(start, 2); // warm-up: the heap reaches its working size
  const tensors = tf.memory().numTensors;
  const dataIds = backend.numDataIds();
  const heap = backend.wasm.HEAPU8.length;
  for (let r = 0; r < 4; r++) trainSteps(start, 5);
  assert.equal(tf.memory().numTensors, tensors, 'tensors');
  assert.equal(backend.numDataIds(), dataIds, 'wasm data ids');
  assert.equal(backend.wasm.HEAPU8.length, heap, 'wasm heap grew');
});
