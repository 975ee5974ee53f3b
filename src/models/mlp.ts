/**
 * The report's two-moons classifier: a small fully connected ReLU network. Browser-safe.
 */
import * as tf from '@tensorflow/tfjs';
import { describeValue } from '../util/validation.js';
import { checkInt, seededGlorotUniform } from './init.js';

/**
 * A multilayer perceptron, by default the report's 2-32-32-32-2: `inputDim` inputs, one ReLU dense
 * layer per entry of `hidden`, and a softmax dense output of `numClasses` units. Kernels are
 * Glorot-uniform with a per-layer seed derived from `opts.seed` (same seed, same weights); biases are
 * zero. Not compiled. Default parameter count: 2*32+32 + 2*(32*32+32) + 32*2+2 = 2,274.
 *
 * @param opts.seed integer seed of the initial weights.
 * @param opts.inputDim number of input features (default 2).
 * @param opts.hidden widths of the hidden layers, each a positive integer (default [32, 32, 32]; may be empty).
 * @param opts.numClasses output classes, >= 2 (default 2).
 */
export function createMlp(opts: { seed: number; inputDim?: number; hidden?: number[]; numClasses?: number }): tf.Sequential {
  const where = 'createMlp';
  const init = seededGlorotUniform(where, opts.seed);
  const inputDim = checkInt(where, opts.inputDim ?? 2, 'inputDim', 1);
  const hidden = opts.hidden ?? [32, 32, 32];
  if (!Array.isArray(hidden)) throw new TypeError(`${where}: hidden must be an array of positive integers, got ${describeValue(hidden)}`);
  hidden.forEach((h, i) => checkInt(where, h, `hidden[${i}]`, 1));
  const numClasses = checkInt(where, opts.numClasses ?? 2, 'numClasses', 2);

  const model = tf.sequential();
  hidden.forEach((units, i) => {
    model.add(
      tf.layers.dense({
        units,
        activation: 'relu',
        kernelInitializer: init(),
        biasInitializer: 'zeros',
        ...(i === 0 ? { inputShape: [inputDim] } : {}),
      }),
    );
  });
  model.add(
    tf.layers.dense({
      units: numClasses,
      activation: 'softmax',
      kernelInitializer: init(),
      biasInitializer: 'zeros',
      ...(hidden.length === 0 ? { inputShape: [inputDim] } : {}),
    }),
  );
  return model;
}
