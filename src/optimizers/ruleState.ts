/**
 * State that a rule carries from one step to the next (LookSAM's stored direction, a climb policy's
 * random generator), and how the optimiser saves it: in `getWeights` under the rule's prefix
 * (`ascent/`, `descent/`, `climb/`), restored by `setWeights`, so a resumed run continues bit-exactly.
 * A rule without state has no `state` member, and then nothing is saved for it.
 */
import type * as tf from '@tensorflow/tfjs';

/** A named tensor, as tfjs optimisers exchange weights (tfjs does not re-export this type). */
export interface NamedTensor {
  name: string;
  tensor: tf.Tensor;
}

/**
 * The state of one rule. The rule owns its tensors; since `model.fit` runs each step inside
 * `tf.tidy`, a rule that stores a tensor during a step must `tf.keep` it (or hold it in a
 * `tf.Variable`) and dispose the one it replaces. Numbers (a counter, a generator's state) are
 * stored as int32 or float32 tensors, like tfjs stores an optimiser's `iter`.
 */
export interface RuleState {
  /** The state now, as named tensors that stay the rule's (read them, do not dispose them); empty when there is none yet. */
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
