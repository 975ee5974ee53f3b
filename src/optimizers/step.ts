/**
 * The two-pass sharpness-aware step of ALGORITHMS.md as one pure function for custom training loops:
 * gradients at w, move to w + e, gradients there, move back bit-exactly, combine. It applies nothing:
 * the caller hands `gradients` to any optimiser. Variables (and non-trainable state such as
 * BatchNormalization moving statistics) are left exactly as they were found.
 */
import * as tf from '@tensorflow/tfjs';
import { atShiftedWeights } from '../util/paramVector.js';
import { withOwnership } from '../util/tensorScope.js';
import { checkBoolean, checkNumber, describeValue } from '../util/validation.js';
import type { AscentRule } from './ascent.js';
import type { DescentRule } from './descent.js';

/** How to take one step. */
export interface SharpnessAwareStepConfig {
  /** The climb: euclidean (SAM), adaptive (ASAM) or elementwise (Adaptive-GSAM). */
  readonly ascent: AscentRule;
  /** The descent: perturbed (SAM, ASAM) or surrogate-gap (GSAM). */
  readonly descent: DescentRule;
  /** Neighbourhood radius for this step (>= 0). With 0 the second pass is skipped: d = g. */
  readonly rho: number;
  /** Coupled L2 weight decay: `d <- d + weightDecay * w` (never enters e or the losses). Default 0. */
  readonly weightDecay?: number;
  /** Added to norms in denominators. Default 1e-12. */
  readonly eps?: number;
  /**
   * Restore every non-trainable variable (e.g. BatchNormalization moving mean/variance) after the
   * pass at w + e, so that only the clean pass updates them. Default true.
   */
  readonly restoreNonTrainable?: boolean;
  /**
   * Whether this step climbs (default true). false: one pass at w, and the direction is the descent
   * rule's `directionWithoutClimb` (by default `d = g`); a climb policy decides this per step.
   */
  readonly climb?: boolean;
}

/** What a step returns. The caller owns (and must dispose) every tensor; see {@link disposeStepResult}. */
export interface SharpnessAwareStepResult {
  /** The clean loss L(w). */
  readonly loss: tf.Scalar;
  /** The perturbed loss L(w + e) (equal to `loss` when the step did not climb or rho is 0). */
  readonly perturbedLoss: tf.Scalar;
  /** The surrogate-gap estimate h = L(w + e) - L(w). */
  readonly surrogateGap: tf.Scalar;
  /** The variables that took part (those with a gradient), in the order of `gradients`. */
  readonly vars: tf.Variable[];
  /** The direction for the base optimiser, one per entry of `vars` (weight decay included). */
  readonly gradients: tf.Tensor[];
}

/** Disposes every tensor of a {@link SharpnessAwareStepResult}. */
export function disposeStepResult(result: SharpnessAwareStepResult): void {
  tf.dispose([result.loss, result.perturbedLoss, result.surrogateGap, ...result.gradients]);
}

/** The trainable variables tfjs differentiates by default (those of `minimize` without a varList). */
export function defaultTrainableVariables(): tf.Variable[] {
  return Object.values(tf.engine().registeredVariables).filter((v) => v.trainable);
}

/**
 * Runs the two-pass step of ALGORITHMS.md on `f` (a loss closure reading `vars`).
 * `f` is called first at w (the clean pass), then at w + e. A variable that gets no gradient from `f`
 * is left out of the step (no perturbation, no direction), as the reference implementations skip
 * parameters whose gradient is None.
 */
export function sharpnessAwareStep(
  f: () => tf.Scalar,
  vars: readonly tf.Variable[],
  config: SharpnessAwareStepConfig,
): SharpnessAwareStepResult {
  const { ascent, descent, rho, weightDecay, eps, restoreNonTrainable, climb } = readStepConfig(config);
  return withOwnership((scope) => {
    // 1. (L, g) = valueAndGrad(L)(w), over the variables that get a gradient.
    const { loss, active, g } = scope.own(cleanPass(f, vars));
    if (rho === 0 || !climb) {
      // One pass. rho = 0 gives e = 0, so g_p = g: the base optimiser's step.
      const d = rho === 0 ? g : scope.own(descent.directionWithoutClimb?.({ vars: active, grads: g, eps }) ?? g);
      const gradients = scope.own(addWeightDecay(d, active, weightDecay));
      return scope.keep({ loss, perturbedLoss: loss.clone(), surrogateGap: tf.zerosLike(loss), vars: active, gradients });
    }
    // 2. e = ascent(w, g, rho), applied as w <- w + e with an exact copy of w kept (and g freed
    //    when the descent does not read it, so that it does not live through pass 2);
    // 3. (L_p, g_p) = valueAndGrad(L)(w + e), owning what f keeps there (tfjs-layers keeps batch
    //    metrics twice; those of this pass are nobody's);
    // 4. w restored bit-exactly, also if f throws (and the non-trainable state, see the config).
    const e = (): tf.Tensor[] => {
      const shift = ascent.perturbation({ vars: active, grads: g, rho, eps });
      if (descent.needsCleanGradient === false) scope.disposeNow(g);
      return shift;
    };
    const alsoRestore = restoreNonTrainable ? nonTrainableVariablesOutside(vars) : [];
    const { value: perturbedLoss, grads: gp } = scope.own(
      atShiftedWeights(active, e, () => scope.ownKeptDuring(() => perturbedPass(f, active)), { alsoRestore }),
    );
    // 5. d = descent(g, g_p), plus coupled weight decay wd * w.
    const d = scope.own(descent.direction({ grads: g, perturbedGrads: gp, eps }));
    const gradients = scope.own(addWeightDecay(d, active, weightDecay));
    // 6. is the caller's: the base optimiser applies `gradients` as if they were the gradient.
    return scope.keep({ loss, perturbedLoss, surrogateGap: tf.sub(perturbedLoss, loss) as tf.Scalar, vars: active, gradients });
  });
}

/** The step's settings with their defaults, checked. */
function readStepConfig(config: SharpnessAwareStepConfig) {
  const where = 'sharpnessAwareStep';
  if (typeof config?.ascent?.perturbation !== 'function') throw new TypeError(`${where}: config.ascent must be an ascent rule (e.g. euclideanAscent()), got ${describeValue(config?.ascent)}`);
  if (typeof config.descent?.direction !== 'function') throw new TypeError(`${where}: config.descent must be a descent rule (e.g. perturbedDescent()), got ${describeValue(config.descent)}`);
  return {
    ascent: config.ascent,
    descent: config.descent,
    rho: checkNumber(where, 'rho', config.rho, undefined, { min: 0 }),
    weightDecay: checkNumber(where, 'weightDecay', config.weightDecay, 0, { min: 0 }),
    eps: checkNumber(where, 'eps', config.eps, 1e-12, { min: 0 }),
    restoreNonTrainable: checkBoolean(where, 'restoreNonTrainable', config.restoreNonTrainable, true),
    climb: checkBoolean(where, 'climb', config.climb, true),
  };
}

/** Pass 1: L(w) and the gradients of the variables that get one (`active`). */
function cleanPass(f: () => tf.Scalar, vars: readonly tf.Variable[]): { loss: tf.Scalar; active: tf.Variable[]; g: tf.Tensor[] } {
  const { value, grads } = tf.variableGrads(f, vars as tf.Variable[]);
  const active = vars.filter((v) => grads[v.name] != null);
  return { loss: value, active, g: active.map((v) => grads[v.name]) };
}

/** Pass 2: L(w + e) and the gradient of each of `active` (zeros where f gives none there). */
function perturbedPass(f: () => tf.Scalar, active: tf.Variable[]): { value: tf.Scalar; grads: tf.Tensor[] } {
  const { value, grads } = tf.variableGrads(f, active);
  return { value, grads: active.map((v) => grads[v.name] ?? tf.zerosLike(v)) };
}

/** `d + wd * w` per variable (new tensors), or `d` itself when wd is 0. */
function addWeightDecay(d: tf.Tensor[], vars: readonly tf.Variable[], weightDecay: number): tf.Tensor[] {
  if (weightDecay === 0) return d;
  return tf.tidy(() => d.map((x, i) => tf.add(x, tf.mul(weightDecay, vars[i]))));
}

/** Every registered non-trainable variable outside `vars` (moving statistics, etc.). */
function nonTrainableVariablesOutside(vars: readonly tf.Variable[]): tf.Variable[] {
  const inStep = new Set(vars.map((v) => v.name));
  return Object.values(tf.engine().registeredVariables).filter((v) => !v.trainable && !inStep.has(v.name));
}
