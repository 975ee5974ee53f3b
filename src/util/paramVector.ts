/**
 * Vectors in parameter space, shared by the optimisers and the sharpness measures: a list of tensors
 * (one per variable) treated as ONE flat vector, which is how ALGORITHMS.md defines every norm and
 * inner product (global, not per layer); and a snapshot that moves variables to `w + s·d` and puts
 * the exact original bits back.
 */
import * as tf from '@tensorflow/tfjs';

/** A vector in parameter space: one tensor per variable, in the variables' order and shapes. */
export type ParamVector = tf.Tensor[];

/** Global inner product `<xs, ys>` of two lists of tensors of matching shapes, as a scalar tensor. */
export function globalDot(xs: readonly tf.Tensor[], ys: readonly tf.Tensor[]): tf.Scalar {
  if (xs.length !== ys.length) throw new RangeError(`globalDot: lists differ in length (${xs.length} vs ${ys.length})`);
  return tf.tidy(() => {
    if (xs.length === 0) return tf.scalar(0);
    const parts = xs.map((x, i) => tf.sum(tf.mul(x, ys[i])));
    return (parts.length === 1 ? parts[0] : tf.addN(parts)) as tf.Scalar;
  });
}

/** Global L2 norm `‖xs‖` of a list of tensors, as a scalar tensor. */
export function globalNorm(xs: readonly tf.Tensor[]): tf.Scalar {
  return tf.tidy(() => tf.sqrt(globalDot(xs, xs)));
}

/** `<a, b>` as a number (the float32 sum of {@link globalDot}, read back). */
export function dot(a: readonly tf.Tensor[], b: readonly tf.Tensor[]): number {
  const t = globalDot(a, b);
  const v = t.dataSync()[0];
  t.dispose();
  return v;
}

/** `‖a‖` as a number: the float64 square root of {@link dot}`(a, a)` (never NaN from a tiny negative). */
export function norm(a: readonly tf.Tensor[]): number {
  return Math.sqrt(Math.max(0, dot(a, a)));
}

/** `s·a` (new tensors). */
export function scale(a: readonly tf.Tensor[], s: number): ParamVector {
  return a.map((ai) => tf.mul(ai, s));
}

/**
 * Keeps the variables' values at construction and moves the variables around them. The copies share
 * the original buffers (a tfjs clone is by reference), so {@link restore} puts back the exact bits.
 */
export class WeightSnapshot {
  /** The original values, one tensor per variable (kept: they survive an enclosing tf.tidy). */
  readonly saved: tf.Tensor[];
  private disposed = false;

  constructor(readonly vars: readonly tf.Variable[]) {
    this.saved = vars.map((v) => tf.keep(v.clone()));
  }

  /** Sets every variable to `saved + s·d` (s = 1 by default; `d` stays the caller's). */
  shift(d: readonly tf.Tensor[], s = 1): void {
    tf.tidy(() => {
      this.vars.forEach((v, i) => v.assign(s === 1 ? tf.add(this.saved[i], d[i]) : tf.add(this.saved[i], tf.mul(d[i], s))));
    });
  }

  /** Sets every variable back to its original value (bit-exact); a variable still holding it is left alone. */
  restore(): void {
    this.vars.forEach((v, i) => {
      if (v.dataId !== this.saved[i].dataId) v.assign(this.saved[i]);
    });
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
export function withSnapshot<T>(vars: readonly tf.Variable[], fn: (snap: WeightSnapshot) => T): T {
  const snap = new WeightSnapshot(vars);
  try {
    return fn(snap);
  } finally {
    snap.dispose();
  }
}

/** Options of {@link atShiftedWeights}. */
export interface ShiftOptions {
  /** Other variables to restore afterwards, e.g. BatchNormalization moving statistics that `fn` may update. */
  readonly alsoRestore?: readonly tf.Variable[];
}

/**
 * Perturb and restore: moves `vars` from `w` to `w + shift`, runs `fn` there, and puts `w` (and the
 * variables of `alsoRestore`) back bit-exactly, also when `fn` throws. `shift` is a vector (the
 * caller's) or a function making one, whose tensors are freed as soon as they are applied.
 */
export function atShiftedWeights<T>(
  vars: readonly tf.Variable[],
  shift: readonly tf.Tensor[] | (() => readonly tf.Tensor[]),
  fn: () => T,
  options: ShiftOptions = {},
): T {
  return withSnapshot(options.alsoRestore ?? [], () =>
    withSnapshot(vars, (snap) => {
      if (typeof shift === 'function') {
        const d = shift();
        try {
          snap.shift(d);
        } finally {
          tf.dispose(d as tf.Tensor[]);
        }
      } else {
        snap.shift(shift);
      }
      return fn();
    }),
  );
}
