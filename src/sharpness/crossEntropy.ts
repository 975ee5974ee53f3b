/**
 * Softmax cross-entropy from logits written so that tfjs can differentiate it TWICE correctly.
 *
 * tfjs 4.22 drops second-order terms through ops that save their output for the backward pass (Exp,
 * Softmax, ...; see hvp.ts), and Max's gradient goes through Equal, which has no gradient. So the
 * log-sum-exp here uses an exp whose gradient is recomputed from its saved INPUT (a custom gradient,
 * itself differentiable again) and a max shift that is a constant to the tape.
 */
import * as tf from '@tensorflow/tfjs';

/** exp(x) with gradient dy·exp(x) computed from the saved input, so higher derivatives are right. */
const expFromInput: (x: tf.Tensor) => tf.Tensor = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
  const x = args[0] as tf.Tensor;
  (args[1] as tf.GradSaveFunc)([x]);
  return { value: tf.exp(x), gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => tf.mul(dy, expFromInput(saved[0])) };
});

/** max over the last axis (keepDims) as a constant: its gradient is zero and records no Max/Equal. */
const constantRowMax: (z: tf.Tensor) => tf.Tensor = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
  const z = args[0] as tf.Tensor;
  const shape = z.shape; // not z itself: the forward pass's intermediates are gone by the backward pass
  return { value: tf.max(z, -1, true), gradFunc: () => tf.zeros(shape) };
});

/** Per-example −Σ_c y_c log softmax(z)_c = logsumexp(z) − Σ_c y_c z_c (y rows sum to 1). */
export function softmaxCrossEntropyFromLogits(y: tf.Tensor, z: tf.Tensor): tf.Tensor {
  return tf.tidy(() => {
    const m = constantRowMax(z);
    const lse = tf.add(tf.squeeze(m, [-1]), tf.log(tf.sum(expFromInput(tf.sub(z, m)), -1)));
    return tf.sub(lse, tf.sum(tf.mul(y, z), -1));
  });
}
