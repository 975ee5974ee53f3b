/**
 * Ascent rules: from the weights `w` and the clean gradient `g`, the perturbation `e` that moves the
 * weights to the (approximate) worst point of the rho-neighbourhood. Exact formulas: ALGORITHMS.md.
 */
import * as tf from '@tensorflow/tfjs';
import { globalNorm } from '../util/paramVector.js';
import type { MaybeStateful } from './ruleState.js';

/** What an ascent rule sees: the variables (at w), their clean gradients, rho for this step, eps. */
export interface AscentInput {
  /** The variables, at w. */
  readonly vars: readonly tf.Variable[];
  /** The clean gradient g, one tensor per variable. */
  readonly grads: readonly tf.Tensor[];
  /** The neighbourhood radius of this step. */
  readonly rho: number;
  /** Added to norms in denominators. */
  readonly eps: number;
}

/**
 * An ascent rule returns one perturbation tensor per variable (same order and shapes), new tensors
 * the caller owns. A rule may carry a `state` across steps (see ruleState.ts).
 */
export interface AscentRule extends MaybeStateful {
  /** A short name used in configs and records: 'euclidean' | 'adaptive' | 'elementwise'. */
  readonly name: string;
  /** The perturbation e, one new tensor per variable (the caller disposes them). */
  perturbation(input: AscentInput): tf.Tensor[];
}

/**
 * Which variables ASAM's normalisation operator scales: 'kernels' (weight matrices and convolution
 * kernels, i.e. every variable of rank >= 2; biases and normalisation scales/offsets are rank 1),
 * 'all', or a predicate of the caller's.
 */
export type AdaptiveScope = 'kernels' | 'all' | ((v: tf.Variable) => boolean);

/** True when the adaptive rule scales `v` under `scope`. */
export function isScaled(v: tf.Variable, scope: AdaptiveScope): boolean {
  if (scope === 'all') return true;
  if (scope === 'kernels') return v.rank >= 2;
  return scope(v);
}

/** SAM (Foret et al.): `e = rho * g / (‖g‖ + eps)`. */
export function euclideanAscent(): AscentRule {
  return {
    name: 'euclidean',
    perturbation({ grads, rho, eps }) {
      return tf.tidy(() => {
        const scale = tf.div(rho, tf.add(globalNorm(grads), eps));
        return grads.map((g) => tf.mul(g, scale));
      });
    },
  };
}

/**
 * ASAM (Kwon et al., as the official code computes it): `T = |w| + eta` on scaled variables and
 * `T = 1` on the others; `e = rho * T ⊙ T ⊙ g / (‖T ⊙ g‖ + eps)`.
 */
export function adaptiveAscent(options: { eta: number; scope: AdaptiveScope }): AscentRule {
  const { eta, scope } = options;
  return {
    name: 'adaptive',
    perturbation({ vars, grads, rho, eps }) {
      return tf.tidy(() => {
        const scaled = vars.map((v) => isScaled(v, scope));
        const tg = grads.map((g, i) => (scaled[i] ? tf.mul(tf.add(tf.abs(vars[i]), eta), g) : g));
        const scale = tf.div(rho, tf.add(globalNorm(tg), eps));
        return tg.map((x, i) => tf.mul(scaled[i] ? tf.mul(tf.add(tf.abs(vars[i]), eta), x) : x, scale));
      });
    },
  };
}

/**
 * The report's Adaptive-GSAM climb (section 5.1): `e = rho * (|w| + gamma) ⊙ g / (‖g‖ + eps)` on
 * every variable; `gamma` keeps zero weights movable.
 */
export function elementwiseAscent(options: { gamma: number }): AscentRule {
  const { gamma } = options;
  return {
    name: 'elementwise',
    perturbation({ vars, grads, rho, eps }) {
      return tf.tidy(() => {
        const scale = tf.div(rho, tf.add(globalNorm(grads), eps));
        return grads.map((g, i) => tf.mul(tf.mul(tf.add(tf.abs(vars[i]), gamma), g), scale));
      });
    },
  };
}
