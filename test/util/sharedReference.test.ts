/**
 * sharedReference (src/util/sharedReference.ts): a second tensor on the same buffer, with no kernel
 * call, on wasm and cpu; the buffer outlives either tensor alone; nothing leaked.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/backend/index.js';
import { sharedReference } from '../../src/util/sharedReference.js';

for (const backend of ['wasm', 'cpu'] as const) {
  test(`${backend}: same buffer and values, no kernel call, each tensor freed on its own`, async () => {
    await initBackend(backend === 'wasm' ? { backend, threads: 1 } : { backend });
    const before = tf.memory();
    const init = tf.tensor2d([1.5, -2, 3, 0.25], [2, 2]);
    const v: tf.Variable = tf.variable(init);
    init.dispose();
    const profile = await tf.profile(() => {
      const r = sharedReference(v);
      return [r];
    });
    const r = profile.result as unknown as tf.Tensor[];
    const ref = r[0]!;
    assert.equal(profile.kernels.length, 0, profile.kernelNames.join(' '));
    assert.equal(ref.dataId, v.dataId);
    assert.deepEqual(Array.from(ref.dataSync()), [1.5, -2, 3, 0.25]);
    // Moving the variable leaves the reference on the old buffer, alive.
    const doubled = tf.mul(v, 2);
    v.assign(doubled);
    doubled.dispose();
    assert.deepEqual(Array.from(ref.dataSync()), [1.5, -2, 3, 0.25]);
    assert.deepEqual(Array.from(v.dataSync()), [3, -4, 6, 0.5]);
    v.assign(ref);
    ref.dispose();
    assert.deepEqual(Array.from(v.dataSync()), [1.5, -2, 3, 0.25]);
    v.dispose();
    assert.equal(tf.memory().numTensors, before.numTensors);
    assert.equal(tf.memory().numDataBuffers, before.numDataBuffers);
  });
}
