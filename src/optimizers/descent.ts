/**
 * Descent rules: from the clean gradient `g` and the perturbed gradient `g_p`, the direction handed
 * to the base optimiser (before weight decay). Exact formulas: ALGORITHMS.md.
 */
import * as tf from '@tensorflow/tfjs';
import { axpy, globalDot, globalNorm, rejection, selfScaledAxpy } from '../util/paramVector.js';
import { checkNumber } from '../util/validation.js';
import type { MaybeStateful, NamedTensor, RuleState } from './ruleState.js';

/** What a descent rule sees on a step that climbed. */
export interface DescentInput {
  /** The clean gradient g at w. */
  readonly grads: readonly tf.Tensor[];
  /** The perturbed gradient g_p at w + e. */
  readonly perturbedGrads: readonly tf.Tensor[];
  /** Added to norms in denominators. */
  readonly eps: number;
}

/**
 * The loss of a mini-batch, one value per example, evaluated on any subset of its examples: what the
 * step needs for ESAM's data selection, micro-batches (m-sharpness) and gradient accumulation.
 * Build one with `exampleLosses(size, losses)` (step.ts).
 */
export interface ExampleLossClosure {
  /** Examples in the mini-batch. */
  readonly size: number;
  /**
   * The loss of each example at `indices` (int32 positions in the batch, in that order; every
   * example, in order, when null), as a 1-D tensor, at the current weights. `pass` says which pass
   * of the step asks: 'clean' at w, 'perturbed' at w + e (differentiated), 'probe' at w + e without
   * a gradient (ESAM ranking the examples).
   */
  losses(indices: tf.Tensor1D | null, pass: LossPass): tf.Tensor1D;
}

/** Which pass of a step evaluates a loss: see {@link ExampleLossClosure.losses}. */
export type LossPass = 'clean' | 'perturbed' | 'probe';

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
  /**
   * ESAM's data selection: the share of the mini-batch, in (0, 1], the pass at w + e descends on,
   * namely the examples whose loss rises most from w to w + e. Below 1 the step needs one loss per
   * example (an {@link ExampleLossClosure}). Absent: 1, every example.
   */
  readonly exampleShare?: number;
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
        const parallelScale = tf.div(tf.mul(cosine, gNorm), tf.add(gpNorm, eps)) as tf.Scalar;
        // g_perp = g + (-c') g_p, then d = g_p + (-alpha) g_perp: one kernel call each for all variables.
        const vertical = axpy(grads, perturbedGrads, tf.neg(parallelScale));
        return axpy(perturbedGrads, vertical, -alpha);
      });
    },
  };
}

/**
 * LookSAM (Liu et al. 2022, "Towards Efficient and Scalable Sharpness-Aware Minimization"), with
 * global norms and inner products. On a step that climbs, `d = g_p`, and the rule stores the part of
 * `g_p` orthogonal to `g`:
 * `g_v = g_p - (<g_p, g> / (‖g‖² + eps)) g`.
 * On a step that does not climb (one pass at w), it reuses that direction, rescaled to the current
 * gradient: `d = g + alpha ‖g‖ g_v / (‖g_v‖ + eps)`; before the first climb `d = g`. `g_v` lives in
 * non-trainable variables, saved and restored with the optimiser (`descent/gv<i>`, one per variable
 * in the step's order).
 * @throws RangeError (TypeError for a non-number) unless alpha is a finite number >= 0.
 */
export function lookSamDescent(options: { alpha: number }): DescentRule & {
  /** The stored direction g_v (empty before the first climb). */
  state: RuleState;
} {
  const alpha = checkNumber('lookSamDescent', 'alpha', options?.alpha, undefined, { min: 0 });
  let gv: tf.Variable[] | null = null;
  // ‖g_v‖, computed once per climb: the k - 1 steps between reuse g_v unchanged, so recomputing its
  // norm there would be the same kernels on the same values every step (and the same result).
  let gvNorm: tf.Scalar | null = null;
  const forget = (): void => {
    tf.dispose([...(gv ?? []), ...(gvNorm !== null ? [gvNorm] : [])]);
    gv = null;
    gvNorm = null;
  };
  /** Stores `values` as g_v, with its norm when the caller has it (taken over), else computed. */
  const store = (values: readonly tf.Tensor[], norm?: tf.Scalar): void => {
    if (gv !== null && (gv.length !== values.length || gv.some((v, i) => !tf.util.arraysEqual(v.shape, values[i].shape)))) forget();
    if (gv === null) gv = values.map((v) => tf.variable(v, false));
    else gv.forEach((v, i) => v.assign(values[i]));
    gvNorm?.dispose();
    gvNorm = tf.keep(norm ?? globalNorm(gv));
  };
  const entry = (name: string): number => Number(name.slice(2));
  return {
    name: 'looksam',
    direction({ grads, perturbedGrads, eps }) {
      // g_v and ‖g_v‖ in one kernel call on wasm.
      const { values, norm } = rejection(perturbedGrads, grads, eps);
      store(values, norm);
      tf.dispose(values);
      return [...perturbedGrads];
    },
    directionWithoutClimb({ grads, eps }) {
      const stored = gv;
      const storedNorm = gvNorm;
      if (stored === null || storedNorm === null || stored.length !== grads.length) return [...grads];
      // One kernel call on wasm: the norm of g, the scale and the sum.
      return selfScaledAxpy(grads, stored, alpha, storedNorm, eps);
    },
    state: {
      save: (): NamedTensor[] => (gv ?? []).map((v, i) => ({ name: `gv${i}`, tensor: v })),
      load: (saved) => {
        const values = [...saved].sort((a, b) => entry(a.name) - entry(b.name)).map((w) => w.tensor);
        if (values.length > 0) store(values);
        else forget();
      },
      dispose: forget,
    },
  };
}

/**
 * ESAM's sharpness-sensitive data selection (Du et al. 2022): `d = g_p`, where `g_p` is the gradient
 * at w + e of the mean loss over the `gamma` share of the batch whose loss rises most from w to w + e
 * (`max(1, floor(gamma n))` examples of n; ties go to the earlier example). `gamma = 1` is
 * {@link perturbedDescent}.
 * @throws RangeError (TypeError for a non-number) unless 0 < gamma <= 1.
 */
export function sharpnessSensitiveDescent(options: { gamma: number }): DescentRule {
  const gamma = checkNumber('sharpnessSensitiveDescent', 'gamma', options?.gamma, undefined, { min: 0, minExclusive: true, max: 1 });
  return { ...perturbedDescent(), name: 'sharpness-sensitive', exampleShare: gamma };
}
