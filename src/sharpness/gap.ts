/**
 * First-order sharpness along ascent steps: SAM's surrogate gap (with Lemma 3's eigenvalue estimate)
 * and ASAM's adaptive sharpness. Synchronous; the variables are left bit-identical.
 */
import * as tf from '@tensorflow/tfjs';
import { adaptiveAscent, euclideanAscent } from '../optimizers/ascent.js';
import { atShiftedWeights, norm, type ParamVector } from '../util/paramVector.js';
import { Rng } from '../util/random.js';
import { withOwnership } from '../util/tensorScope.js';
import type { Objective } from './objective.js';
import { lossValue, valueAndGradient } from './objective.js';
import { checkNumber, checkObjective, checkOptions, checkSeed } from './validate.js';
import { normalVector } from './vectors.js';

/** Result of {@link surrogateGap}. */
export interface SurrogateGapResult {
  /** L(w). */
  loss: number;
  /** L(w + e), e = rho·g/‖g‖ (e = 0 when g = 0). */
  perturbedLoss: number;
  /** h = L(w + e) − L(w). */
  gap: number;
  /** Lemma 3's estimate of the top Hessian eigenvalue, 2h/rho². */
  lemma3SigmaMax: number;
}

/**
 * SAM's surrogate gap h(w) = L(w + e) − L(w) with the euclidean ascent step e = rho·∇L/‖∇L‖, and
 * 2h/rho². By Taylor, 2h/rho² = ĝᵀHĝ + 2‖g‖/rho + O(rho) (ĝ = g/‖g‖): it approximates sigma_max
 * (Lemma 3) near a minimum (‖g‖ ≪ rho·sigma_max) where the gradient points along the top eigenvector,
 * which is where gradient descent with a large step leaves the residual. Synchronous.
 */
export function surrogateGap(obj: Objective, opts: { rho: number }): SurrogateGapResult {
  const fn = 'surrogateGap';
  checkObjective(fn, obj);
  checkOptions(fn, opts, '{ rho }');
  const rho = checkNumber(fn, 'rho', opts.rho, undefined, { min: 0, minExclusive: true });
  return withOwnership((scope) => {
    const { value: loss, grads } = scope.own(valueAndGradient(obj));
    if (!Number.isFinite(norm(grads))) throw new Error(`${fn}: gradient is not finite`);
    // SAM's own climb (the optimiser's rule and eps); g = 0 gives e = 0 and so h = 0.
    const e = (): ParamVector => euclideanAscent().perturbation({ vars: obj.vars, grads, rho, eps: SAM_EPS });
    const perturbedLoss = atShiftedWeights(obj.vars, e, () => lossValue(obj));
    const gap = perturbedLoss - loss;
    return { loss, perturbedLoss, gap, lemma3SigmaMax: (2 * gap) / (rho * rho) };
  });
}

/** The eps of the optimisers' climbs (their default), so a measure's e is the step's e. */
const SAM_EPS = 1e-12;

/** Options of {@link adaptiveSharpness}. */
export interface AdaptiveSharpnessOptions {
  /** Radius of the ball ‖T_w⁻¹ e‖ <= rho (> 0). */
  rho: number;
  /** T_w = |w| + eta (>= 0, default 0.01 as in ASAM). */
  eta?: number;
  /** Projected ascent steps after the ASAM start (integer >= 0, default 5). */
  steps?: number;
  /** Length of each ascent step as a fraction of rho (> 0 and <= 2, default 1). */
  stepSize?: number;
  /** Seed of the start direction, used only when the gradient is zero (integer, default 0). */
  seed?: number;
}

/** Result of {@link adaptiveSharpness}. */
export interface AdaptiveSharpnessResult {
  /** max over the evaluated points (e = 0 included) of L(w + e) − L(w): a lower bound on the adaptive sharpness. */
  value: number;
  /** L(w). */
  loss: number;
  /** L(w + e) at the best point (L(w) if no perturbed point was higher). */
  perturbedLoss: number;
  /** Loss evaluations made at perturbed points (steps + 1). */
  evaluations: number;
}

/**
 * Adaptive sharpness (Kwon et al. 2021, Def. 5.2, p = 2): max over ‖T_w⁻¹ e‖ <= rho of L(w + e) − L(w),
 * T_w = |w| + eta elementwise. Projected gradient ascent on e, each step ASAM's own climb (the
 * optimiser's adaptive rule on every variable): start at `e₀ = rho·T²g/‖Tg‖`, then
 * `e ← Π(e + stepSize·rho·T²d/‖Td‖)`, d = ∇L(w + e), Π the projection onto the ellipsoid
 * (`e ← e·rho/‖T⁻¹e‖` when outside). Returns the best value found, so it never decreases with more
 * steps. Synchronous.
 */
export function adaptiveSharpness(obj: Objective, opts: AdaptiveSharpnessOptions): AdaptiveSharpnessResult {
  const fn = 'adaptiveSharpness';
  checkObjective(fn, obj);
  checkOptions(fn, opts, '{ rho }');
  const rho = checkNumber(fn, 'rho', opts.rho, undefined, { min: 0, minExclusive: true });
  const eta = checkNumber(fn, 'eta', opts.eta, 0.01, { min: 0 });
  const steps = checkNumber(fn, 'steps', opts.steps, 5, { min: 0, integer: true });
  const stepSize = checkNumber(fn, 'stepSize', opts.stepSize, 1, { min: 0, minExclusive: true, max: 2 });
  const seed = checkSeed(fn, opts.seed, 0);
  const climb = adaptiveAscent({ eta, scope: 'all' });
  return withOwnership((scope) => {
    const t = scope.own(tf.tidy(() => obj.vars.map((w) => tf.add(tf.abs(w), eta))));
    const start = scope.own(valueAndGradient(obj));
    let grads = start.grads;
    let e: ParamVector = [];
    let best = start.value;
    for (let k = 0; k <= steps; k++) {
      if (!Number.isFinite(norm(grads))) throw new Error(`${fn}: gradient is not finite`);
      // The variables are at w here, as the rule needs: it reads T from them.
      const step = scope.own(climb.perturbation({ vars: obj.vars, grads, rho: k === 0 ? rho : stepSize * rho, eps: SAM_EPS }));
      const next = k > 0 ? projectOntoEllipsoid(e, step, t, rho) : norm(step) > 0 ? step : randomStart(obj.vars, t, rho, seed);
      e = scope.swap([e, step], next);
      // The gradient at the new point is only needed if another step follows.
      const at = atShiftedWeights(obj.vars, e, () => (k < steps ? valueAndGradient(obj) : { value: lossValue(obj), grads: [] }));
      grads = scope.swap(grads, at.grads);
      best = Math.max(best, at.value);
    }
    return { value: best - start.value, loss: start.value, perturbedLoss: best, evaluations: steps + 1 };
  });
}

/** Zero gradient, no ascent direction: a seeded random point on the ellipsoid's surface, `T·rho·r/‖r‖`. */
function randomStart(vars: tf.Variable[], t: ParamVector, rho: number, seed: number): ParamVector {
  const r = normalVector(vars, new Rng(seed));
  const rn = norm(r);
  const e = tf.tidy(() => r.map((ri, i) => tf.mul(t[i], tf.mul(ri, rho / rn))));
  tf.dispose(r);
  return e;
}

/** `Π(e + step)`: the sum, scaled back onto the ellipsoid ‖T⁻¹x‖ = rho when it lies outside (new tensors). */
function projectOntoEllipsoid(e: ParamVector, step: ParamVector, t: ParamVector, rho: number): ParamVector {
  return tf.tidy(() => {
    const sum = e.map((ei, i) => tf.add(ei, step[i]));
    const u = norm(sum.map((x, i) => tf.div(x, t[i])));
    return u > rho ? sum.map((x) => tf.mul(x, rho / u)) : sum;
  });
}
