/**
 * Tiny seeded models for the second-order tests, and a float64 reference of the tiny CNN's loss
 * written in plain JavaScript (independent of tfjs and of src/sharpness).
 */
import * as tf from '@tensorflow/tfjs';
import { Rng } from '../../src/util/random.js';

/** Tiny CNN: 6x6x1 → conv 2 filters 3x3 valid ReLU → max-pool 2 → flatten → dense 2 softmax (38 weights). */
export function tinyCnn(seed: number): tf.Sequential {
  const model = tf.sequential();
  model.add(
    tf.layers.conv2d({
      inputShape: [6, 6, 1],
      filters: 2,
      kernelSize: 3,
      activation: 'relu',
      kernelInitializer: tf.initializers.glorotNormal({ seed }),
      biasInitializer: tf.initializers.constant({ value: 0.05 }),
    }),
  );
  model.add(tf.layers.maxPooling2d({ poolSize: 2, strides: 2 }));
  model.add(tf.layers.flatten());
  model.add(tf.layers.dense({ units: 2, activation: 'softmax', kernelInitializer: tf.initializers.glorotNormal({ seed: seed + 1 }) }));
  return model;
}

/** Small MLP 2-8-8-2 (ReLU, softmax). */
export function smallMlp(seed: number): tf.Sequential {
  const model = tf.sequential();
  model.add(
    tf.layers.dense({
      units: 8,
      inputShape: [2],
      activation: 'relu',
      kernelInitializer: tf.initializers.glorotNormal({ seed }),
      biasInitializer: tf.initializers.constant({ value: 0.1 }),
    }),
  );
  model.add(
    tf.layers.dense({
      units: 8,
      activation: 'relu',
      kernelInitializer: tf.initializers.glorotNormal({ seed: seed + 1 }),
      biasInitializer: tf.initializers.constant({ value: 0.1 }),
    }),
  );
  model.add(tf.layers.dense({ units: 2, activation: 'softmax', kernelInitializer: tf.initializers.glorotNormal({ seed: seed + 2 }) }));
  return model;
}

/** `n` seeded examples of the given per-example shape (standard normal) with alternating labels. */
export function examples(n: number, shape: number[], classes: number, seed: number): { x: number[]; shape: number[]; labels: number[] } {
  const rng = new Rng(seed);
  const size = shape.reduce((a, b) => a * b, 1);
  const x = Array.from({ length: n * size }, () => rng.normal());
  const labels = Array.from({ length: n }, (_, i) => i % classes);
  return { x, shape: [n, ...shape], labels };
}

/** Tensors of `examples` (caller disposes). */
export function exampleTensors(ex: { x: number[]; shape: number[]; labels: number[] }, classes: number): { x: tf.Tensor; y: tf.Tensor2D } {
  return { x: tf.tensor(ex.x, ex.shape, 'float32'), y: tf.oneHot(tf.tensor1d(ex.labels, 'int32'), classes).toFloat() as tf.Tensor2D };
}

/**
 * The tiny CNN's mean softmax cross-entropy in float64, with its weights flattened in the order of
 * `model.trainableWeights` (conv kernel [3,3,1,2], conv bias [2], dense kernel [8,2], dense bias [2]).
 * Also returns the smallest distance to a kink: |pre-activation| of the ReLUs and the gap between the
 * largest and second largest value of each pooling window.
 */
export function tinyCnnLoss64(theta: Float64Array, ex: { x: number[]; labels: number[] }): { loss: number; margin: number } {
  const k = (i: number, j: number, f: number): number => theta[(i * 3 + j) * 2 + f]; // [3,3,1,2]
  const cb = (f: number): number => theta[18 + f];
  const dk = (i: number, c: number): number => theta[20 + i * 2 + c]; // [8,2]
  const db = (c: number): number => theta[36 + c];
  const n = ex.labels.length;
  let loss = 0;
  let margin = Infinity;
  for (let e = 0; e < n; e++) {
    const px = (r: number, c: number): number => ex.x[e * 36 + r * 6 + c];
    const act = new Float64Array(4 * 4 * 2);
    for (let r = 0; r < 4; r++) {
      for (let c = 0; c < 4; c++) {
        for (let f = 0; f < 2; f++) {
          let s = cb(f);
          for (let i = 0; i < 3; i++) for (let j = 0; j < 3; j++) s += px(r + i, c + j) * k(i, j, f);
          margin = Math.min(margin, Math.abs(s));
          act[(r * 4 + c) * 2 + f] = Math.max(0, s);
        }
      }
    }
    const flat = new Float64Array(8); // [2,2,2] NHWC flattened
    for (let r = 0; r < 2; r++) {
      for (let c = 0; c < 2; c++) {
        for (let f = 0; f < 2; f++) {
          const w = [0, 1, 2, 3].map((q) => act[((2 * r + (q >> 1)) * 4 + 2 * c + (q & 1)) * 2 + f]).sort((a, b) => b - a);
          if (w[0] > 0) margin = Math.min(margin, w[0] - w[1]); // an all-zero window has no kink that matters
          flat[(r * 2 + c) * 2 + f] = w[0];
        }
      }
    }
    const z = [0, 1].map((c) => db(c) + flat.reduce((s, v, i) => s + v * dk(i, c), 0));
    const m = Math.max(...z);
    const lse = m + Math.log(z.reduce((s, v) => s + Math.exp(v - m), 0));
    loss += (lse - z[ex.labels[e]]) / n;
  }
  return { loss, margin };
}

/** Hessian of `f` at `theta` by second central differences in float64 (step h). */
export function hessian64(f: (t: Float64Array) => number, theta: Float64Array, h: number): number[][] {
  const n = theta.length;
  const at = (i: number, si: number, j: number, sj: number): number => {
    const t = Float64Array.from(theta);
    t[i] += si * h;
    t[j] += sj * h;
    return f(t);
  };
  const hm = Array.from({ length: n }, () => new Array<number>(n).fill(0));
  for (let i = 0; i < n; i++) {
    for (let j = i; j < n; j++) {
      const v = (at(i, 1, j, 1) - at(i, 1, j, -1) - at(i, -1, j, 1) + at(i, -1, j, -1)) / (4 * h * h);
      hm[i][j] = v;
      hm[j][i] = v;
    }
  }
  return hm;
}
