/**
 * The two-pass sharpness-aware step of ALGORITHMS.md as one pure function for custom training loops:
 * gradients at w, move to w + e, gradients there, move back bit-exactly, combine. It applies nothing:
 * the caller hands `gradients` to any optimiser. Variables (and non-trainable state such as
 * BatchNormalization moving statistics) are left exactly as they were found.
 */
import * as tf from '@tensorflow/tfjs';
import type { AscentRule } from './ascent.js';
import type { DescentRule } from './descent.js';
import { interceptKeeps } from '../util/tfjsFixes.js';

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
}

/** What a step returns. The caller owns (and must dispose) every tensor; see {@link disposeStepResult}. */
export interface SharpnessAwareStepResult {
  /** The clean loss L(w). */
  readonly loss: tf.Scalar;
  /** The perturbed loss L(w + e) (equal to `loss` when rho is 0). */
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
  const eps = config.eps ?? 1e-12;
  const weightDecay = config.weightDecay ?? 0;
  const { rho } = config;
  if (!Number.isFinite(rho) || rho < 0) throw new Error(`rho must be a finite number >= 0, got ${rho}`);

  // Pass 1, at w.
  const clean = tf.variableGrads(f, vars as tf.Variable[]);
  const active = vars.filter((v) => clean.grads[v.name] != null);
  const g = active.map((v) => clean.grads[v.name]);
  const loss = clean.value;

  if (rho === 0) {
    // e = 0 exactly, so g_p = g: the base optimiser's step, with one pass.
    const gradients = addWeightDecay(g, active, weightDecay);
    if (weightDecay !== 0) tf.dispose(g);
    return { loss, perturbedLoss: loss.clone(), surrogateGap: tf.zerosLike(loss), vars: active, gradients };
  }

  // Climb to w + e, keeping the exact w (tf.clone shares or copies the data; either is bit-exact).
  const e = config.ascent.perturbation({ vars: active, grads: g, rho, eps });
  const savedWeights = active.map((v) => tf.clone(v));
  tf.tidy(() => active.forEach((v, i) => v.assign(tf.add(v, e[i]))));
  tf.dispose(e);
  if (!config.descent.needsCleanGradient) tf.dispose(g);
  const savedState = config.restoreNonTrainable === false ? [] : snapshotNonTrainable(vars);

  // Pass 2, at w + e. Restore w (and state) even if f throws.
  let perturbed: { value: tf.Scalar; grads: tf.NamedTensorMap };
  const keptInPass2: tf.Tensor[] = [];
  try {
    perturbed = interceptKeeps(keptInPass2, () => tf.variableGrads(f, active));
  } catch (error) {
    tf.dispose([loss, ...(config.descent.needsCleanGradient ? g : [])]);
    throw error;
  } finally {
    // What f keeps at w + e duplicates what it kept at w (tfjs-layers keeps its batch metrics):
    // those of pass two are nobody's, so they are disposed here.
    tf.dispose(keptInPass2.filter((t) => !t.isDisposed));
    active.forEach((v, i) => restore(v, savedWeights[i]));
    tf.dispose(savedWeights);
    savedState.forEach(({ variable, saved }) => restore(variable, saved));
    tf.dispose(savedState.map((s) => s.saved));
  }
  const gp = active.map((v) => perturbed.grads[v.name] ?? tf.zerosLike(v));

  const direction = config.descent.direction({ grads: g, perturbedGrads: gp, eps });
  const returned = new Set(direction);
  tf.dispose([...(config.descent.needsCleanGradient ? g : []), ...gp].filter((t) => !returned.has(t)));
  const gradients = addWeightDecay(direction, active, weightDecay);
  if (weightDecay !== 0) tf.dispose(direction);
  const perturbedLoss = perturbed.value;
  const surrogateGap = tf.sub(perturbedLoss, loss) as tf.Scalar;
  return { loss, perturbedLoss, surrogateGap, vars: active, gradients };
}

/** `d + wd * w` per variable (new tensors), or `d` itself when wd is 0. */
function addWeightDecay(d: tf.Tensor[], vars: readonly tf.Variable[], weightDecay: number): tf.Tensor[] {
  if (weightDecay === 0) return d;
  return tf.tidy(() => d.map((x, i) => tf.add(x, tf.mul(weightDecay, vars[i]))));
}

/** Puts `saved`'s data back into `v` unless `v` still holds it. */
function restore(v: tf.Variable, saved: tf.Tensor): void {
  if (v.dataId !== saved.dataId) v.assign(saved);
}

/** Copies of every registered non-trainable variable outside `vars` (moving statistics, etc.). */
function snapshotNonTrainable(vars: readonly tf.Variable[]): { variable: tf.Variable; saved: tf.Tensor }[] {
  const inStep = new Set(vars.map((v) => v.name));
  return Object.values(tf.engine().registeredVariables)
    .filter((v) => !v.trainable && !inStep.has(v.name))
    .map((variable) => ({ variable, saved: tf.clone(variable) }));
}
