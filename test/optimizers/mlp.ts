/** The report's 2-32-32-32-2 ReLU net and a noisy two-moons batch, built here so the optimizer tests stand alone. */
import * as tf from '@tensorflow/tfjs';
import { Rng } from '../../src/util/random.js';

/** The report's MLP with seeded Glorot-uniform kernels. */
export function reportMlp(seed: number): tf.Sequential {
  const model = tf.sequential();
  const rng = new Rng(seed);
  [32, 32, 32].forEach((units, i) =>
    model.add(
      tf.layers.dense({
        units,
        activation: 'relu',
        inputShape: i === 0 ? [2] : undefined,
        kernelInitializer: tf.initializers.glorotUniform({ seed: rng.seed() }),
      }),
    ),
  );
  model.add(tf.layers.dense({ units: 2, activation: 'softmax', kernelInitializer: tf.initializers.glorotUniform({ seed: rng.seed() }) }));
  return model;
}

/** n noisy two-moons points (scikit-learn's recipe), x [n,2] and one-hot y [n,2]. */
export function moonsBatch(n: number, noise: number, seed: number): { x: tf.Tensor2D; y: tf.Tensor2D; labels: number[] } {
  const rng = new Rng(seed);
  const xs: number[] = [];
  const labels: number[] = [];
  const nOut = Math.floor(n / 2);
  for (let i = 0; i < n; i++) {
    const outer = i < nOut;
    const m = outer ? nOut : n - nOut;
    const k = outer ? i : i - nOut;
    const t = (Math.PI * k) / Math.max(1, m - 1);
    const px = outer ? Math.cos(t) : 1 - Math.cos(t);
    const py = outer ? Math.sin(t) : 1 - Math.sin(t) - 0.5;
    xs.push(px + noise * rng.normal(), py + noise * rng.normal());
    labels.push(outer ? 0 : 1);
  }
  const order = rng.permutation(n);
  const x = tf.tensor2d(
    Array.from(order).flatMap((j) => [xs[2 * j], xs[2 * j + 1]]),
    [n, 2],
  );
  const shuffled = Array.from(order).map((j) => labels[j]);
  const y = tf.tidy(() => tf.oneHot(tf.tensor1d(shuffled, 'int32'), 2).toFloat()) as tf.Tensor2D;
  return { x, y, labels: shuffled };
}

/** Mean categorical cross-entropy of `model` on (x, y), as a closure for minimize. */
export function crossEntropy(model: tf.LayersModel, x: tf.Tensor, y: tf.Tensor): () => tf.Scalar {
  return () => tf.tidy(() => tf.mean(tf.metrics.categoricalCrossentropy(y, model.predict(x) as tf.Tensor)) as tf.Scalar);
}

/** The model's trainable tf.Variables, in layer order. */
export function trainableVars(model: tf.LayersModel): tf.Variable[] {
  return model.trainableWeights.map((w) => w.read() as tf.Variable);
}
