/**
 * All the sharpness measures of a trained model in one call: in detail ({@link measureSharpnessDetailed},
 * every measure's full result) or as one plain-JSON record ({@link measureSharpness}, the
 * {@link SharpnessMeasures} that run records store). The record type is defined here, by the measures
 * it summarises; the experiment layer's schema validates it (experiments depend on sharpness, never
 * the other way).
 */
import { surrogateGap, type SurrogateGapResult } from './gap.js';
import { hessianTopEigenvalue, hessianTrace, type TopEigenvalueResult, type TraceResult } from './hessian.js';
import type { HvpOptions } from './hvp.js';
import { lossLandscape1D, lossLandscape2D } from './landscape.js';
import type { Objective } from './objective.js';
import {
  hessianLayerSharpness,
  hessianSpectralDensity,
  hessianTopEigenvalues,
  readDensityOptions,
  readLayerOptions,
  readTopEigenvaluesOptions,
  type LayerSharpnessOptions,
  type LayerSharpnessResult,
  type SpectralDensityOptions,
  type SpectralDensityResult,
  type TopEigenvaluesOptions,
  type TopEigenvaluesResult,
} from './spectrum.js';
import { checkBoolean, checkNumber, checkObjective, checkOptions, checkSeed } from './validate.js';

/**
 * The sharpness of a model as plain JSON: what a run record stores (src/experiments/schema.ts
 * validates exactly this type). The optional fields are there when they were asked for.
 */
export interface SharpnessMeasures {
  /** Examples the loss averages over. */
  examples: number;
  /** Dominant Hessian eigenvalue by power iteration (largest magnitude, signed). */
  sigmaMax: number;
  /** Hessian-vector products the power iteration used. */
  sigmaMaxIterations: number;
  /** 'double-backprop' (exact products) or 'finite-difference' (central differences). */
  hessianMethod: string;
  /** Hutchinson's estimate of tr H. */
  trace: number;
  /** Radius of the surrogate gap's step. */
  rho: number;
  /** h = L(w + e) − L(w), e = rho·g/‖g‖. */
  surrogateGap: number;
  /** Lemma 3's estimate 2h/rho², to compare with sigmaMax. */
  lemma3SigmaMax: number;
  /** 1-D filter-normalised slice: loss at w + a·u for each a. */
  landscape1D?: {
    /** Offsets a along u, an even grid over [-landscapeRange, landscapeRange]. */
    alphas: number[];
    /** L(w + a·u) for each offset. */
    losses: number[];
  };
  /** 2-D slice: losses[i][j] = L(w + alphas[i]·u + betas[j]·v). */
  landscape2D?: {
    /** Offsets along u. */
    alphas: number[];
    /** Offsets along v. */
    betas: number[];
    /** losses[i][j] = L(w + alphas[i]·u + betas[j]·v). */
    losses: number[][];
  };
  /** The k algebraically largest eigenvalues, descending (Lanczos). */
  topEigenvalues?: number[];
  /** Whether each of topEigenvalues met its tolerance. */
  topEigenvaluesConverged?: boolean[];
  /** Hessian-vector products the Lanczos process used. */
  topEigenvaluesIterations?: number;
  /** Eigenvalue spectral density by stochastic Lanczos quadrature: cell averages on a grid, and each run's nodes and weights. */
  density?: {
    /** Centres of equal cells covering [min θ − 6σ, max θ + 6σ] (θ the Ritz values of all runs). */
    grid: number[];
    /** The smoothed density averaged over each grid cell; Σ density[i]·Δ ≈ 1 (Δ the cell width). */
    density: number[];
    /** Standard deviation of the Gaussian that smooths each Ritz value, in eigenvalue units. */
    sigma: number;
    /** One entry per Lanczos run: its Gauss quadrature nodes and weights. */
    runs: Array<{
      /** Ritz values θ_j (ascending): the quadrature nodes. */
      ritzValues: number[];
      /** Quadrature weight τ_j of each Ritz value; they sum to 1. */
      weights: number[];
    }>;
  };
  /** Top eigenvalue and trace of each variable's diagonal Hessian block, in the objective's variable order. */
  layers?: Array<{
    /** The variable's name (tf.Variable.name). */
    name: string;
    /** The variable's shape. */
    shape: number[];
    /** Number of entries (the block is size × size). */
    size: number;
    /** Largest eigenvalue of the block (Lanczos). */
    topEigenvalue: number;
    /** tr H_ii: exact for small blocks, else Hutchinson's estimate. */
    trace: number;
  }>;
}

/** Options of {@link measureSharpness} and {@link measureSharpnessDetailed}. */
export interface MeasureOptions extends HvpOptions {
  /** Radius of the surrogate-gap step (> 0). */
  rho: number;
  /** Seed of every random vector (integer, default 0): the power iteration's start and the landscapes' directions use `seed`, the others seeds derived from it. */
  seed?: number;
  /** Seed of the Hutchinson probes (integer, default seed + 1). */
  traceSeed?: number;
  /** Also record the 1-D and 2-D filter-normalised landscape slices (default false). */
  landscape?: boolean;
  /** Examples the objective averages over; default obj.examples (one of them is required by measureSharpness). */
  examples?: number;
  /** Power-iteration tolerance (see hessianTopEigenvalue; default 1e-4). */
  tol?: number;
  /** Power-iteration cap on Hessian-vector products (default 100). */
  maxIterations?: number;
  /** Hutchinson probes (default 20). */
  traceSamples?: number;
  /** Grid points of the 1-D landscape slice (default 21). */
  landscapePoints1D?: number;
  /** Grid points per axis of the 2-D landscape slice (default 11). */
  landscapePoints2D?: number;
  /** The landscape grids span [-landscapeRange, landscapeRange] (default 1). */
  landscapeRange?: number;
  /** Also the k largest eigenvalues (Lanczos, seed + 2): k, or k with the Lanczos settings (default: off). */
  topK?: number | Pick<TopEigenvaluesOptions, 'k' | 'tol' | 'maxIterations'>;
  /** Also the spectral density (seed + 3): true for the defaults, or its settings (default: off). */
  density?: boolean | Pick<SpectralDensityOptions, 'runs' | 'iterations' | 'sigma' | 'gridPoints'>;
  /** Also each variable's top eigenvalue and trace (seed + 4): true for the defaults, or its settings (default: off). */
  layers?: boolean | Pick<LayerSharpnessOptions, 'samples' | 'tol' | 'maxIterations'>;
}

/** Every measure's full result (see {@link measureSharpnessDetailed}). */
export interface DetailedSharpness {
  /** L(w). */
  loss: number;
  /** Dominant Hessian eigenvalue by power iteration (largest magnitude, signed), with its convergence. */
  topEigenvalue: TopEigenvalueResult;
  /** Hutchinson's estimate of tr H, with its standard error. */
  trace: TraceResult;
  /** The surrogate gap h = L(w + e) − L(w) and Lemma 3's 2h/rho², at radius `rho`. */
  surrogateGap: SurrogateGapResult & {
    /** Radius of the ascent step e = rho·g/‖g‖. */
    rho: number;
  };
  /** With `landscape`: the 1-D filter-normalised slice, loss at w + a·u for each a. */
  landscape1D?: {
    /** Offsets a along u, an even grid over [-landscapeRange, landscapeRange]. */
    alphas: number[];
    /** L(w + a·u) for each offset. */
    losses: number[];
  };
  /** With `landscape`: the 2-D slice, losses[i][j] = L(w + alphas[i]·u + betas[j]·v). */
  landscape2D?: {
    /** Offsets along u. */
    alphas: number[];
    /** Offsets along v. */
    betas: number[];
    /** losses[i][j] = L(w + alphas[i]·u + betas[j]·v). */
    losses: number[][];
  };
  /** With `topK`: the k largest eigenvalues (Lanczos), with residuals and convergence. */
  topEigenvalues?: TopEigenvaluesResult;
  /** With `density`: the spectral density by stochastic Lanczos quadrature. */
  density?: SpectralDensityResult;
  /** With `layers`: each variable's diagonal-block top eigenvalue and trace. */
  layers?: LayerSharpnessResult;
}

/** An optional measure's settings: undefined/false = off, true = defaults, an object = those settings. */
function optionalSettings<T extends object>(fn: string, name: string, value: unknown): T | null {
  if (value === undefined || value === false) return null;
  if (value === true) return {} as T;
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new TypeError(`${fn}: ${name} must be a boolean or an options object, got ${String(value)}`);
  }
  return value as T;
}

/** The Lanczos settings of `topK` (k, or an object with k), checked, or null when off. */
function topKSettings(
  fn: string,
  value: MeasureOptions['topK'],
  n: number,
): Pick<TopEigenvaluesOptions, 'k' | 'tol' | 'maxIterations'> | null {
  if (value === undefined) return null;
  if (typeof value === 'number') {
    checkNumber(fn, 'topK', value, undefined, { min: 1, max: n, integer: true, note: 'the number of parameters' });
    return { k: value };
  }
  const settings = optionalSettings<Pick<TopEigenvaluesOptions, 'k' | 'tol' | 'maxIterations'>>(fn, 'topK', value);
  if (settings === null) return null;
  if (settings.k === undefined) throw new TypeError(`${fn}: topK.k is required when topK is an object`);
  readTopEigenvaluesOptions(fn, settings, n, 'topK.');
  return settings;
}

/**
 * sigma_max (power iteration), the Hutchinson trace, the surrogate gap at `rho` with Lemma 3's
 * 2h/rho², and, when asked, the landscape slices, the k largest eigenvalues, the spectral density and
 * the per-layer blocks, each with its full result (convergence, standard errors, Ritz values).
 * Every option is checked before any measuring starts. The trace and the spectral measures reuse the
 * Hessian-vector method the eigenvalue search settled on. Synchronous; weights unchanged; the result
 * holds no tensor.
 * @throws RangeError/TypeError for a bad option, naming it and the allowed range.
 */
export function measureSharpnessDetailed(obj: Objective, opts: MeasureOptions): DetailedSharpness {
  const fn = 'measureSharpness';
  checkObjective(fn, obj);
  checkOptions(fn, opts, '{ rho }');
  const rho = checkNumber(fn, 'rho', opts.rho, undefined, { min: 0, minExclusive: true });
  const seed = checkSeed(fn, opts.seed, 0);
  const traceSeed = checkNumber(fn, 'traceSeed', opts.traceSeed, seed + 1, { integer: true });
  // Checked here, before any work, under the names this function uses.
  const landscape = checkBoolean(fn, 'landscape', opts.landscape, false);
  const traceSamples = checkNumber(fn, 'traceSamples', opts.traceSamples, 20, { min: 2, integer: true });
  const points1D = checkNumber(fn, 'landscapePoints1D', opts.landscapePoints1D, 21, { min: 2, max: 1001, integer: true });
  const points2D = checkNumber(fn, 'landscapePoints2D', opts.landscapePoints2D, 11, { min: 2, max: 1001, integer: true });
  const range = checkNumber(fn, 'landscapeRange', opts.landscapeRange, 1, { min: 0, minExclusive: true });
  const parameters = obj.vars.reduce((s, v) => s + v.size, 0);
  const topK = topKSettings(fn, opts.topK, parameters);
  const density = optionalSettings<Pick<SpectralDensityOptions, 'runs' | 'iterations' | 'sigma' | 'gridPoints'>>(
    fn,
    'density',
    opts.density,
  );
  if (density !== null) readDensityOptions(fn, density, 'density.');
  const layers = optionalSettings<Pick<LayerSharpnessOptions, 'samples' | 'tol' | 'maxIterations'>>(fn, 'layers', opts.layers);
  if (layers !== null) readLayerOptions(fn, layers, 'layers.');

  const hvp: HvpOptions = { method: opts.method, fdRelativeStep: opts.fdRelativeStep, verifyTolerance: opts.verifyTolerance };
  const top = hessianTopEigenvalue(obj, { ...hvp, tol: opts.tol, maxIterations: opts.maxIterations, seed });
  // Once resolved, the method is passed on, so the later measures do not test the tape again.
  const resolved: HvpOptions = { ...hvp, method: top.method };
  const trace = hessianTrace(obj, { ...resolved, samples: traceSamples, seed: traceSeed });
  const gap = surrogateGap(obj, { rho });
  const out: DetailedSharpness = { loss: gap.loss, topEigenvalue: top, trace, surrogateGap: { ...gap, rho } };
  if (landscape) {
    out.landscape1D = lossLandscape1D(obj, { seed, points: points1D, range });
    out.landscape2D = lossLandscape2D(obj, { seed, points: points2D, range });
  }
  if (topK !== null) out.topEigenvalues = hessianTopEigenvalues(obj, { ...resolved, ...topK, seed: seed + 2 });
  if (density !== null) out.density = hessianSpectralDensity(obj, { ...resolved, ...density, seed: seed + 3 });
  if (layers !== null) out.layers = hessianLayerSharpness(obj, { ...resolved, ...layers, seed: seed + 4 });
  return out;
}

/** The plain-JSON record of a detailed measurement over `examples` examples. */
export function sharpnessRecord(m: DetailedSharpness, examples: number): SharpnessMeasures {
  const record: SharpnessMeasures = {
    examples,
    sigmaMax: m.topEigenvalue.value,
    sigmaMaxIterations: m.topEigenvalue.iterations,
    hessianMethod: m.topEigenvalue.method,
    trace: m.trace.value,
    rho: m.surrogateGap.rho,
    surrogateGap: m.surrogateGap.gap,
    lemma3SigmaMax: m.surrogateGap.lemma3SigmaMax,
  };
  if (m.landscape1D) record.landscape1D = m.landscape1D;
  if (m.landscape2D) record.landscape2D = m.landscape2D;
  if (m.topEigenvalues) {
    record.topEigenvalues = m.topEigenvalues.values;
    record.topEigenvaluesConverged = m.topEigenvalues.converged;
    record.topEigenvaluesIterations = m.topEigenvalues.iterations;
  }
  if (m.density) {
    const { grid, density, sigma, runs } = m.density;
    record.density = { grid, density, sigma, runs: runs.map((r) => ({ ritzValues: r.ritzValues, weights: r.weights })) };
  }
  if (m.layers) {
    record.layers = m.layers.layers.map((l) => ({
      name: l.name,
      shape: l.shape,
      size: l.size,
      topEigenvalue: l.topEigenvalue,
      trace: l.trace,
    }));
  }
  return record;
}

/**
 * sigma_max (power iteration), the Hutchinson trace, the surrogate gap at `rho` with Lemma 3's
 * 2h/rho², and optionally the landscape slices and the spectrum (top-k, density, per-layer), as a
 * {@link SharpnessMeasures} record (synchronous; weights unchanged). The trace reuses the
 * Hessian-vector method that the eigenvalue search settled on, and the record's `hessianMethod` names
 * it: 'double-backprop' (exact products; the project's MLP and CNN on cpu and wasm) or
 * 'finite-difference' (central differences: rough on ReLU networks, see hvp.ts).
 * @throws RangeError/TypeError for a bad option, naming it and the allowed range.
 */
export function measureSharpness(obj: Objective, opts: MeasureOptions): SharpnessMeasures {
  const fn = 'measureSharpness';
  checkObjective(fn, obj);
  if (opts === null || typeof opts !== 'object') throw new TypeError(`${fn}: opts { rho } is required`);
  const examples = checkNumber(fn, 'examples', opts.examples, obj.examples, { min: 1, integer: true });
  return sharpnessRecord(measureSharpnessDetailed(obj, opts), examples);
}
