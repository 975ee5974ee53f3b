/**
 * The report's small image classifier: a LeNet-sized convolutional network for 28x28x1 images.
 * Browser-safe.
 */
import * as tf from '@tensorflow/tfjs';
import { describeValue } from '../util/validation.js';
import { checkInt, seededGlorotUniform } from './init.js';

/**
 * A small CNN (the classic Keras MNIST convnet). For the default input `[28, 28, 1]` and 10 classes:
 *
 * | layer                                   | output shape | parameters |
 * |-----------------------------------------|--------------|-----------:|
 * | conv2d 32 filters 3x3, valid, ReLU      | 26x26x32     |        320 |
 * | max-pool 2x2                            | 13x13x32     |          0 |
 * | conv2d 64 filters 3x3, valid, ReLU      | 11x11x64     |     18,496 |
 * | max-pool 2x2                            | 5x5x64       |          0 |
 * | flatten                                 | 1600         |          0 |
 * | dense 128, ReLU                         | 128          |    204,928 |
 * | dense 10, softmax                       | 10           |      1,290 |
 * | total                                   |              |    225,034 |
 *
 * Kernels are Glorot-uniform with a per-layer seed derived from `opts.seed` (same seed, same weights);
 * biases are zero. Not compiled.
 *
 * @param opts.seed integer seed of the initial weights.
 * @param opts.inputShape `[height, width, channels]`, height and width >= 10 so that both conv/pool
 *   stages leave at least one pixel (default [28, 28, 1]).
 * @param opts.numClasses output classes, >= 2 (default 10).
 */
export function createCnn(opts: { seed: number; inputShape?: [number, number, number]; numClasses?: number }): tf.Sequential {
  const where = 'createCnn';
  const init = seededGlorotUniform(where, opts.seed);
  const inputShape = opts.inputShape ?? [28, 28, 1];
  if (!Array.isArray(inputShape))
    throw new TypeError(`${where}: inputShape must be [height, width, channels], got ${describeValue(inputShape)}`);
  if (inputShape.length !== 3)
    throw new RangeError(`${where}: inputShape must be [height, width, channels], got ${JSON.stringify(inputShape)}`);
  checkInt(where, inputShape[0], 'inputShape[0] (height)', 10);
  checkInt(where, inputShape[1], 'inputShape[1] (width)', 10);
  checkInt(where, inputShape[2], 'inputShape[2] (channels)', 1);
  const numClasses = checkInt(where, opts.numClasses ?? 10, 'numClasses', 2);

  const model = tf.sequential();
  model.add(
    tf.layers.conv2d({
      inputShape,
      filters: 32,
      kernelSize: 3,
      padding: 'valid',
      activation: 'relu',
      kernelInitializer: init(),
      biasInitializer: 'zeros',
    }),
  );
  model.add(tf.layers.maxPooling2d({ poolSize: 2, strides: 2 }));
  model.add(
    tf.layers.conv2d({
      filters: 64,
      kernelSize: 3,
      padding: 'valid',
      activation: 'relu',
      kernelInitializer: init(),
      biasInitializer: 'zeros',
    }),
  );
  model.add(tf.layers.maxPooling2d({ poolSize: 2, strides: 2 }));
  model.add(tf.layers.flatten());
  model.add(tf.layers.dense({ units: 128, activation: 'relu', kernelInitializer: init(), biasInitializer: 'zeros' }));
  model.add(tf.layers.dense({ units: numClasses, activation: 'softmax', kernelInitializer: init(), biasInitializer: 'zeros' }));
  return model;
}
