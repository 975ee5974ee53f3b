/**
 * The Hessian's spectrum beyond its top eigenvalue, from Hessian-vector products: the k largest
 * eigenvalues (Lanczos with full re-orthogonalisation), the eigenvalue spectral density (stochastic
 * Lanczos quadrature) and the top eigenvalue and trace of each variable's diagonal block. The
 * algorithms are those PyHessian made standard for neural networks (Yao et al. 2020, "PyHessian:
 * neural networks through the lens of the Hessian"; Ghorbani et al. 2019 for the density), written
 * here on top of this package's Hessian-vector products, which sum over the objective's chunks, so a
 * whole data set is measured with the memory of one chunk.
 *
 * Every function is synchronous, disposes every tensor it makes (except eigenvectors asked for,
 * which belong to the caller) and leaves the variables bit-identical.
 */
import * as tf from '@tensorflow/tfjs';
import { cumulativeNormal } from 'vega-statistics';
import { Rng } from '../util/random.js';
import { ParamLayout, flatNormal, flatNorm, flatRademacher } from './flatVector.js';
import { hessianTrace } from './hessian.js';
import { HessianVectorProduct, readHvpOptions, type HvpOptions, type ResolvedHvpMethod } from './hvp.js';
import { LanczosProcess, type LanczosBlock, type TridiagonalEigen } from './lanczos.js';
import type { Objective } from './objective.js';
import { checkBoolean, checkNumber, checkObjective, optionsOrEmpty, checkSeed } from './validate.js';
import { withSnapshot, type ParamVector, type WeightSnapshot } from './vectors.js';

/** The operator q ↦ Hq on flat float32 vectors, through `hvp`. */
function flatOperator(hvp: HessianVectorProduct, layout: ParamLayout): (q: Float32Array) => Float64Array {
  return (q) => {
    const v = layout.toTensors(q);
    try {
      const hv = hvp.apply(v);
      try {
        return layout.fromTensors(hv);
      } finally {
        tf.dispose(hv);
      }
    } finally {
      tf.dispose(v);
    }
  };
}

function newHvp(obj: Objective, snap: WeightSnapshot, h: ReturnType<typeof readHvpOptions>): HessianVectorProduct {
  return new HessianVectorProduct(obj, snap, h.method, h.fdRelativeStep, h.verifyTolerance);
}

// ---------------------------------------------------------------------------------------------
// Top-k eigenvalues

/** Options of {@link hessianTopEigenvalues}. */
export interface TopEigenvaluesOptions extends HvpOptions {
  /** How many of the largest eigenvalues (integer, 1 <= k <= number of parameters; default 1). */
  k?: number;
  /**
   * A Ritz value counts as converged when its residual ‖Hy − θy‖ is at most `tol · max|θ|` (> 0 and
   * < 1, default 1e-4). The eigenvalue error is at most the residual, and about residual²/gap when
   * the eigenvalue is separated from the rest by `gap`, so it is usually far below `tol`.
   */
  tol?: number;
  /** Cap on Hessian-vector products (integer >= k; default max(100, 3k)). */
  maxIterations?: number;
  /** Seed of the random start (and restart) vectors (integer, default 0). */
  seed?: number;
  /** Also return the unit eigenvectors (Ritz vectors), as tensors the caller disposes (default false). */
  eigenvectors?: boolean;
}

/** Result of {@link hessianTopEigenvalues}. */
export interface TopEigenvaluesResult {
  /** The k algebraically largest eigenvalues (Ritz values), in descending order. */
  values: number[];
  /** Residual norm ‖Hy_i − θ_i y_i‖ of each (unit Ritz vector y_i), from the Lanczos recurrence. */
  residuals: number[];
  /** Whether each value met the tolerance (`residuals[i] <= tol · max|θ|`). */
  converged: boolean[];
  /** Hessian-vector products used (= Lanczos steps). */
  iterations: number;
  /** Times the Krylov space became invariant and the process restarted from a fresh vector. */
  restarts: number;
  /** How the Hessian-vector products were computed. */
  method: ResolvedHvpMethod;
  /** Why that method (what 'auto' found on the first product). */
  methodReason: string;
  /** With `eigenvectors: true`: the unit eigenvector of each value, one tensor per variable (caller disposes). */
  eigenvectors?: ParamVector[];
}

/**
 * Checks k, tol and maxIterations of {@link hessianTopEigenvalues} for an objective of `n`
 * parameters; `prefix` goes before each option's name in messages (e.g. 'topK.').
 */
export function readTopEigenvaluesOptions(
  fn: string,
  opts: Pick<TopEigenvaluesOptions, 'k' | 'tol' | 'maxIterations'>,
  n: number,
  prefix = '',
): { k: number; tol: number; maxIterations: number } {
  const k = checkNumber(fn, `${prefix}k`, opts.k, 1, { min: 1, max: n, integer: true, note: 'the number of parameters' });
  const tol = checkNumber(fn, `${prefix}tol`, opts.tol, 1e-4, { min: 0, minExclusive: true, max: 1, maxExclusive: true });
  const maxIterations = checkNumber(fn, `${prefix}maxIterations`, opts.maxIterations, Math.max(100, 3 * k), {
    min: k,
    integer: true,
    note: 'k',
  });
  return { k, tol, maxIterations };
}

interface RitzCandidate {
  value: number;
  residual: number;
  block: LanczosBlock;
  vector: number[];
}

/** The Ritz pairs of every block of the process, with their residuals (closed blocks' eigen-decompositions cached). */
function ritzCandidates(proc: LanczosProcess, cache: Map<LanczosBlock, TridiagonalEigen>): RitzCandidate[] {
  const out: RitzCandidate[] = [];
  for (const block of proc.blocks) {
    if (block.end === block.start) continue;
    let eig = cache.get(block);
    if (eig === undefined) {
      eig = proc.blockEigen(block);
      if (block !== proc.activeBlock) cache.set(block, eig);
    }
    const beta = proc.blockResidual(block);
    eig.values.forEach((value, i) => {
      const s = eig.vectors[i];
      out.push({ value, residual: beta * Math.abs(s[s.length - 1]), block, vector: s });
    });
  }
  return out;
}

/**
 * The k algebraically largest eigenvalues of the Hessian, in descending order, by the Lanczos
 * process with full re-orthogonalisation from a seeded Gaussian start, with each value's residual
 * and whether it converged. Unlike power iteration ({@link hessianTopEigenvalue}), which finds the
 * eigenvalue of largest magnitude, this finds the largest ones with their signs (away from a minimum
 * a negative eigenvalue of large magnitude is not among them).
 *
 * Lanczos converges fastest at the ends of the spectrum, so the few top eigenvalues of a network
 * (outliers above a bulk near zero) typically take tens of products, and k = 5 costs little more
 * than k = 1. It stops when the k largest Ritz values and the largest Ritz value of the current
 * Krylov block meet `tol`. A single Krylov sequence holds one vector per distinct eigenvalue, so
 * when its space becomes invariant (every Ritz pair of the block within tolerance) the process
 * restarts from a new random vector orthogonal to everything so far: that is how further copies of a
 * repeated eigenvalue are found; it stops once a block's largest value is no longer above the k-th.
 * While the space is not invariant, a repeated top eigenvalue may be returned once and the next
 * value in its place (the case is rare in trained networks and has no cheap cure without block
 * methods). Synchronous.
 * @throws RangeError/TypeError for a bad option, naming it and the allowed range.
 */
export function hessianTopEigenvalues(obj: Objective, options?: TopEigenvaluesOptions): TopEigenvaluesResult {
  const fn = 'hessianTopEigenvalues';
  checkObjective(fn, obj);
  const opts = optionsOrEmpty(fn, options);
  const layout = new ParamLayout(obj.vars);
  const n = layout.size;
  const { k, tol, maxIterations } = readTopEigenvaluesOptions(fn, opts, n);
  const seed = checkSeed(fn, opts.seed, 0);
  const wantVectors = checkBoolean(fn, 'eigenvectors', opts.eigenvectors, false);
  const h = readHvpOptions(fn, opts);

  return withSnapshot(obj.vars, (snap) => {
    const hvp = newHvp(obj, snap, h);
    const rng = new Rng(seed);
    const proc = new LanczosProcess(flatOperator(hvp, layout), n, flatNormal(n, rng));
    const cache = new Map<LanczosBlock, TridiagonalEigen>();
    let restarts = 0;
    let top: RitzCandidate[];
    let threshold: number;
    for (;;) {
      proc.step();
      const candidates = ritzCandidates(proc, cache);
      const scale = Math.max(...candidates.map((c) => Math.abs(c.value)));
      threshold = tol * scale;
      top = [...candidates].sort((a, b) => b.value - a.value).slice(0, k);
      const exhausted = proc.size >= n;
      if (exhausted) break; // T is similar to H: every value is exact up to rounding
      const active = candidates.filter((c) => c.block === proc.activeBlock);
      // Every Ritz pair of the block converged: its Krylov space is invariant to the tolerance.
      const invariant = active.every((c) => c.residual <= threshold);
      const activeTop = active.reduce((a, b) => (b.value > a.value ? b : a));
      const topConverged = top.length === k && top.every((c) => c.residual <= threshold);
      // An invariant block whose largest value exceeds the k-th may hide further copies of it in
      // the rest of the space; otherwise the rest holds nothing above the k-th value.
      const activeSettled =
        activeTop.residual <= threshold && (!invariant || (top.length === k && activeTop.value <= top[k - 1].value + threshold));
      if (topConverged && activeSettled) break;
      if (proc.products >= maxIterations) break;
      if (invariant && !proc.restart(flatNormal(n, rng))) break; // the basis spans the space numerically
      if (invariant) restarts++;
    }
    const exhausted = proc.size >= n;
    const result: TopEigenvaluesResult = {
      values: top.map((c) => c.value),
      residuals: top.map((c) => c.residual),
      converged: top.map((c) => exhausted || c.residual <= threshold),
      iterations: proc.products,
      restarts,
      method: hvp.method as ResolvedHvpMethod,
      methodReason: hvp.reason,
    };
    if (wantVectors) {
      result.eigenvectors = top.map((c) => {
        const y = proc.ritzVector(c.block, c.vector);
        const ny = flatNorm(y);
        for (let i = 0; i < y.length; i++) y[i] /= ny;
        return layout.toTensors(y);
      });
    }
    return result;
  });
}

// ---------------------------------------------------------------------------------------------
// Spectral density

/** Options of {@link hessianSpectralDensity}. */
export interface SpectralDensityOptions extends HvpOptions {
  /** Independent Lanczos runs, each from its own Rademacher start vector (integer >= 1, default 5). */
  runs?: number;
  /**
   * Lanczos steps per run (integer >= 1, default 40); a run stops earlier when its Krylov space
   * becomes invariant (then its quadrature is exact), at the latest after n steps (n = parameters).
   */
  iterations?: number;
  /**
   * Standard deviation of the Gaussian that smooths each Ritz value, in eigenvalue units (> 0).
   * Default: 1 % of the spread of the Ritz values (max − min over all runs), or 1 % of their
   * largest magnitude when they all coincide, or 0.01 when they are all zero.
   */
  sigma?: number;
  /** Number of grid cells (integer >= 2 and <= 1000000, default 512). */
  gridPoints?: number;
  /** Seed of the start vectors (integer, default 0). */
  seed?: number;
}

/** One run of stochastic Lanczos quadrature: the Gauss quadrature nodes and weights of the start vector's spectral measure. */
export interface DensityRun {
  /** Ritz values θ_j (ascending): the eigenvalues of the run's tridiagonal T. */
  ritzValues: number[];
  /** τ_j = (first component of T's j-th unit eigenvector)²; they sum to 1. */
  weights: number[];
  /** Lanczos steps (Hessian-vector products) of the run. */
  iterations: number;
}

/** Result of {@link hessianSpectralDensity}. */
export interface SpectralDensityResult {
  /** Centres of equal cells covering [min θ − 6σ, max θ + 6σ]. */
  grid: number[];
  /**
   * The smoothed density averaged over each cell: `density[i] = (1/R) Σ_r Σ_j τ_rj ·
   * P(θ_rj + σZ ∈ cell i) / Δ`, Z standard normal, Δ the cell width. Σ density[i]·Δ = 1 (up to the
   * Gaussian mass beyond 6σ, below 2e-9, and rounding), whatever the grid's resolution.
   */
  density: number[];
  /** The smoothing width used. */
  sigma: number;
  /** One entry per Lanczos run: its Ritz values, quadrature weights and steps. */
  runs: DensityRun[];
  /** Hessian-vector products, all runs together. */
  iterations: number;
  /** How the Hessian-vector products were computed. */
  method: ResolvedHvpMethod;
  /** Why that method (what 'auto' found on the first product). */
  methodReason: string;
}

/** Checks runs, iterations, sigma and gridPoints of {@link hessianSpectralDensity}; `prefix` as in readTopEigenvaluesOptions. */
export function readDensityOptions(
  fn: string,
  opts: Pick<SpectralDensityOptions, 'runs' | 'iterations' | 'sigma' | 'gridPoints'>,
  prefix = '',
): { runs: number; iterations: number; sigma: number | undefined; gridPoints: number } {
  return {
    runs: checkNumber(fn, `${prefix}runs`, opts.runs, 5, { min: 1, integer: true }),
    iterations: checkNumber(fn, `${prefix}iterations`, opts.iterations, 40, { min: 1, integer: true }),
    sigma: opts.sigma === undefined ? undefined : checkNumber(fn, `${prefix}sigma`, opts.sigma, undefined, { min: 0, minExclusive: true }),
    gridPoints: checkNumber(fn, `${prefix}gridPoints`, opts.gridPoints, 512, { min: 2, max: 1_000_000, integer: true }),
  };
}

/** A run's residual below this fraction of its largest |Ritz value| means its Krylov space is invariant. */
const SLQ_INVARIANT = 1e-5;
/** The grid reaches this many σ beyond the extreme Ritz values. */
const GRID_MARGIN_SIGMAS = 6;

/** P(a <= θ + σZ <= b), computed from whichever tail keeps relative precision far from θ. */
function gaussianCellMass(a: number, b: number, theta: number, sigma: number): number {
  const za = (a - theta) / sigma;
  const zb = (b - theta) / sigma;
  if (za >= 0) return cumulativeNormal(-za) - cumulativeNormal(-zb);
  if (zb <= 0) return cumulativeNormal(zb) - cumulativeNormal(za);
  return 1 - cumulativeNormal(za) - cumulativeNormal(-zb);
}

/** The default smoothing width (see SpectralDensityOptions.sigma). */
function defaultSigma(values: readonly number[]): number {
  const lo = Math.min(...values);
  const hi = Math.max(...values);
  if (hi > lo) return (hi - lo) / 100;
  const big = Math.max(Math.abs(lo), Math.abs(hi));
  return big > 0 ? big / 100 : 0.01;
}

/** The smoothed density of the runs on `cells` equal cells (see SpectralDensityResult). */
export function smoothedDensity(runs: readonly DensityRun[], sigma: number, cells: number): { grid: number[]; density: number[] } {
  const all = runs.flatMap((r) => r.ritzValues);
  const lo = Math.min(...all) - GRID_MARGIN_SIGMAS * sigma;
  const hi = Math.max(...all) + GRID_MARGIN_SIGMAS * sigma;
  const width = (hi - lo) / cells;
  const grid = Array.from({ length: cells }, (_, i) => lo + (i + 0.5) * width);
  const density = new Array<number>(cells).fill(0);
  for (const run of runs) {
    run.ritzValues.forEach((theta, j) => {
      const tau = run.weights[j] / runs.length;
      for (let i = 0; i < cells; i++) density[i] += (tau * gaussianCellMass(lo + i * width, lo + (i + 1) * width, theta, sigma)) / width;
    });
  }
  return { grid, density };
}

/**
 * The Hessian's eigenvalue spectral density φ(t) = (1/n) Σ_i δ(t − λ_i), smoothed by a Gaussian of
 * width σ, by stochastic Lanczos quadrature. For a unit start vector v, vᵀ g(H) v = Σ_i (u_iᵀv)² g(λ_i)
 * is an integral over v's spectral measure, and m Lanczos steps from v give its Gauss quadrature:
 * nodes the Ritz values θ_j, weights τ_j, exact for polynomials g of degree < 2m. With v a normalised
 * Rademacher vector, E[(u_iᵀv)²] = 1/n, so Σ_j τ_j g(θ_j) is an unbiased estimate of (1/n) tr g(H);
 * the result averages `runs` such runs and takes g = the Gaussian. Each run's Ritz values and weights
 * are returned too. Synchronous.
 * @throws RangeError/TypeError for a bad option, naming it and the allowed range.
 */
export function hessianSpectralDensity(obj: Objective, options?: SpectralDensityOptions): SpectralDensityResult {
  const fn = 'hessianSpectralDensity';
  checkObjective(fn, obj);
  const opts = optionsOrEmpty(fn, options);
  const layout = new ParamLayout(obj.vars);
  const n = layout.size;
  const { runs: runCount, iterations, sigma: sigmaOption, gridPoints: cells } = readDensityOptions(fn, opts);
  const seed = checkSeed(fn, opts.seed, 0);
  const h = readHvpOptions(fn, opts);

  return withSnapshot(obj.vars, (snap) => {
    const hvp = newHvp(obj, snap, h);
    const op = flatOperator(hvp, layout);
    const rng = new Rng(seed);
    const runs: DensityRun[] = [];
    let products = 0;
    for (let r = 0; r < runCount; r++) {
      const proc = new LanczosProcess(op, n, flatRademacher(n, rng));
      let scale = 0;
      for (let j = 0; j < iterations && proc.size < n; j++) {
        proc.step();
        scale = Math.max(scale, Math.abs(proc.alphas[j]), j > 0 ? proc.couplings[j - 1] : 0);
        if (proc.residualNorm <= SLQ_INVARIANT * scale) break;
      }
      products += proc.products;
      const eig = proc.blockEigen(proc.activeBlock);
      runs.push({ ritzValues: eig.values, weights: eig.vectors.map((s) => s[0] * s[0]), iterations: proc.products });
    }
    const sigma = sigmaOption ?? defaultSigma(runs.flatMap((run) => run.ritzValues));
    const { grid, density } = smoothedDensity(runs, sigma, cells);
    return { grid, density, sigma, runs, iterations: products, method: hvp.method as ResolvedHvpMethod, methodReason: hvp.reason };
  });
}

// ---------------------------------------------------------------------------------------------
// Per-layer (per-variable block) sharpness

/** Options of {@link hessianLayerSharpness}. */
export interface LayerSharpnessOptions extends HvpOptions {
  /** Hutchinson probes per block (integer >= 2, default 20); a block with at most this many entries gets its exact trace instead. */
  samples?: number;
  /** Lanczos tolerance of each block's top eigenvalue (see hessianTopEigenvalues; default 1e-4). */
  tol?: number;
  /** Cap on Hessian-vector products per block's eigenvalue (integer >= 1, default 100). */
  maxIterations?: number;
  /** Seed (integer, default 0); block i's eigenvalue uses seed + 2i, its Hutchinson probes seed + 2i + 1. */
  seed?: number;
}

/** Sharpness of one variable's diagonal block H_ii = ∂²L/∂w_i² of the Hessian. */
export interface LayerSharpness {
  /** The variable's name (tf.Variable.name). */
  name: string;
  /** The variable's shape. */
  shape: number[];
  /** Number of entries (the block is size × size). */
  size: number;
  /** Largest eigenvalue of the block (Lanczos). */
  topEigenvalue: number;
  /** Whether topEigenvalue met the Lanczos tolerance `tol`. */
  topEigenvalueConverged: boolean;
  /** tr H_ii: exact (sum of e_jᵀ H_ii e_j) for blocks of at most `samples` entries, else Hutchinson's estimate. */
  trace: number;
  /** Standard error of the trace (0 when exact). */
  traceStdError: number;
  /** How the trace was found: 'exact' (one product per entry) or 'hutchinson' (`samples` probes). */
  traceMethod: 'exact' | 'hutchinson';
  /** Hessian-vector products spent on this block. */
  products: number;
  /** How the block's Hessian-vector products were computed. */
  method: ResolvedHvpMethod;
}

/** Result of {@link hessianLayerSharpness}. */
export interface LayerSharpnessResult {
  /** One entry per variable of the objective, in its order. */
  layers: LayerSharpness[];
  /** Hessian-vector products, all blocks together. */
  products: number;
}

/** Checks samples, tol and maxIterations of {@link hessianLayerSharpness}; `prefix` as in readTopEigenvaluesOptions. */
export function readLayerOptions(
  fn: string,
  opts: Pick<LayerSharpnessOptions, 'samples' | 'tol' | 'maxIterations'>,
  prefix = '',
): { samples: number; tol: number; maxIterations: number } {
  return {
    samples: checkNumber(fn, `${prefix}samples`, opts.samples, 20, { min: 2, integer: true }),
    tol: checkNumber(fn, `${prefix}tol`, opts.tol, 1e-4, { min: 0, minExclusive: true, max: 1, maxExclusive: true }),
    maxIterations: checkNumber(fn, `${prefix}maxIterations`, opts.maxIterations, 100, { min: 1, integer: true }),
  };
}

/** tr of the objective's Hessian as Σ_j e_jᵀ H e_j (n products; for small blocks). */
function exactTrace(obj: Objective, h: ReturnType<typeof readHvpOptions>): number {
  const layout = new ParamLayout(obj.vars);
  return withSnapshot(obj.vars, (snap) => {
    const op = flatOperator(newHvp(obj, snap, h), layout);
    let trace = 0;
    const e = new Float32Array(layout.size);
    for (let j = 0; j < layout.size; j++) {
      e.fill(0);
      e[j] = 1;
      trace += op(e)[j];
    }
    return trace;
  });
}

/**
 * For each variable w_i of the objective (a layer's kernel, its bias, ...): the top eigenvalue and
 * the trace of its diagonal block H_ii, the curvature of the loss when only that variable moves.
 * Each block is measured as the Hessian of the loss with respect to that variable alone, so its
 * products cost a full forward and backward pass. Synchronous.
 * @throws RangeError/TypeError for a bad option, naming it and the allowed range.
 */
export function hessianLayerSharpness(obj: Objective, options?: LayerSharpnessOptions): LayerSharpnessResult {
  const fn = 'hessianLayerSharpness';
  checkObjective(fn, obj);
  const opts = optionsOrEmpty(fn, options);
  const { samples, tol, maxIterations } = readLayerOptions(fn, opts);
  const seed = checkSeed(fn, opts.seed, 0);
  const h = readHvpOptions(fn, opts);
  let products = 0;
  const layers = obj.vars.map((v, i): LayerSharpness => {
    const block: Objective = { vars: [v], loss: obj.loss, chunks: obj.chunks, examples: obj.examples };
    const top = hessianTopEigenvalues(block, { ...h, k: 1, tol, maxIterations, seed: seed + 2 * i });
    // Once resolved on the block's first product, the method is reused for its trace.
    const method = top.method;
    const exact = v.size <= samples;
    const trace = exact
      ? { value: exactTrace(block, { ...h, method }), stdError: 0 }
      : hessianTrace(block, { ...h, method, samples, seed: seed + 2 * i + 1 });
    const blockProducts = top.iterations + (exact ? v.size : samples);
    products += blockProducts;
    return {
      name: v.name,
      shape: v.shape.slice(),
      size: v.size,
      topEigenvalue: top.values[0],
      topEigenvalueConverged: top.converged[0],
      trace: trace.value,
      traceStdError: trace.stdError,
      traceMethod: exact ? 'exact' : 'hutchinson',
      products: blockProducts,
      method,
    };
  });
  return { layers, products };
}
