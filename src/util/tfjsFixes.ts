/**
 * Every work-around for tfjs's optimiser and engine behaviour, in one place, each with the reason
 * and the tfjs version it was written against ({@link TFJS_WORKAROUNDS} lists them). When tfjs is
 * upgraded, check each one against the new version: test/util/tfjsFixes.test.ts shows
 * the defect still there, and fails when tfjs fixes it or the pinned version no longer matches.
 *
 * In util/, the bottom layer, and browser-safe (tfjs only), so the optimisers, the sharpness
 * measures and the experiment runner may all import it.
 *
 * Work-arounds that stay with the code they patch, because they are that code: the double-backprop
 * gradients of sharpness/secondOrder.ts and the softmax cross-entropy of sharpness/crossEntropy.ts
 * (tfjs 4.22 drops second-order terms), and the wasm training kernels of backend/ (pinned to tfjs
 * by `PINNED_TFJS_VERSION` in backend/wasm-internals.ts).
 */
import * as tf from '@tensorflow/tfjs';

/** One tfjs work-around: what it is called here, why it exists, and the tfjs version it is pinned to. */
export interface TfjsWorkaround {
  /** The function in this module that applies it. */
  name: string;
  /** The tfjs version it was written against and checked on. */
  pinnedTo: string;
  /** The tfjs behaviour it works around, and what goes wrong without it. */
  reason: string;
}

/** The tfjs version every work-around in this module is pinned to. */
export const WORKAROUNDS_PINNED_TFJS = '4.22.0';

/** The work-arounds of this module. */
export const TFJS_WORKAROUNDS: readonly TfjsWorkaround[] = Object.freeze([
  {
    name: 'repairRestoredOptimizer',
    pinnedTo: WORKAROUNDS_PINNED_TFJS,
    reason:
      'Adam keeps beta1^t and beta2^t as float32 running products, but its setWeights recomputes them as pow(beta, t + 1), ' +
      'which can differ in the last bit; one bit makes a resumed run drift from an uninterrupted one.',
  },
  {
    name: 'disposeForgottenOptimizerState',
    pinnedTo: WORKAROUNDS_PINNED_TFJS,
    reason:
      'MomentumOptimizer.dispose() does not dispose the -learningRate scalar `c` it inherits from SGDOptimizer: one tensor leaked per optimiser.',
  },
  {
    name: 'interceptKeeps',
    pinnedTo: WORKAROUNDS_PINNED_TFJS,
    reason:
      'tfjs has no scope that owns the tensors tf.keep() marks inside it (tfjs-layers keeps its batch metrics that way), ' +
      "so the step wraps the engine instance's keep to collect them; relies on the engine calling this.keep.",
  },
]);

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

/**
 * After `setWeights` on a tfjs Adam optimiser, makes its beta powers bit-identical to an
 * uninterrupted run's (see {@link TFJS_WORKAROUNDS}). Does nothing for other optimisers.
 */
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
 * Disposes the cached -learningRate scalar `c` that tfjs's MomentumOptimizer.dispose() forgets
 * (see {@link TFJS_WORKAROUNDS}). Call after disposing `optimizer`; safe for any optimiser and
 * when `c` is already disposed (SGD's own dispose frees it).
 */
export function disposeForgottenOptimizerState(optimizer: tf.Optimizer): void {
  const c = (optimizer as unknown as { c?: unknown }).c;
  if (c instanceof tf.Tensor && !c.isDisposed) c.dispose();
}

/**
 * Runs `fn`, collecting every tensor passed to `tf.keep` meanwhile into `collected`. tfjs offers no
 * scope that owns kept tensors, so the engine instance's `keep` is wrapped for the duration and
 * always put back (see {@link TFJS_WORKAROUNDS}).
 */
export function interceptKeeps<T>(collected: tf.Tensor[], fn: () => T): T {
  const engine = tf.engine() as unknown as { keep: <R extends tf.Tensor>(t: R) => R };
  const original = engine.keep;
  engine.keep = <R extends tf.Tensor>(t: R): R => {
    collected.push(t);
    return original.call(engine, t) as R;
  };
  try {
    return fn();
  } finally {
    engine.keep = original;
  }
}
