/**
 * Spectral summaries of the Hessian from Hessian-vector products: the top eigenvalue by power
 * iteration and the trace by Hutchinson's estimator. Both are synchronous, dispose every tensor they
 * make and leave the variables bit-identical.
 */
import * as tf from '@tensorflow/tfjs';
import { Rng } from '../util/random.js';
import { meanAndStd } from '../util/stats.js';
import { HessianVectorProduct, readHvpOptions, type HvpOptions, type ResolvedHvpMethod } from './hvp.js';
import type { Objective } from './objective.js';
import { checkNumber, checkObjective, checkSeed } from './validate.js';
import { dot, norm, normalVector, rademacherVector, scale, withSnapshot, type ParamVector } from './vectors.js';

/** Options of {@link hessianTopEigenvalue}. */
export interface TopEigenvalueOptions extends HvpOptions {
  /** Stop when |λ_k − λ_{k−1}| <= tol·|λ_k|; > 0 and < 1, default 1e-4. */
  tol?: number;
  /** Cap on Hessian-vector products (integer >= 2, default 100). */
  maxIterations?: number;
  /** Seed of the random start vector (integer, default 0). */
  seed?: number;
}

/** Result of {@link hessianTopEigenvalue}. */
export interface TopEigenvalueResult {
  /** Rayleigh quotient vᵀHv of the last unit iterate: the eigenvalue of largest MAGNITUDE (signed). */
  value: number;
  /** Hessian-vector products used. */
  iterations: number;
  /** Whether the relative change fell below tol before the cap. */
  converged: boolean;
  /** How the Hessian-vector products were computed. */
  method: ResolvedHvpMethod;
  /** Why that method (what 'auto' found on the first product). */
  methodReason: string;
}

/**
 * The Hessian's dominant eigenvalue by power iteration v ← Hv/‖Hv‖ from a seeded Gaussian start.
 * Power iteration converges to the eigenvalue of largest MAGNITUDE: away from a minimum that may be a
 * negative eigenvalue (returned with its sign), and two eigenvalues ±λ of equal magnitude make it
 * oscillate (converged: false). Convergence is geometric with ratio |λ₂/λ₁|, so a tight spectrum needs
 * many iterations. Synchronous.
 */
export function hessianTopEigenvalue(obj: Objective, opts: TopEigenvalueOptions = {}): TopEigenvalueResult {
  const fn = 'hessianTopEigenvalue';
  checkObjective(fn, obj);
  const tol = checkNumber(fn, 'tol', opts.tol, 1e-4, { min: 0, minExclusive: true, max: 1, maxExclusive: true });
  const maxIterations = checkNumber(fn, 'maxIterations', opts.maxIterations, 100, { min: 2, integer: true });
  const seed = checkSeed(fn, opts.seed, 0);
  const h = readHvpOptions(fn, opts);
  return withSnapshot(obj.vars, (snap) => {
    const hvp = new HessianVectorProduct(obj, snap, h.method, h.fdRelativeStep, h.verifyTolerance);
    const start = normalVector(obj.vars, new Rng(seed));
    let v: ParamVector = scale(start, 1 / norm(start));
    tf.dispose(start);
    let value = Number.NaN;
    let converged = false;
    let iterations = 0;
    try {
      for (let k = 1; k <= maxIterations; k++) {
        const hv = hvp.apply(v);
        iterations = k;
        const lambda = dot(v, hv);
        const hvNorm = norm(hv);
        const previous = value;
        value = lambda;
        if (!Number.isFinite(hvNorm)) {
          tf.dispose(hv);
          throw new Error(`${fn}: Hessian-vector product is not finite (loss not finite at these weights?)`);
        }
        if (hvNorm === 0) {
          // Hv = 0: v lies in the null space; with a random start that means H = 0 along it.
          tf.dispose(hv);
          converged = true;
          break;
        }
        const next = scale(hv, 1 / hvNorm);
        tf.dispose([hv, v]);
        v = next;
        if (k > 1 && Math.abs(lambda - previous) <= tol * Math.abs(lambda)) {
          converged = true;
          break;
        }
      }
    } finally {
      tf.dispose(v);
    }
    return { value, iterations, converged, method: hvp.method as ResolvedHvpMethod, methodReason: hvp.reason };
  });
}

/** Options of {@link hessianTrace}. */
export interface TraceOptions extends HvpOptions {
  /** Number of Rademacher probes (integer >= 2, default 20). */
  samples?: number;
  /** Seed of the probes (integer, default 0). */
  seed?: number;
}

/** Result of {@link hessianTrace}. */
export interface TraceResult {
  /** Mean of zᵀHz over the probes: an unbiased estimate of tr H. */
  value: number;
  /** Standard error of that mean (sample standard deviation / √samples). */
  stdError: number;
  /** Probes used. */
  samples: number;
  /** How the Hessian-vector products were computed. */
  method: ResolvedHvpMethod;
  /** Why that method (what 'auto' found on the first product). */
  methodReason: string;
}

/**
 * Hutchinson's estimate of tr H: the mean of zᵀHz over Rademacher vectors z (entries ±1). It is
 * unbiased, and its variance per probe is 2 Σ_{i≠j} H_ij², so it is exact for a diagonal Hessian.
 * Synchronous.
 */
export function hessianTrace(obj: Objective, opts: TraceOptions = {}): TraceResult {
  const fn = 'hessianTrace';
  checkObjective(fn, obj);
  const samples = checkNumber(fn, 'samples', opts.samples, 20, { min: 2, integer: true });
  const seed = checkSeed(fn, opts.seed, 0);
  const h = readHvpOptions(fn, opts);
  return withSnapshot(obj.vars, (snap) => {
    const hvp = new HessianVectorProduct(obj, snap, h.method, h.fdRelativeStep, h.verifyTolerance);
    const rng = new Rng(seed);
    const values: number[] = [];
    for (let s = 0; s < samples; s++) {
      const z = rademacherVector(obj.vars, rng);
      try {
        const hz = hvp.apply(z);
        values.push(dot(z, hz));
        tf.dispose(hz);
      } finally {
        tf.dispose(z);
      }
    }
    const { mean, variance } = meanAndStd(values) as { mean: number; variance: number }; // samples >= 2
    return {
      value: mean,
      stdError: Math.sqrt(variance / samples),
      samples,
      method: hvp.method as ResolvedHvpMethod,
      methodReason: hvp.reason,
    };
  });
}
