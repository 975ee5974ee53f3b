/**
 * Loss and accuracy of a model on a dataset (in batches, nothing leaked), and the decision grid of
 * a 2-D classifier for the moons plots. The loss everywhere is categorical cross-entropy on the
 * model's softmax outputs.
 */
import * as tf from '@tensorflow/tfjs';
import { toTensors, type Dataset } from '../data/index.js';
import type { RunRecord } from './schema.js';
import { clippedCrossEntropy } from '../backend/cross-entropy.js';

/** Probabilities are clipped to [EPS, 1] before the log, as Keras does, so a confident miss stays finite. */
const EPS = 1e-7;

/** Per-example categorical cross-entropy of softmax outputs `probs` against one-hot `y`. */
export function crossEntropyPerExample(probs: tf.Tensor, y: tf.Tensor): tf.Tensor1D {
  return clippedCrossEntropy(probs, y, EPS) as tf.Tensor1D;
}

/** Mean categorical cross-entropy over a batch. */
export function crossEntropy(probs: tf.Tensor, y: tf.Tensor): tf.Scalar {
  return tf.tidy(() => tf.mean(crossEntropyPerExample(probs, y)) as tf.Scalar);
}

/** Number of examples whose arg-max prediction equals the label, as a float32 scalar. */
export function correctCount(probs: tf.Tensor, y: tf.Tensor): tf.Scalar {
  return tf.tidy(() => tf.sum(tf.cast(tf.equal(tf.argMax(probs, -1), tf.argMax(y, -1)), 'float32')) as tf.Scalar);
}

/** Reshapes a batch to the model's input (flattens images for an MLP). */
export function toModelInput(x: tf.Tensor, inputShape: readonly number[]): tf.Tensor {
  return x.reshape([x.shape[0], ...inputShape]);
}

/** Mean loss and accuracy of `model` on all of `ds`, evaluated `batchSize` examples at a time. */
export function evaluate(
  model: tf.LayersModel,
  ds: Dataset,
  inputShape: readonly number[],
  batchSize = 1000,
): { loss: number; accuracy: number } {
  if (ds.size === 0) throw new Error(`cannot evaluate on dataset ${ds.name}: it has no examples`);
  let lossSum = 0;
  let correct = 0;
  for (let start = 0; start < ds.size; start += batchSize) {
    const end = Math.min(ds.size, start + batchSize);
    const idx = Int32Array.from({ length: end - start }, (_, i) => start + i);
    const { x, y } = toTensors(ds, idx);
    const sums = tf.tidy(() => {
      const probs = model.predict(toModelInput(x, inputShape)) as tf.Tensor;
      return tf.stack([tf.sum(crossEntropyPerExample(probs, y)), correctCount(probs, y)]);
    });
    const [l, c] = sums.dataSync();
    sums.dispose();
    x.dispose();
    y.dispose();
    lossSum += l;
    correct += c;
  }
  return { loss: lossSum / ds.size, accuracy: correct / ds.size };
}

/**
 * Class-1 probability of a 2-input classifier on a `gridSize` x `gridSize` grid spanning the data
 * (padded by `pad`), and up to `maxPoints` test points to draw over it.
 */
export function decisionGrid(
  model: tf.LayersModel,
  bounds: Dataset,
  points: Dataset,
  opts: { gridSize?: number; pad?: number; maxPoints?: number } = {},
): NonNullable<RunRecord['decisionGrid']> {
  const gridSize = opts.gridSize ?? 60;
  const pad = opts.pad ?? 0.5;
  const maxPoints = opts.maxPoints ?? 300;
  if (bounds.exampleShape.length !== 1 || bounds.exampleShape[0] !== 2) {
    throw new Error(`decisionGrid needs 2-D points; dataset ${bounds.name} has shape [${bounds.exampleShape}]`);
  }
  let [x0, x1, y0, y1] = [Infinity, -Infinity, Infinity, -Infinity];
  for (let i = 0; i < bounds.size; i++) {
    x0 = Math.min(x0, bounds.x[2 * i]);
    x1 = Math.max(x1, bounds.x[2 * i]);
    y0 = Math.min(y0, bounds.x[2 * i + 1]);
    y1 = Math.max(y1, bounds.x[2 * i + 1]);
  }
  const axis = (lo: number, hi: number): number[] =>
    Array.from({ length: gridSize }, (_, i) => lo - pad + ((hi - lo + 2 * pad) * i) / (gridSize - 1));
  const xs = axis(x0, x1);
  const ys = axis(y0, y1);
  const flat = new Float32Array(gridSize * gridSize * 2);
  for (let i = 0; i < gridSize; i++) {
    for (let j = 0; j < gridSize; j++) {
      flat[2 * (i * gridSize + j)] = xs[j];
      flat[2 * (i * gridSize + j) + 1] = ys[i];
    }
  }
  const p1 = tf.tidy(() => {
    const probs = model.predict(tf.tensor2d(flat, [gridSize * gridSize, 2])) as tf.Tensor2D;
    return probs.slice([0, 1], [-1, 1]).reshape([-1]);
  });
  const values = p1.dataSync();
  p1.dispose();
  const probs = Array.from({ length: gridSize }, (_, i) => Array.from(values.subarray(i * gridSize, (i + 1) * gridSize)));
  const n = Math.min(maxPoints, points.size);
  const pts: [number, number, number][] = Array.from({ length: n }, (_, i) => [points.x[2 * i], points.x[2 * i + 1], points.y[i]]);
  return { xs, ys, probs, points: pts };
}
