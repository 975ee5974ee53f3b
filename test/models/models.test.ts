import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { createCnn, createMlp } from '../../src/models/index.js';

function weightValues(model: tf.Sequential): Float32Array[] {
  return model.getWeights().map((w) => w.dataSync() as Float32Array);
}

/** Creates a model, runs `check` on it, disposes it, and asserts no tensor was leaked. */
function withModel(make: () => tf.Sequential, check: (model: tf.Sequential) => void): void {
  const before = tf.memory().numTensors;
  const model = make();
  try {
    check(model);
  } finally {
    model.dispose();
  }
  assert.equal(tf.memory().numTensors, before, 'tensors leaked');
}

test('createMlp builds the 2-32-32-32-2 ReLU net with a softmax output', () => {
  withModel(
    () => createMlp({ seed: 0 }),
    (model) => {
      // 3 hidden layers (2*32+32, 32*32+32, 32*32+32) and the output (32*2+2).
      assert.equal(model.countParams(), 96 + 1056 + 1056 + 66);
      assert.deepEqual(
        model.getWeights().map((w) => w.shape),
        [[2, 32], [32], [32, 32], [32], [32, 32], [32], [32, 2], [2]],
      );
      assert.deepEqual(
        model.layers.map((l) => (l.getConfig() as { activation?: string }).activation),
        ['relu', 'relu', 'relu', 'softmax'],
      );
      assert.deepEqual(model.outputs[0].shape, [null, 2]);
      const probs = tf.tidy(
        () =>
          model.predict(
            tf.tensor2d([
              [0, 0],
              [1, -0.5],
              [-1, 0],
              [2, 0.5],
              [0.3, 0.7],
            ]),
          ) as tf.Tensor,
      );
      assert.deepEqual(probs.shape, [5, 2]);
      const rows = probs.arraySync() as number[][];
      probs.dispose();
      for (const row of rows) assert.ok(Math.abs(row[0] + row[1] - 1) < 1e-6 && row.every((p) => p > 0));
    },
  );
});

test('createMlp: Glorot-uniform kernels with distinct per-layer seeds, zero biases', () => {
  withModel(
    () => createMlp({ seed: 3 }),
    (model) => {
      const w = weightValues(model);
      const kernels = [
        [2, 32],
        [32, 32],
        [32, 32],
        [32, 2],
      ];
      kernels.forEach(([fanIn, fanOut], i) => {
        const limit = Math.sqrt(6 / (fanIn + fanOut));
        const kernel = w[2 * i];
        let maxAbs = 0;
        let sumSq = 0;
        for (const v of kernel) {
          maxAbs = Math.max(maxAbs, Math.abs(v));
          sumSq += v * v;
        }
        assert.ok(maxAbs <= limit, `kernel ${i}: |w| ${maxAbs} > Glorot limit ${limit}`);
        // Uniform(-a, a) has variance a^2 / 3.
        const variance = sumSq / kernel.length;
        assert.ok(Math.abs(variance / ((limit * limit) / 3) - 1) < 0.35, `kernel ${i}: variance ${variance}`);
        assert.ok(
          w[2 * i + 1].every((b) => b === 0),
          `bias ${i} is zero`,
        );
      });
      // The two 32x32 kernels must differ: each layer draws its own seed.
      assert.notDeepEqual(w[2], w[4]);
    },
  );
});

test('createMlp: same seed gives identical weights, a different seed different ones', () => {
  const before = tf.memory().numTensors;
  const a = createMlp({ seed: 17 });
  const b = createMlp({ seed: 17 });
  const c = createMlp({ seed: 18 });
  const [wa, wb, wc] = [a, b, c].map(weightValues);
  wa.forEach((v, i) => assert.deepEqual(v, wb[i], `weight ${i}`));
  assert.notDeepEqual(wa[0], wc[0]);
  [a, b, c].forEach((m) => m.dispose());
  assert.equal(tf.memory().numTensors, before);
});

test('createMlp options: input size, hidden widths, classes; bad values rejected', () => {
  withModel(
    () => createMlp({ seed: 1, inputDim: 5, hidden: [7], numClasses: 3 }),
    (model) => {
      assert.equal(model.countParams(), 5 * 7 + 7 + 7 * 3 + 3);
      assert.deepEqual(model.outputs[0].shape, [null, 3]);
    },
  );
  withModel(
    () => createMlp({ seed: 1, hidden: [] }),
    (model) => {
      assert.equal(model.countParams(), 2 * 2 + 2);
    },
  );
  assert.throws(() => createMlp({ seed: 0.5 }), /seed must be an integer/);
  assert.throws(() => createMlp({ seed: 0, inputDim: 0 }), /inputDim must be an integer >= 1, got 0/);
  assert.throws(() => createMlp({ seed: 0, hidden: [32, -1] }), /hidden\[1\] must be an integer >= 1, got -1/);
  assert.throws(() => createMlp({ seed: 0, numClasses: 1 }), /numClasses must be an integer >= 2, got 1/);
});

test('createCnn: documented layers, 225,034 parameters, softmax over 10 classes', () => {
  withModel(
    () => createCnn({ seed: 0 }),
    (model) => {
      assert.equal(model.countParams(), 320 + 18496 + 204928 + 1290);
      assert.deepEqual(
        model.layers.map((l) => l.getClassName()),
        ['Conv2D', 'MaxPooling2D', 'Conv2D', 'MaxPooling2D', 'Flatten', 'Dense', 'Dense'],
      );
      assert.deepEqual(
        model.layers.map((l) => l.outputShape),
        [
          [null, 26, 26, 32],
          [null, 13, 13, 32],
          [null, 11, 11, 64],
          [null, 5, 5, 64],
          [null, 1600],
          [null, 128],
          [null, 10],
        ],
      );
      const probs = tf.tidy(() => model.predict(tf.randomUniform([3, 28, 28, 1], 0, 1, 'float32', 1)) as tf.Tensor);
      assert.deepEqual(probs.shape, [3, 10]);
      const rows = probs.arraySync() as number[][];
      probs.dispose();
      for (const row of rows) {
        const sum = row.reduce((a, b) => a + b, 0);
        assert.ok(Math.abs(sum - 1) < 1e-5 && row.every((p) => p > 0), `row sum ${sum}`);
      }
    },
  );
});

test('createCnn: same seed identical weights; zero biases; other input shapes; bad values rejected', () => {
  const before = tf.memory().numTensors;
  const a = createCnn({ seed: 5 });
  const b = createCnn({ seed: 5 });
  const c = createCnn({ seed: 6 });
  const [wa, wb, wc] = [a, b, c].map(weightValues);
  wa.forEach((v, i) => assert.deepEqual(v, wb[i], `weight ${i}`));
  assert.notDeepEqual(wa[0], wc[0]);
  [1, 3, 5, 7].forEach((i) =>
    assert.ok(
      wa[i].every((v) => v === 0),
      `bias ${i} is zero`,
    ),
  );
  [a, b, c].forEach((m) => m.dispose());
  assert.equal(tf.memory().numTensors, before);
  // 32x32x3: conv 3*3*3*32+32 = 896, 15x15 after pooling, conv 18,496, 6x6x64 = 2304 -> dense 2304*128+128, dense 128*10+10.
  withModel(
    () => createCnn({ seed: 0, inputShape: [32, 32, 3] }),
    (model) => {
      assert.equal(model.countParams(), 896 + 18496 + 295040 + 1290);
    },
  );
  withModel(
    () => createCnn({ seed: 0, inputShape: [10, 10, 1], numClasses: 4 }),
    (model) => {
      assert.deepEqual(model.outputs[0].shape, [null, 4]);
    },
  );
  assert.throws(() => createCnn({ seed: 0, inputShape: [9, 28, 1] }), /inputShape\[0\] \(height\) must be an integer >= 10, got 9/);
  assert.throws(
    () => createCnn({ seed: 0, inputShape: [28, 28] as unknown as [number, number, number] }),
    /inputShape must be \[height, width, channels\]/,
  );
  assert.throws(() => createCnn({ seed: 0, numClasses: 1 }), /numClasses must be an integer >= 2/);
  assert.throws(() => createCnn({ seed: Number.NaN }), /seed must be an integer/);
});
