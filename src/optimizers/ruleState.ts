/**
 * State that a rule carries from one step to the next (LookSAM's stored direction, a climb policy's
 * random generator), and how the optimiser saves it: in `getWeights` under the rule's prefix
 * (`ascent/`, `descent/`, `climb/`), restored by `setWeights`, so a resumed run continues bit-exactly.
 * A rule without state has no `state` member, and then nothing is saved for it.
 */
import * as tf from '@tensorflow/tfjs';
import type { Rng, RngState } from '../util/random.js';

/** A named tensor, as tfjs optimisers exchange weights (tfjs does not re-export this type). */
export interface NamedTensor {
  /** The weight's name (a variable's name, or a state entry's name such as `iter` or `base/...`). */
  name: string;
  /** The weight's value. */
  tensor: tf.Tensor;
}

/**
 * The state of one rule. Tensors carried across steps are best held in `tf.Variable`s (created with
 * `trainable: false` on first use, then `assign`ed): `model.fit` runs each step inside `tf.tidy`,
 * which never disposes a variable. Numbers (a counter, a generator's state) travel as int32 or
 * float32 tensors, like tfjs saves an optimiser's `iter`.
 */
export interface RuleState {
  /**
   * The state now, as named tensors, with tfjs optimisers' ownership: a `tf.Variable` is the rule's
   * live state (read it, never dispose it); any other tensor is a fresh one the caller owns (the
   * runner disposes those after writing a checkpoint). Empty when there is no state yet.
   */
  save(): NamedTensor[];
  /** Replaces the state with copies of `saved` (what {@link save} returned, same names); `saved` stays the caller's. */
  load(saved: readonly NamedTensor[]): void;
  /** Frees the state's tensors (the optimiser's `dispose` calls it). */
  dispose(): void;
}

/** Something that may carry a {@link RuleState}: an ascent rule, a descent rule, a climb policy. */
export interface MaybeStateful {
  /** The rule's state across steps; absent for a stateless rule. */
  readonly state?: RuleState;
}

/**
 * The state of a rule that draws from a seeded {@link Rng} (RST's climb draws, ESAM's weight masks):
 * the generator's four 32-bit words as one int32 tensor named `name` (the unsigned words keep their
 * bits as int32), so a resumed run draws exactly the numbers a run that never stopped would.
 */
export function rngState(rng: Rng, name = 'rng'): RuleState {
  return {
    save: () => [
      {
        name,
        tensor: tf.tensor1d(
          rng.getState().map((w) => w | 0),
          'int32',
        ),
      },
    ],
    load: (saved) => {
      const entry = saved.find((w) => w.name === name);
      if (entry === undefined)
        throw new TypeError(
          `rngState.load: expected a saved tensor named '${name}', got ${saved.map((w) => `'${w.name}'`).join(', ') || 'none'}`,
        );
      rng.setState(Array.from(entry.tensor.dataSync(), (w) => w >>> 0) as RngState);
    },
    dispose: () => {},
  };
}
