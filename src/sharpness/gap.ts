/**
 * First-order sharpness along ascent steps: SAM's surrogate gap (with Lemma 3's eigenvalue estimate)
 * and ASAM's adaptive sharpness. Synchronous; the variables are left bit-identical.
 */
import * as tf from '@tensorflow/tfjs';
import { Rng } from '../util/random.js';
import type { Objective } from './objective.js';
import { lossValue, valueAndGradient } from './objective.js';
import { checkNumber, checkObjective, checkSeed } from './validate.js';
import { norm, normalVector, withSnapshot, type ParamVector } from './vectors.js';

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
  if (opts === null || typeof opts !== 'object') throw new Error(`${fn}: opts { rho } is required`);
  const rho = checkNumber(fn, 'rho', opts.rho, undefined, { min: 0, minExclusive: true });
  return withSnapshot(obj.vars, (snap) => {
    const { value: loss, grads } = valueAndGradient(obj);
    try {
      const gNorm = norm(grads);
      if (!Number.isFinite(gNorm)) throw new Error(`${fn}: gradient is not finite`);
      let perturbedLoss = loss;
      if (gNorm > 0) {
        snap.shift(grads, rho / gNorm);
        perturbedLoss = lossValue(obj);
        snap.restore();
      }
      const gap = perturbedLoss - loss;
      return { loss, perturbedLoss, gap, lemma3SigmaMax: (2 * gap) / (rho * rho) };
    } finally {
      tf.dispose(grads);
    }
  });
}

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
 * T_w = |w| + eta elementwise. Writing e = T_w u with ‖u‖ <= rho, it runs projected gradient ascent on
 * u: start at ASAM's step u₀ = rho·T g/‖T g‖ (e₀ = rho·T²g/‖Tg‖), then u ← Π(u + stepSize·rho·d/‖d‖),
 * d = T ∇L(w + T u), Π the projection onto the ball. Returns the best value found, so it never
 * decreases with more steps. Synchronous.
 */
export function adaptiveSharpness(obj: Objective, opts: AdaptiveSharpnessOptions): AdaptiveSharpnessResult {
  const fn = 'adaptiveSharpness';
  checkObjective(fn, obj);
  if (opts === null || typeof opts !== 'object') throw new Error(`${fn}: opts { rho } is required`);
  const rho = checkNumber(fn, 'rho', opts.rho, undefined, { min: 0, minExclusive: true });
  const eta = checkNumber(fn, 'eta', opts.eta, 0.01, { min: 0 });
  const steps = checkNumber(fn, 'steps', opts.steps, 5, { min: 0, integer: true });
  const stepSize = checkNumber(fn, 'stepSize', opts.stepSize, 1, { min: 0, minExclusive: true, max: 2 });
  const seed = checkSeed(fn, opts.seed, 0);
  return withSnapshot(obj.vars, (snap) => {
    const t = tf.tidy(() => snap.saved.map((w) => tf.add(tf.abs(w), eta)));
    let u: ParamVector | null = null;
    let grads: ParamVector | null = null;
    try {
      const start = valueAndGradient(obj);
      const loss = start.value;
      grads = start.grads;
      let best = loss;
      let evaluations = 0;
      for (let k = 0; k <= steps; k++) {
        // d = T·∇L at the current point; the ascent direction in u-space.
        const d = tf.tidy(() => (grads as ParamVector).map((g, i) => tf.mul(t[i], g)));
        tf.dispose(grads as ParamVector);
        grads = null;
        const dNorm = norm(d);
        if (!Number.isFinite(dNorm)) {
          tf.dispose(d);
          throw new Error(`${fn}: gradient is not finite`);
        }
        let next: ParamVector;
        if (k === 0) {
          if (dNorm > 0) {
            next = tf.tidy(() => d.map((di) => tf.mul(di, rho / dNorm)));
          } else {
            // Zero gradient: no ascent direction, start from a seeded random point on the sphere.
            const r = normalVector(obj.vars, new Rng(seed));
            const rn = norm(r);
            next = tf.tidy(() => r.map((ri) => tf.mul(ri, rho / rn)));
            tf.dispose(r);
          }
        } else {
          const prev = u as ParamVector;
          const stepped = tf.tidy(() => prev.map((ui, i) => (dNorm > 0 ? tf.add(ui, tf.mul(d[i], (stepSize * rho) / dNorm)) : ui.clone())));
          const sNorm = norm(stepped);
          next = sNorm > rho ? tf.tidy(() => stepped.map((s) => tf.mul(s, rho / sNorm))) : stepped.map((s) => s.clone());
          tf.dispose(stepped);
        }
        tf.dispose(d);
        if (u !== null) tf.dispose(u as ParamVector);
        u = next;
        const e = tf.tidy(() => (u as ParamVector).map((ui, i) => tf.mul(t[i], ui)));
        snap.shift(e);
        tf.dispose(e);
        // The gradient at the new point is only needed if another step follows.
        if (k < steps) {
          const at = valueAndGradient(obj);
          grads = at.grads;
          best = Math.max(best, at.value);
        } else {
          best = Math.max(best, lossValue(obj));
        }
        evaluations++;
        snap.restore();
      }
      return { value: best - loss, loss, perturbedLoss: best, evaluations };
    } finally {
      tf.dispose(t);
      if (u !== null) tf.dispose(u);
      if (grads !== null) tf.dispose(grads);
    }
  });
}
