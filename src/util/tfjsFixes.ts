/**
 * Work-arounds for tfjs 4.22 optimiser state that does not survive getWeights/setWeights exactly.
 *
 * Adam keeps beta1^t and beta2^t as running products (`acc *= beta` each step, in float32), but
 * its setWeights recomputes them as `pow(beta, t + 1)`, which can differ in the last bit. One bit
 * is enough to make a resumed run drift from an uninterrupted one, so after a restore we rebuild
 * the products exactly as the uninterrupted run computed them. Pinned to tfjs 4.22 (Adam's
 * `setWeights` in tfjs-core/src/optimizers/adam_optimizer.ts); the repair is idempotent, and does
 * nothing for any other optimiser.
 */
import * as tf from '@tensorflow/tfjs';

interface AdamInternals {
  beta1: number;
  beta2: number;
  iterations: number;
  accBeta1?: tf.Variable;
  accBeta2?: tf.Variable;
}

/** beta^(steps+1) as tfjs Adam accumulates it: a float32 product, one multiplication per step. */
export function float32RunningPower(beta: number, steps: number): number {
  const b = Math.fround(beta);
  let acc = b;
  // A product of two float32 values is exact in float64, so fround gives the correctly rounded
  // float32 product, which is what every tfjs backend's float32 multiply returns.
  for (let i = 0; i < steps; i++) acc = Math.fround(acc * b);
  return acc;
}

/** After `setWeights` on a tfjs Adam optimiser, makes its beta powers bit-identical to an uninterrupted run. */
export function repairRestoredOptimizer(base: tf.Optimizer): void {
  if (base.getClassName() !== 'Adam') return;
  const adam = base as unknown as AdamInternals;
  if (!(adam.accBeta1 instanceof tf.Variable) || !(adam.accBeta2 instanceof tf.Variable)) return;
  const steps = adam.iterations;
  const a1 = tf.scalar(float32RunningPower(adam.beta1, steps));
  const a2 = tf.scalar(float32RunningPower(adam.beta2, steps));
  adam.accBeta1.assign(a1);
  adam.accBeta2.assign(a2);
  tf.dispose([a1, a2]);
}

/**
 * Frees what tfjs 4.22's optimisers forget to free on `dispose()`: MomentumOptimizer.dispose()
 * leaves SGD's cached `-lr` scalar `c` behind. Safe to call on any optimiser, once it is disposed.
 */
export function disposeForgottenOptimizerState(base: tf.Optimizer): void {
  const c = (base as unknown as { c?: tf.Tensor }).c;
  if (c !== undefined && !c.isDisposed) c.dispose();
}
