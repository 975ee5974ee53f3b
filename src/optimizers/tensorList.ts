/**
 * Arithmetic on lists of tensors treated as ONE flat vector (all variables joined), which is how
 * ALGORITHMS.md defines every norm and inner product: global, not per layer.
 */
import * as tf from '@tensorflow/tfjs';

/** Global L2 norm of a list of tensors, as a scalar tensor. */
export function globalNorm(xs: readonly tf.Tensor[]): tf.Scalar {
  return tf.tidy(() => tf.sqrt(globalDot(xs, xs)));
}

/** Global inner product `<xs, ys>` of two lists of tensors of matching shapes, as a scalar tensor. */
export function globalDot(xs: readonly tf.Tensor[], ys: readonly tf.Tensor[]): tf.Scalar {
  if (xs.length !== ys.length) throw new Error(`globalDot: lists differ in length (${xs.length} vs ${ys.length})`);
  return tf.tidy(() => {
    if (xs.length === 0) return tf.scalar(0);
    const parts = xs.map((x, i) => tf.sum(tf.mul(x, ys[i])));
    return (parts.length === 1 ? parts[0] : tf.addN(parts)) as tf.Scalar;
  });
}
