/**
 * Loss-landscape slices along filter-normalised random directions (Li et al., "Visualizing the Loss
 * Landscape of Neural Nets", 2018). Synchronous; the variables are left bit-identical.
 */
import * as tf from '@tensorflow/tfjs';
import { Rng } from '../util/random.js';
import type { Objective } from './objective.js';
import { lossValue } from './objective.js';
import { checkChoice, checkNumber, checkObjective, checkSeed } from './validate.js';
import { withSnapshot, type ParamVector } from './vectors.js';

/** What the direction does on variables of rank <= 1 (biases; also any vector-shaped parameter). */
export type VectorVariableMode = 'zero' | 'whole';

/** Options of the landscape slices. */
export interface LandscapeOptions {
  /** The grid spans [-range, range] (> 0, default 1). */
  range?: number;
  /** Grid points per axis (integer >= 2; default 21 for 1-D, 11 for 2-D). */
  points?: number;
  /** Seed of the random directions (integer, default 0). */
  seed?: number;
  /**
   * Rank <= 1 variables: 'zero' (default, as Li et al. do for biases and batch-norm parameters)
   * leaves them fixed; 'whole' scales the direction to the variable's norm as one filter (use it for
   * objectives whose only variables are vectors, e.g. a quadratic, which 'zero' would leave flat).
   */
  vectors?: VectorVariableMode;
}

/**
 * A filter-normalised Gaussian direction: for a variable of rank >= 2 whose last axis indexes the
 * filters or output units (Dense kernel [in, out]: each output column; conv kernel [kh, kw, ci, co]:
 * each output channel), each filter's slice of the direction is scaled to the norm of the same slice
 * of the weights. Rank <= 1 variables follow `vectors`. Draws from `rng`; returns new tensors.
 */
export function filterNormalizedDirection(vars: tf.Variable[], rng: Rng, vectors: VectorVariableMode = 'zero'): tf.Tensor[] {
  return vars.map((v) => {
    const w = v.dataSync();
    // Drawn for every variable, zeroed or not, so the weights' directions do not depend on `vectors`.
    const d = new Float32Array(v.size);
    for (let i = 0; i < d.length; i++) d[i] = rng.normal();
    if (v.rank <= 1 && vectors === 'zero') return tf.zeros(v.shape, 'float32');
    // Filter index of flat entry i is i % filters (last axis is the fastest in tfjs' row-major layout).
    const filters = v.rank <= 1 ? 1 : v.shape[v.rank - 1];
    const wSq = new Float64Array(filters);
    const dSq = new Float64Array(filters);
    for (let i = 0; i < d.length; i++) {
      const f = v.rank <= 1 ? 0 : i % filters;
      wSq[f] += w[i] * w[i];
      dSq[f] += d[i] * d[i];
    }
    for (let i = 0; i < d.length; i++) {
      const f = v.rank <= 1 ? 0 : i % filters;
      d[i] = dSq[f] > 0 ? d[i] * Math.sqrt(wSq[f] / dSq[f]) : 0;
    }
    return tf.tensor(d, v.shape, 'float32');
  });
}

function grid(range: number, points: number): number[] {
  // Symmetric by construction, so an odd number of points contains 0 exactly.
  return Array.from({ length: points }, (_, i) => -range + (2 * range * i) / (points - 1));
}

function readLandscapeOptions(fn: string, opts: LandscapeOptions, defaultPoints: number) {
  return {
    range: checkNumber(fn, 'range', opts.range, 1, { min: 0, minExclusive: true }),
    points: checkNumber(fn, 'points', opts.points, defaultPoints, { min: 2, max: 1001, integer: true }),
    seed: checkSeed(fn, opts.seed, 0),
    vectors: checkChoice<VectorVariableMode>(fn, 'vectors', opts.vectors, 'zero', ['zero', 'whole']),
  };
}

/** L(w + a·u) for a on an even grid over [-range, range], u filter-normalised (synchronous). */
export function lossLandscape1D(
  obj: Objective,
  opts: LandscapeOptions = {},
): {
  /** The offsets a along u. */
  alphas: number[];
  /** L(w + a·u) for each offset. */
  losses: number[];
} {
  const fn = 'lossLandscape1D';
  checkObjective(fn, obj);
  const o = readLandscapeOptions(fn, opts, 21);
  const alphas = grid(o.range, o.points);
  return withSnapshot(obj.vars, (snap) => {
    const u = filterNormalizedDirection(obj.vars, new Rng(o.seed), o.vectors);
    try {
      const losses = alphas.map((a) => {
        snap.shift(u, a);
        return lossValue(obj);
      });
      return { alphas, losses };
    } finally {
      tf.dispose(u);
    }
  });
}

/**
 * losses[i][j] = L(w + alphas[i]·u + betas[j]·v) on an even grid, u and v independent filter-normalised
 * directions drawn in that order from the seed (synchronous).
 */
export function lossLandscape2D(
  obj: Objective,
  opts: LandscapeOptions = {},
): {
  /** The offsets along u. */
  alphas: number[];
  /** The offsets along v. */
  betas: number[];
  /** losses[i][j] = L(w + alphas[i]·u + betas[j]·v). */
  losses: number[][];
} {
  const fn = 'lossLandscape2D';
  checkObjective(fn, obj);
  const o = readLandscapeOptions(fn, opts, 11);
  const alphas = grid(o.range, o.points);
  const betas = grid(o.range, o.points);
  return withSnapshot(obj.vars, (snap) => {
    const rng = new Rng(o.seed);
    const u = filterNormalizedDirection(obj.vars, rng, o.vectors);
    const v = filterNormalizedDirection(obj.vars, rng, o.vectors);
    try {
      const losses = alphas.map((a) =>
        betas.map((b) => {
          const offset: ParamVector = tf.tidy(() => u.map((ui, k) => tf.add(tf.mul(ui, a), tf.mul(v[k], b))));
          snap.shift(offset);
          tf.dispose(offset);
          return lossValue(obj);
        }),
      );
      return { alphas, betas, losses };
    } finally {
      tf.dispose([u, v]);
    }
  });
}
