/**
 * The clipped categorical cross-entropy of probabilities, `−Σ_c y_c log(clip(p_c, eps, 1))` per
 * example, as one kernel with a one-kernel gradient where flatminima's wasm kernels run
 * (kernels/cross-entropy.ts), and as tfjs ops elsewhere and on tapes of depth 2 and more (whose
 * gradient must itself be differentiable).
 */
import * as tf from '@tensorflow/tfjs';
import { CROSS_ENTROPY_GRAD_KERNEL, CROSS_ENTROPY_KERNEL } from './kernels/cross-entropy.js';

let gradientRegistered = false;

/** Registers the kernel's gradient (idempotent); called with the wasm kernels. */
export function registerCrossEntropyGradient(): void {
  if (gradientRegistered || tf.getGradient(CROSS_ENTROPY_KERNEL) != null) return;
  tf.registerGradient({
    kernelName: CROSS_ENTROPY_KERNEL,
    inputsToSave: ['probs', 'labels'],
    gradFunc: (dy, saved, attrs) => {
      const [probs, labels] = saved as [tf.Tensor, tf.Tensor];
      const eps = attrs.epsilon as number;
      const grad = (wrt: 'probs' | 'labels') => (): tf.Tensor =>
        tf.engine().runKernel(CROSS_ENTROPY_GRAD_KERNEL, { dy: dy as tf.Tensor, probs, labels }, { epsilon: eps, wrt }) as tf.Tensor;
      return { probs: grad('probs'), labels: grad('labels') };
    },
  });
  gradientRegistered = true;
}

/** Whether the kernel serves this call: float32 operands of one shape, wasm with our kernels, a tape of depth <= 1. */
function kernelServes(probs: tf.Tensor, labels: tf.Tensor): boolean {
  const engine = tf.engine() as unknown as { state: { gradientDepth: number }; backendName: string };
  return (
    gradientRegistered &&
    engine.state.gradientDepth <= 1 &&
    engine.backendName === 'wasm' &&
    probs.dtype === 'float32' &&
    labels.dtype === 'float32' &&
    probs.rank >= 1 &&
    probs.shape.length === labels.shape.length &&
    probs.shape.every((d, i) => d === labels.shape[i]) &&
    tf.getKernel(CROSS_ENTROPY_KERNEL, 'wasm') != null
  );
}

/**
 * Per-example `−Σ_c y_c log(clip(p_c, epsilon, 1))` over the last axis of `probs` (softmax outputs)
 * against `labels` (one-hot or soft); the clip keeps a confident miss finite, as in Keras.
 */
export function clippedCrossEntropy(probs: tf.Tensor, labels: tf.Tensor, epsilon: number): tf.Tensor {
  if (kernelServes(probs, labels)) return tf.engine().runKernel(CROSS_ENTROPY_KERNEL, { probs, labels }, { epsilon }) as tf.Tensor;
  return tf.tidy(() => tf.neg(tf.sum(tf.mul(labels, tf.log(tf.clipByValue(probs, epsilon, 1))), -1)));
}
