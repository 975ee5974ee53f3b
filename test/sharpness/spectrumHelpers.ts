/**
 * Helpers of the spectrum tests: the full Hessian of an objective built column by column from
 * Hessian-vector products, its diagonal blocks, and the Gaussian mixture a smoothed spectral density
 * must equal, written from the definition (independently of src/sharpness/spectrum.ts).
 */
import * as tf from '@tensorflow/tfjs';
import { hessianVectorProduct, type Objective } from '../../src/sharpness/index.js';
import type { Matrix } from './helpers.js';

/** Every column H e_j by hessianVectorProduct, symmetrised (float64). */
export function hessianByProducts(obj: Objective): Matrix {
  const n = obj.vars.reduce((s, v) => s + v.size, 0);
  const cols: number[][] = [];
  for (let j = 0; j < n; j++) {
    const e = new Float32Array(n);
    e[j] = 1;
    let off = 0;
    const v = obj.vars.map((w) => {
      const t = tf.tensor(e.slice(off, off + w.size), w.shape);
      off += w.size;
      return t;
    });
    const r = hessianVectorProduct(obj, v);
    cols.push(r.product.flatMap((p) => Array.from(p.dataSync())));
    tf.dispose([v, r.product]);
  }
  return Array.from({ length: n }, (_, i) => Array.from({ length: n }, (_, j) => 0.5 * (cols[j][i] + cols[i][j])));
}

/** The diagonal block of `h` of each variable (in the order of `vars`). */
export function diagonalBlocks(h: Matrix, vars: readonly tf.Variable[]): Matrix[] {
  const blocks: Matrix[] = [];
  let off = 0;
  for (const v of vars) {
    blocks.push(h.slice(off, off + v.size).map((row) => row.slice(off, off + v.size)));
    off += v.size;
  }
  return blocks;
}

/** (1/R) Σ_r Σ_j τ_rj N(t; θ_rj, σ²): the smoothed density at the point t. */
export function mixtureDensity(runs: ReadonlyArray<{ ritzValues: number[]; weights: number[] }>, sigma: number, t: number): number {
  let s = 0;
  for (const run of runs) {
    run.ritzValues.forEach((theta, j) => {
      s += (run.weights[j] * Math.exp(-((t - theta) ** 2) / (2 * sigma * sigma))) / (sigma * Math.sqrt(2 * Math.PI));
    });
  }
  return s / runs.length;
}

/** Trapezoid integral of `density` over `grid` (equally spaced). */
export function integral(grid: readonly number[], density: readonly number[]): number {
  const dx = grid[1] - grid[0];
  return density.reduce((s, d) => s + d, 0) * dx;
}

export function trace(m: Matrix): number {
  return m.reduce((s, row, i) => s + row[i], 0);
}
