/**
 * Parameter-space vectors as one flat JavaScript array (the variables' entries concatenated in the
 * order of `obj.vars`), for the Krylov methods: they keep dozens of basis vectors and take many dot
 * products among them, which is cheaper and more precise in float64 JavaScript than as tensors.
 * Internal to src/sharpness.
 */
import * as tf from '@tensorflow/tfjs';
import type { Rng } from '../util/random.js';
import type { ParamVector } from './vectors.js';

/** The shapes of a list of variables and the offset of each in the flat vector. */
export class ParamLayout {
  readonly shapes: number[][];
  readonly sizes: number[];
  readonly offsets: number[];
  /** Total number of entries: the dimension of parameter space. */
  readonly size: number;

  constructor(vars: readonly tf.Variable[]) {
    this.shapes = vars.map((v) => v.shape.slice());
    this.sizes = vars.map((v) => v.size);
    this.offsets = [];
    let offset = 0;
    for (const s of this.sizes) {
      this.offsets.push(offset);
      offset += s;
    }
    this.size = offset;
  }

  /** One float32 tensor per variable holding `flat`'s entries (new tensors, caller disposes). */
  toTensors(flat: Float32Array | Float64Array): ParamVector {
    return this.shapes.map((shape, i) => {
      const part = flat.subarray(this.offsets[i], this.offsets[i] + this.sizes[i]);
      return tf.tensor(part instanceof Float32Array ? part : Float32Array.from(part), shape, 'float32');
    });
  }

  /** The entries of `v` (one tensor per variable) as a float64 flat vector. */
  fromTensors(v: ParamVector): Float64Array {
    const out = new Float64Array(this.size);
    v.forEach((t, i) => out.set(t.dataSync() as Float32Array, this.offsets[i]));
    return out;
  }
}

/** Σ a_i b_i in float64. */
export function flatDot(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}

/** a ← a − c·b, in place. */
export function flatAxpy(a: Float64Array, c: number, b: ArrayLike<number>): void {
  for (let i = 0; i < a.length; i++) a[i] -= c * b[i];
}

/**
 * Removes from `w` (in place) its components along the orthonormal `basis`, by classical
 * Gram-Schmidt applied twice: one pass leaves components of the size of the rounding error times
 * ‖w‖/‖w after‖, which grows when w is nearly in the span; a second pass brings them to rounding
 * level ("twice is enough", Giraud, Langou and Rozložník 2005).
 */
export function orthogonalize(w: Float64Array, basis: readonly Float32Array[]): void {
  for (let pass = 0; pass < 2; pass++) {
    const coefficients = basis.map((q) => flatDot(q, w));
    basis.forEach((q, j) => flatAxpy(w, coefficients[j], q));
  }
}

/** Euclidean norm of a flat vector. */
export function flatNorm(a: ArrayLike<number>): number {
  return Math.sqrt(flatDot(a, a));
}

/** `n` standard normal entries drawn from `rng` (the same stream as vectors.normalVector). */
export function flatNormal(n: number, rng: Rng): Float64Array {
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = rng.normal();
  return out;
}

/** `n` Rademacher entries (±1) drawn from `rng` (the same stream as vectors.rademacherVector). */
export function flatRademacher(n: number, rng: Rng): Float64Array {
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = rng.uint32() & 1 ? 1 : -1;
  return out;
}
