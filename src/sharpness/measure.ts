/**
 * All the sharpness measures of a trained model in one record (the SharpnessRecord of the experiment
 * schema).
 */
import type { SharpnessRecord } from '../experiments/schema.js';
import { surrogateGap } from './gap.js';
import { hessianTopEigenvalue, hessianTrace } from './hessian.js';
import type { HvpOptions } from './hvp.js';
import { lossLandscape1D, lossLandscape2D } from './landscape.js';
import type { Objective } from './objective.js';
import { checkBoolean, checkNumber, checkObjective, checkOptions, checkSeed } from './validate.js';

/** Options of {@link measureSharpness}. */
export interface MeasureOptions extends HvpOptions {
  /** Radius of the surrogate-gap step (> 0). */
  rho: number;
  /** Seed of every random vector (integer, default 0). */
  seed?: number;
  /** Also record the 1-D and 2-D filter-normalised landscape slices (default false). */
  landscape?: boolean;
  /** Examples the objective averages over; default obj.examples (one of them is required). */
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
}

/**
 * sigma_max (power iteration), the Hutchinson trace, the surrogate gap at `rho` with Lemma 3's
 * 2h/rho², and optionally the landscape slices, as a SharpnessRecord (synchronous; weights unchanged).
 * The trace reuses the Hessian-vector method that the eigenvalue search settled on, and the record's
 * `hessianMethod` names it: 'double-backprop' (exact products; the project's MLP and CNN on cpu and
 * wasm) or 'finite-difference' (central differences: rough on ReLU networks, see hvp.ts).
 */
export function measureSharpness(obj: Objective, opts: MeasureOptions): SharpnessRecord {
  const fn = 'measureSharpness';
  checkObjective(fn, obj);
  checkOptions(fn, opts, '{ rho }');
  const rho = checkNumber(fn, 'rho', opts.rho, undefined, { min: 0, minExclusive: true });
  const seed = checkSeed(fn, opts.seed, 0);
  const examples = checkNumber(fn, 'examples', opts.examples, obj.examples, { min: 1, integer: true });
  // Checked here, before any work, under the names this function uses.
  const landscape = checkBoolean(fn, 'landscape', opts.landscape, false);
  const traceSamples = checkNumber(fn, 'traceSamples', opts.traceSamples, 20, { min: 2, integer: true });
  const points1D = checkNumber(fn, 'landscapePoints1D', opts.landscapePoints1D, 21, { min: 2, max: 1001, integer: true });
  const points2D = checkNumber(fn, 'landscapePoints2D', opts.landscapePoints2D, 11, { min: 2, max: 1001, integer: true });
  const range = checkNumber(fn, 'landscapeRange', opts.landscapeRange, 1, { min: 0, minExclusive: true });
  const hvp: HvpOptions = { method: opts.method, fdRelativeStep: opts.fdRelativeStep, verifyTolerance: opts.verifyTolerance };
  const top = hessianTopEigenvalue(obj, { ...hvp, tol: opts.tol, maxIterations: opts.maxIterations, seed });
  const trace = hessianTrace(obj, { ...hvp, method: top.method, samples: traceSamples, seed: seed + 1 });
  const gap = surrogateGap(obj, { rho });
  const record: SharpnessRecord = {
    examples,
    sigmaMax: top.value,
    sigmaMaxIterations: top.iterations,
    hessianMethod: top.method,
    trace: trace.value,
    rho,
    surrogateGap: gap.gap,
    lemma3SigmaMax: gap.lemma3SigmaMax,
  };
  if (landscape) {
    record.landscape1D = lossLandscape1D(obj, { seed, points: points1D, range });
    record.landscape2D = lossLandscape2D(obj, { seed, points: points2D, range });
  }
  return record;
}
