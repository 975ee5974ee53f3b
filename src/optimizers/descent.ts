/**
 * Descent rules: from the clean gradient `g` and the perturbed gradient `g_p`, the direction handed
 * to the base optimiser (before weight decay). Exact formulas: ALGORITHMS.md.
 */
import * as tf from '@tensorflow/tfjs';
import { globalDot, globalNorm } from '../util/paramVector.js';
import type { MaybeStateful } from './ruleState.js';

/** What a descent rule sees on a step that climbed. */
export interface DescentInput {
  /** The clean gradient g at w. */
  readonly grads: readonly tf.Tensor[];
  /** The perturbed gradient g_p at w + e. */
  readonly perturbedGrads: readonly tf.Tensor[];
  /** Added to norms in denominators. */
  readonly eps: number;
}

/** What a descent rule sees on a step that did not climb (one pass, at w). */
export interface OnePassInput {
  /** The variables that got a gradient, in the order of `grads`. */
  readonly vars: readonly tf.Variable[];
  /** The clean gradient g at w. */
  readonly grads: readonly tf.Tensor[];
  /** Added to norms in denominators. */
  readonly eps: number;
}

/**
 * A descent rule returns one direction tensor per variable. It may return its input tensors
 * themselves: the step owns every tensor it hands in and frees those it does not get back. A rule
 * may carry a `state` across steps (see ruleState.ts).
 */
export interface DescentRule extends MaybeStateful {
  /** 'perturbed' | 'surrogate-gap'. */
  readonly name: string;
  /**
   * A memory hint: false when {@link direction} never reads `grads`, so the step frees the clean
   * gradient as soon as e is made instead of keeping it alive through the pass at w + e (measured:
   * about 10 % of SAM's step time on the report's MLP under wasm). Absent: true (always safe).
   */
  readonly needsCleanGradient?: boolean;
  /** The direction on a step that climbed. */
  direction(input: DescentInput): tf.Tensor[];
  /**
   * The direction on a step that did not climb (a climb policy skipped the second pass). Absent:
   * `d = g`, the base optimiser's own step.
   */
  directionWithoutClimb?(input: OnePassInput): tf.Tensor[];
}

/** SAM, ASAM: `d = g_p`. */
export function perturbedDescent(): DescentRule {
  return {
    name: 'perturbed',
    needsCleanGradient: false,
    direction({ perturbedGrads }) {
      return [...perturbedGrads];
    },
  };
}

/**
 * GSAM (Zhuang et al., official code), with global norms and inner products:
 * `c = <g, g_p> / (‖g_p‖ ‖g‖ + eps)`, `g_perp = g - c ‖g‖ g_p / (‖g_p‖ + eps)`, `d = g_p - alpha g_perp`.
 * `alpha = 0` gives `d = g_p` exactly (SAM).
 */
export function surrogateGapDescent(options: { alpha: number }): DescentRule {
  const { alpha } = options;
  return {
    name: 'surrogate-gap',
    direction({ grads, perturbedGrads, eps }) {
      if (alpha === 0) return [...perturbedGrads];
      return tf.tidy(() => {
        const gNorm = globalNorm(grads);
        const gpNorm = globalNorm(perturbedGrads);
        const cosine = tf.div(globalDot(grads, perturbedGrads), tf.add(tf.mul(gpNorm, gNorm), eps));
        const parallelScale = tf.div(tf.mul(cosine, gNorm), tf.add(gpNorm, eps));
        return grads.map((g, i) => {
          const gp = perturbedGrads[i];
          const vertical = tf.sub(g, tf.mul(parallelScale, gp));
          return tf.sub(gp, tf.mul(alpha, vertical));
        });
      });
    },
  };
}
