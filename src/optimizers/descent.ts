/**
 * Descent rules: from the clean gradient `g` and the perturbed gradient `g_p`, the direction handed
 * to the base optimiser (before weight decay). Exact formulas: ALGORITHMS.md.
 */
import * as tf from '@tensorflow/tfjs';
import { globalDot, globalNorm } from './tensorList.js';

/** What a descent rule sees. */
export interface DescentInput {
  /** The clean gradient g at w. */
  readonly grads: readonly tf.Tensor[];
  /** The perturbed gradient g_p at w + e. */
  readonly perturbedGrads: readonly tf.Tensor[];
  /** Added to norms in denominators. */
  readonly eps: number;
}

/** A descent rule returns one direction tensor per variable. */
export interface DescentRule {
  /** 'perturbed' | 'surrogate-gap'. */
  readonly name: string;
  /** True when the rule reads the clean gradient (then the step keeps `g` alive through pass two). */
  readonly needsCleanGradient: boolean;
  /** The direction; it may return input tensors themselves (the caller disposes the inputs it does not get back). */
  direction(input: DescentInput): tf.Tensor[];
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
    needsCleanGradient: true,
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
