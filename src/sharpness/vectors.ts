/**
 * Vectors in parameter space, stored as one tensor per variable (the shapes of `obj.vars`), and a
 * snapshot that moves the variables to `w + scale·d` and puts the exact original values back.
 * Internal to src/sharpness; every function returns new tensors the caller disposes.
 */
import * as tf from '@tensorflow/tfjs';
import { Rng } from '../util/random.js';

/** A vector in parameter space: one tensor per variable. */
export type ParamVector = tf.Tensor[];

/** Σ_i <a_i, b_i> as a number. */
export function dot(a: ParamVector, b: ParamVector): number {
  const t = tf.tidy(() => tf.addN(a.map((ai, i) => tf.sum(tf.mul(ai, b[i])))));
  const v = t.dataSync()[0];
  t.dispose();
  return v;
}

/** Euclidean norm over all entries. */
export function norm(a: ParamVector): number {
  return Math.sqrt(Math.max(0, dot(a, a)));
}

/** s·a (new tensors). */
export function scale(a: ParamVector, s: number): ParamVector {
  return a.map((ai) => tf.mul(ai, s));
}

/** A fresh vector of the variables' shapes filled by `draw` (float32, drawn variable by variable). */
export function randomVector(vars: tf.Variable[], draw: () => number): ParamVector {
  return vars.map((v) => {
    const data = new Float32Array(v.size);
    for (let i = 0; i < data.length; i++) data[i] = draw();
    return tf.tensor(data, v.shape, 'float32');
  });
}

/** Standard normal entries from `rng`. */
export function normalVector(vars: tf.Variable[], rng: Rng): ParamVector {
  return randomVector(vars, () => rng.normal());
}

/** Rademacher (±1 with probability 1/2) entries from `rng`. */
export function rademacherVector(vars: tf.Variable[], rng: Rng): ParamVector {
  return randomVector(vars, () => (rng.uint32() & 1 ? 1 : -1));
}

/**
 * Keeps the variables' values at construction and moves the variables around them. The copies share
 * the original buffers (tfjs clone is by reference), so `restore()` puts back the exact bits.
 */
export class WeightSnapshot {
  /** The original values, one tensor per variable. */
  readonly saved: tf.Tensor[];
  private disposed = false;

  constructor(readonly vars: tf.Variable[]) {
    this.saved = vars.map((v) => tf.keep(v.clone()));
  }

  /** Sets every variable to `saved + s·d` (s = 1 by default). */
  shift(d: ParamVector, s = 1): void {
    tf.tidy(() => {
      this.vars.forEach((v, i) => v.assign(s === 1 ? tf.add(this.saved[i], d[i]) : tf.add(this.saved[i], tf.mul(d[i], s))));
    });
  }

  /** Sets every variable back to its original value (bit-exact). */
  restore(): void {
    this.vars.forEach((v, i) => v.assign(this.saved[i]));
  }

  /** Restores the variables and frees the copies. Safe to call twice. */
  dispose(): void {
    if (this.disposed) return;
    this.restore();
    tf.dispose(this.saved);
    this.disposed = true;
  }
}

/** Runs `fn` with a snapshot of `vars` and always restores them (also when `fn` throws). */
export function withSnapshot<T>(vars: tf.Variable[], fn: (snap: WeightSnapshot) => T): T {
  const snap = new WeightSnapshot(vars);
  try {
    return fn(snap);
  } finally {
    snap.dispose();
  }
}
