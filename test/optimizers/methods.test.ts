/**
 * Freeing what the method table builds: `disposeMethodOptimizer` leaves no tensor behind for any
 * row with any base it takes, after steps (slots, stored directions, random states) or none,
 * including the one tensor tfjs's momentum optimiser forgets when plain SGD hands back the base.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { disposeMethodOptimizer, exampleLosses, METHODS, methodOptions, SharpnessAwareOptimizer } from '../../src/index.js';

const BASES: Record<string, () => tf.Optimizer> = {
  sgd: () => tf.train.sgd(0.1),
  momentum: () => tf.train.momentum(0.1, 0.9),
  adam: () => tf.train.adam(0.01),
};

test("disposeMethodOptimizer frees every row's optimiser, with every base it takes, stepped or not", () => {
  const w = tf.variable(tf.tensor1d([0.5, -0.3, 0.8]), true, 'methods-test-w');
  const x = tf.tensor2d([1, 2, 0.5, -1, 0, 1, 0.3, 0.3, 2, -0.5, 1, 1], [4, 3]);
  const t = tf.tensor1d([1, -1, 0.5, 2]);
  // One squared error per example (ESAM's data selection needs them), or their mean.
  const perExample = (rows: tf.Tensor1D | null): tf.Tensor1D =>
    tf.tidy(() => {
      const xs = rows === null ? x : tf.gather(x, rows);
      const ts = rows === null ? t : tf.gather(t, rows);
      return tf.square(tf.sub(tf.reshape(tf.matMul(xs, tf.reshape(w, [3, 1])), [-1]), ts)) as tf.Tensor1D;
    });
  try {
    for (const row of METHODS) {
      for (const [baseName, makeBase] of Object.entries(BASES)) {
        if ((row.check?.({}, { name: baseName }) ?? []).length > 0) continue;
        for (const steps of [0, 3]) {
          const start = tf.memory().numTensors;
          const opt = row.create(methodOptions(row.name, {}, { base: makeBase(), rho: 0.05 }));
          for (let i = 0; i < steps; i++) {
            if (opt instanceof SharpnessAwareOptimizer && opt.needsExampleLosses) opt.minimize(exampleLosses(4, perExample), false, [w]);
            else opt.minimize(() => tf.mean(perExample(null)), false, [w]);
          }
          disposeMethodOptimizer(opt);
          assert.equal(tf.memory().numTensors, start, `${row.name} on ${baseName} after ${steps} steps`);
        }
      }
    }
  } finally {
    tf.dispose([w, x, t]);
  }
});

test('without it, plain SGD on momentum would leak a tensor (what the function is for)', () => {
  const start = tf.memory().numTensors;
  const opt = METHODS.find((r) => r.name === 'sgd')!.create(methodOptions('sgd', {}, { base: tf.train.momentum(0.1, 0.9), rho: 0 }));
  opt.dispose();
  assert.equal(
    tf.memory().numTensors,
    start + 1,
    "tfjs's Momentum.dispose() frees everything now: disposeMethodOptimizer's extra step may go",
  );
  disposeMethodOptimizer(opt); // a second dispose of the base is harmless
  assert.equal(tf.memory().numTensors, start);
});
