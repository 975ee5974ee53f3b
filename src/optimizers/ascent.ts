/**
 * Ascent rules: from the weights `w` and the clean gradient `g`, the perturbation `e` that moves the
 * weights to the (approximate) worst point of the rho-neighbourhood. Exact formulas: ALGORITHMS.md.
 */
import * as tf from '@tensorflow/tfjs';
import { globalNorm, normalizedAxpy, scale as scaleBy } from '../util/paramVector.js';
import { Rng } from '../util/random.js';
import { checkNumber, checkSeed } from '../util/validation.js';
import { rngState, type MaybeStateful } from './ruleState.js';

/** What an ascent rule sees: the variables (at w), their clean gradients, rho for this step, eps. */
export interface AscentInput {
  /** The variables, at w. */
  readonly vars: readonly tf.Variable[];
  /** The clean gradient g, one tensor per variable (empty for a rule with `needsGradient: false`). */
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
  /** A short name used in configs and records: 'euclidean' | 'adaptive' | 'elementwise' | ... */
  readonly name: string;
  /**
   * false when the perturbation does not depend on the clean gradient (MSAM climbs along the base
   * optimiser's momentum): the step then makes no pass at w on a climbing step, only the one at
   * w + e, and hands the rule an empty `grads`. Absent: true.
   */
  readonly needsGradient?: boolean;
  /** The perturbation e, one new tensor per variable (the caller disposes them). */
  perturbation(input: AscentInput): tf.Tensor[];
  /**
   * The perturbed weights `w + e` themselves, one new tensor per variable, bit-for-bit
   * `origin[i] + perturbation(input)[i]` (`origin`: the values at w). Optional: a rule gives it when
   * it can fuse its scale into the move (SAM's norm, scale and add are one kernel call on wasm), and
   * the step then never makes e. Absent: the step adds {@link perturbation} to w.
   */
  shiftedWeights?(input: AscentInput, origin: readonly tf.Tensor[]): tf.Tensor[];
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
        const scale = tf.div(rho, tf.add(globalNorm(grads), eps)) as tf.Scalar;
        return scaleBy(grads, scale);
      });
    },
    shiftedWeights: ({ grads, rho, eps }, origin) => normalizedAxpy(origin, grads, rho, eps),
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

/**
 * ESAM's stochastic weight perturbation (Du et al. 2022): each weight is perturbed with probability
 * `beta`, and the kept part is scaled by `1 / beta` so that the perturbation is SAM's on average:
 * `e = (rho / beta) * m ⊙ g / (‖g‖ + eps)`, `m_i ~ Bernoulli(beta)` drawn per weight (per scalar, not
 * per tensor) from a generator seeded with `seed`, whose state is the rule's state. `‖g‖` is the norm
 * of the whole clean gradient. `beta = 1` draws nothing and is {@link euclideanAscent} exactly.
 * @throws RangeError (TypeError for a non-number) unless 0 < beta <= 1 and seed is an integer.
 */
export function stochasticAscent(options: { beta: number; seed?: number }): AscentRule {
  const beta = checkNumber('stochasticAscent', 'beta', options?.beta, undefined, { min: 0, minExclusive: true, max: 1 });
  if (beta === 1) return { ...euclideanAscent(), name: 'stochastic' };
  const rng = new Rng(checkSeed('stochasticAscent', options.seed, 0));
  // One mask over all of the gradient's elements, in the variables' order, drawn in JavaScript from
  // our own generator (sfc32: fast, and its whole state can be saved; tf.randomUniform's cannot).
  const drawMask = (grads: readonly tf.Tensor[]): Float32Array => {
    const mask = new Float32Array(grads.reduce((n, g) => n + g.size, 0));
    rng.fillBernoulli(mask, beta);
    return mask;
  };
  return {
    name: 'stochastic',
    perturbation({ grads, rho, eps }) {
      const mask = drawMask(grads);
      return tf.tidy(() => {
        const scale = tf.div(rho / beta, tf.add(globalNorm(grads), eps));
        let at = 0;
        return grads.map((g) => tf.mul(tf.mul(g, tf.tensor(mask.subarray(at, (at += g.size)), g.shape, 'float32')), scale));
      });
    },
    shiftedWeights: ({ grads, rho, eps }, origin) => normalizedAxpy(origin, grads, rho / beta, eps, drawMask(grads)),
    state: rngState(rng),
  };
}

/**
 * MSAM's climb (Momentum-SAM, Becker et al. 2024, as `optimizer/msam.py` of MarlonBecker/MSAM does
 * it): `e = -rho * v / (‖v‖ + eps)`, where `v` is the base optimiser's momentum (the velocity the
 * next update subtracts, times -1/lr). It reads no gradient, so a climbing step makes one pass only,
 * at w + e. Before the base has a momentum for a variable (the first step) that variable's e is 0.
 * @param momentumOf the base's momentum of `v`, the `index`-th variable of the step, or null when it
 *   has none yet (read, not owned). tfjs's momentum keeps its slots by position in the list of
 *   gradients it is given, not by name, which is why the position is passed.
 */
export function momentumAscent(momentumOf: (v: tf.Variable, index: number) => tf.Tensor | null): AscentRule {
  if (typeof momentumOf !== 'function')
    throw new TypeError('momentumAscent: momentumOf must be a function (variable, index) => tensor | null');
  // The momenta, zeros where the base has none yet (inside a tf.tidy, which frees those zeros).
  const momenta = (vars: readonly tf.Variable[]): tf.Tensor[] => vars.map((x, i) => momentumOf(x, i) ?? tf.zerosLike(x));
  return {
    name: 'momentum',
    needsGradient: false,
    perturbation({ vars, rho, eps }) {
      return tf.tidy(() => {
        const v = momenta(vars);
        const scale = tf.div(-rho, tf.add(globalNorm(v), eps)) as tf.Scalar;
        return scaleBy(v, scale);
      });
    },
    shiftedWeights: ({ vars, rho, eps }, origin) => tf.tidy(() => normalizedAxpy(origin, momenta(vars), -rho, eps)),
  };
}
