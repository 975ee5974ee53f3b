/**
 * Vectors in parameter space, shared by the optimisers and the sharpness measures: a list of tensors
 * (one per variable) treated as ONE flat vector, which is how ALGORITHMS.md defines every norm and
 * inner product (global, not per layer); and a snapshot that moves variables to `w + s·d` and puts
 * the exact original bits back.
 */
import * as tf from '@tensorflow/tfjs';
import { sharedReference } from './sharedReference.js';

/** A vector in parameter space: one tensor per variable, in the variables' order and shapes. */
export type ParamVector = tf.Tensor[];

/**
 * The name of the kernel computing {@link globalDot} in one call (inputs, as a list: x_0..x_{n-1},
 * y_0..y_{n-1}; attrs { n }), registered by flatminima's wasm kernels
 * (src/backend/kernels/param-vector.ts). Where a backend has none, the same value is composed of
 * stock ops.
 */
export const GLOBAL_DOT_KERNEL = 'FlatminimaGlobalDot';

/**
 * The name of the kernel computing `x_i + s * y_i` (or `s * y_i`) for a whole list in one call
 * (inputs, as a list: x_0..x_{n-1} when hasX, y_0..y_{n-1}, then the scalar tensor s when hasS;
 * attrs { n, hasX, hasS, s }, the number s used without hasS); see {@link GLOBAL_DOT_KERNEL}.
 */
export const AXPY_KERNEL = 'FlatminimaAxpy';

/**
 * The name of the kernel computing `x_i + s * y_i` for a whole list with s made from a global norm
 * in the same call (inputs, as a list: x_0..x_{n-1}, y_0..y_{n-1}, then the scalar tensor d with
 * normOf 'x', or the mask with masked; attrs { n, normOf, a, eps, masked? }): `s = a / (‖y‖ + eps)`
 * with normOf 'y', `s = a ‖x‖ / (d + eps)` with normOf 'x'; see {@link normalizedAxpy} and
 * {@link selfScaledAxpy}.
 */
export const NORMALIZED_AXPY_KERNEL = 'FlatminimaNormalizedAxpy';

/**
 * The name of the kernel computing the part of a list y orthogonal to a list x and its norm in one
 * call (inputs, as a list: y_0..y_{n-1}, x_0..x_{n-1}; attrs { n, eps }; outputs r_0..r_{n-1} and
 * ‖r‖); see {@link rejection}.
 */
export const REJECTION_KERNEL = 'FlatminimaRejection';

/** Whether the active backend has kernel `name`. */
function hasKernel(name: string): boolean {
  return tf.getKernel(name, tf.getBackend()) != null;
}

/** Whether every pair holds float32 tensors of one size (what the fused kernels take). */
function fusable(xs: readonly tf.Tensor[], ys: readonly tf.Tensor[]): boolean {
  return xs.every((x, i) => x.dtype === 'float32' && ys[i].dtype === 'float32' && x.size === ys[i].size);
}

/**
 * The kernels' inputs: xs, then ys (then s), as a list. A list and not named inputs because tfjs
 * saves all inputs of a kernel for its gradient only when they come as a list (as AddN's do).
 */
function listInputs(xs: readonly tf.Tensor[] | null, ys: readonly tf.Tensor[], s?: tf.Tensor): tf.NamedTensorMap {
  return [...(xs ?? []), ...ys, ...(s !== undefined ? [s] : [])] as unknown as tf.NamedTensorMap;
}

// Gradients, so that the fused forms can sit inside tf.grad like the compositions they replace:
// d<x, y>/dx_i = dy * y_i (and symmetrically); d(x_i + s y_i) = dy_i, s dy_i, and ds = Σ <dy_i, y_i>.
if (tf.getGradient(GLOBAL_DOT_KERNEL) == null) {
  tf.registerGradient({
    kernelName: GLOBAL_DOT_KERNEL,
    saveAllInputs: true,
    gradFunc: (dy, saved, attrs) => {
      const n = (attrs as { n: number }).n;
      const d = dy as tf.Tensor;
      const grads: Record<string, () => tf.Tensor> = {};
      for (let i = 0; i < n; i++) {
        grads[i] = () => tf.mul(d, saved[n + i]);
        grads[n + i] = () => tf.mul(d, saved[i]);
      }
      return grads;
    },
  });
}
if (tf.getGradient(AXPY_KERNEL) == null) {
  tf.registerGradient({
    kernelName: AXPY_KERNEL,
    saveAllInputs: true,
    gradFunc: (dy, saved, attrs) => {
      const { n, hasX, hasS, s: sNumber } = attrs as { n: number; hasX: boolean; hasS: boolean; s: number };
      const y0 = hasX ? n : 0;
      const ys = saved.slice(y0, y0 + n);
      // tfjs hands a kernel of one output its dy alone, of several a list (null for an unused output).
      const dys = (Array.isArray(dy) ? (dy as (tf.Tensor | null)[]) : [dy]).map((d, i) => d ?? tf.zerosLike(ys[i]));
      const sTensor = hasS ? saved[y0 + n] : null;
      const grads: Record<string, () => tf.Tensor> = {};
      for (let i = 0; i < n; i++) {
        if (hasX) grads[i] = () => dys[i].clone();
        grads[y0 + i] = () => tf.mul(dys[i], sTensor ?? sNumber);
      }
      if (sTensor !== null) grads[y0 + n] = () => tf.reshape(globalDot(dys, ys), sTensor.shape);
      return grads;
    },
  });
}

/** Global inner product `<xs, ys>` of two lists of tensors of matching shapes, as a scalar tensor. */
export function globalDot(xs: readonly tf.Tensor[], ys: readonly tf.Tensor[]): tf.Scalar {
  if (xs.length !== ys.length) throw new RangeError(`globalDot: lists differ in length (${xs.length} vs ${ys.length})`);
  if (xs.length > 0 && hasKernel(GLOBAL_DOT_KERNEL) && fusable(xs, ys)) {
    return tf.engine().runKernel(GLOBAL_DOT_KERNEL, listInputs(xs, ys), { n: xs.length }) as tf.Scalar;
  }
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

/** The scalar of {@link axpy} and {@link scale}: a number or a float32 scalar tensor. */
type Scale = number | tf.Scalar;

/**
 * `x_i + s·y_i` (or `s·y_i` when `xs` is null) through the fused kernel, or null where the backend
 * has none or the operands are not what it takes (float32, matching shapes, a float32 scalar s).
 */
function fusedAxpy(xs: readonly tf.Tensor[] | null, ys: readonly tf.Tensor[], s: Scale): ParamVector | null {
  const sTensor = typeof s === 'number' ? undefined : s;
  if (sTensor !== undefined && !(sTensor.dtype === 'float32' && sTensor.size === 1)) return null;
  if (ys.length === 0 || !hasKernel(AXPY_KERNEL) || !ys.every((y) => y.dtype === 'float32')) return null;
  if (xs !== null && !(fusable(xs, ys) && xs.every((x, i) => tf.util.arraysEqual(x.shape, ys[i].shape)))) return null;
  return tf.engine().runKernel(AXPY_KERNEL, listInputs(xs, ys, sTensor), {
    n: ys.length,
    hasX: xs !== null,
    hasS: sTensor !== undefined,
    s: typeof s === 'number' ? s : 0,
  }) as unknown as tf.Tensor[];
}

/**
 * Whether the norm-scaled kernel can take `xs` and `ys`: the backend has it, no tape is recording
 * (it has no registered gradient; under a tape the composition runs, which tf.grad can follow) and
 * the operands are float32 pairs of one shape.
 */
function normalizedKernelTakes(xs: readonly tf.Tensor[], ys: readonly tf.Tensor[]): boolean {
  const engine = tf.engine() as unknown as { state: { gradientDepth: number } };
  return (
    ys.length > 0 &&
    engine.state.gradientDepth === 0 &&
    hasKernel(NORMALIZED_AXPY_KERNEL) &&
    fusable(xs, ys) &&
    xs.every((x, i) => tf.util.arraysEqual(x.shape, ys[i].shape))
  );
}

/**
 * `x_i + (a / (‖ys‖ + eps)) y_i` for each i (new tensors): SAM's move from w to
 * `w + rho g / (‖g‖ + eps)` in one kernel call where the backend has it, bit-for-bit the
 * composition `axpy(xs, ys, a / (globalNorm(ys) + eps))` in float32. With `mask` (0s and 1s, one per
 * element of ys, in list order) the move is `x_i + s (m_i ⊙ y_i)`, ESAM's, with s still from the
 * norm of the whole ys, bit-for-bit `axpy(xs, ys.map((y, i) => (y * m_i) * s), 1)`.
 * @throws RangeError when the lists differ in length or the mask is not a Float32Array over all of ys.
 */
export function normalizedAxpy(
  xs: readonly tf.Tensor[],
  ys: readonly tf.Tensor[],
  a: number,
  eps: number,
  mask?: Float32Array,
): ParamVector {
  if (xs.length !== ys.length) throw new RangeError(`normalizedAxpy: lists differ in length (${xs.length} vs ${ys.length})`);
  if (mask !== undefined) {
    const total = ys.reduce((n, y) => n + y.size, 0);
    if (!(mask instanceof Float32Array && mask.length === total)) {
      const got = mask instanceof Float32Array ? `${mask.length} elements` : typeof mask;
      throw new RangeError(`normalizedAxpy: mask must be a Float32Array of ${total} elements (one per element of ys), got ${got}`);
    }
  }
  if (normalizedKernelTakes(xs, ys)) {
    if (mask === undefined) {
      return tf
        .engine()
        .runKernel(NORMALIZED_AXPY_KERNEL, listInputs(xs, ys), { n: ys.length, normOf: 'y', a, eps }) as unknown as tf.Tensor[];
    }
    const m = tf.tensor1d(mask, 'float32');
    try {
      const attrs = { n: ys.length, normOf: 'y', a, eps, masked: true };
      return tf.engine().runKernel(NORMALIZED_AXPY_KERNEL, listInputs(xs, ys, m), attrs) as unknown as tf.Tensor[];
    } finally {
      m.dispose();
    }
  }
  return tf.tidy(() => {
    const s = tf.div(a, tf.add(globalNorm(ys), eps)) as tf.Scalar;
    if (mask === undefined) return axpy(xs, ys, s);
    let at = 0;
    const e = ys.map((y) => {
      const m = tf.tensor(mask.subarray(at, (at += y.size)), y.shape, 'float32');
      return tf.mul(tf.mul(y, m), s);
    });
    return axpy(xs, e, 1);
  });
}

/**
 * `x_i + (a ‖xs‖ / (d + eps)) y_i` for each i (new tensors; `d` a scalar tensor): LookSAM's reuse
 * `g + alpha ‖g‖ g_v / (‖g_v‖ + eps)` in one kernel call where the backend has it, bit-for-bit the
 * composition `axpy(xs, ys, (a * globalNorm(xs)) / (d + eps))` in float32.
 * @throws RangeError when the lists differ in length or `d` has more than one element.
 */
export function selfScaledAxpy(xs: readonly tf.Tensor[], ys: readonly tf.Tensor[], a: number, d: tf.Scalar, eps: number): ParamVector {
  if (xs.length !== ys.length) throw new RangeError(`selfScaledAxpy: lists differ in length (${xs.length} vs ${ys.length})`);
  checkScale('selfScaledAxpy', d);
  if (normalizedKernelTakes(xs, ys) && d.dtype === 'float32') {
    const inputs = listInputs(xs, ys, d);
    return tf.engine().runKernel(NORMALIZED_AXPY_KERNEL, inputs, { n: ys.length, normOf: 'x', a, eps }) as unknown as tf.Tensor[];
  }
  return tf.tidy(() => axpy(xs, ys, tf.div(tf.mul(a, globalNorm(xs)), tf.add(d, eps)) as tf.Scalar));
}

/**
 * The rejection of `ys` from `xs`: `r_i = y_i - (<y, x> / (‖x‖² + eps)) x_i` (new tensors), and
 * `‖r‖`, in one kernel call where the backend has it (LookSAM's `g_v` from `g_p` and `g`),
 * bit-for-bit the float32 composition of {@link globalDot}, {@link globalNorm} and {@link axpy}.
 * @throws RangeError when the lists differ in length.
 */
export function rejection(ys: readonly tf.Tensor[], xs: readonly tf.Tensor[], eps: number): { values: ParamVector; norm: tf.Scalar } {
  if (xs.length !== ys.length) throw new RangeError(`rejection: lists differ in length (${ys.length} vs ${xs.length})`);
  if (normalizedKernelTakes(xs, ys) && hasKernel(REJECTION_KERNEL)) {
    const out = tf.engine().runKernel(REJECTION_KERNEL, listInputs(ys, xs), { n: ys.length, eps }) as unknown as tf.Tensor[];
    return { values: out.slice(0, ys.length), norm: out[ys.length] as tf.Scalar };
  }
  return tf.tidy(() => {
    const scale = tf.div(globalDot(ys, xs), tf.add(tf.square(globalNorm(xs)), eps)) as tf.Scalar;
    const values = axpy(ys, xs, tf.neg(scale));
    return { values, norm: globalNorm(values) };
  });
}

/** Refuses an `s` that is neither a number nor a one-element tensor (tfjs would broadcast it silently). */
function checkScale(where: string, s: Scale): void {
  if (typeof s === 'number') return;
  if (!(s instanceof tf.Tensor) || s.size !== 1) {
    const got = s instanceof tf.Tensor ? `a tensor of shape [${s.shape.join(', ')}]` : typeof s;
    throw new RangeError(`${where}: s must be a number or a scalar tensor (one element), got ${got}`);
  }
}

/**
 * `x_i + s·y_i` for each i (new tensors; `s` a number or a scalar tensor), in one kernel call where the backend has it.
 * @throws RangeError when the lists differ in length or `s` has more than one element.
 */
export function axpy(xs: readonly tf.Tensor[], ys: readonly tf.Tensor[], s: Scale): ParamVector {
  if (xs.length !== ys.length) throw new RangeError(`axpy: lists differ in length (${xs.length} vs ${ys.length})`);
  checkScale('axpy', s);
  return fusedAxpy(xs, ys, s) ?? tf.tidy(() => xs.map((x, i) => tf.add(x, tf.mul(s, ys[i]))));
}

/**
 * `s·a` (new tensors; `s` a number or a scalar tensor), in one kernel call where the backend has it.
 * @throws RangeError when `s` has more than one element.
 */
export function scale(a: readonly tf.Tensor[], s: Scale): ParamVector {
  checkScale('scale', s);
  return fusedAxpy(null, a, s) ?? a.map((ai) => tf.mul(ai, s));
}

/**
 * Keeps the variables' values at construction and moves the variables around them. The copies share
 * the original buffers (made by {@link sharedReference}, a clone without a kernel call), so
 * {@link restore} puts back the exact bits.
 */
export class WeightSnapshot {
  /** The original values, one tensor per variable (kept: they survive an enclosing tf.tidy). */
  readonly saved: tf.Tensor[];
  private disposed = false;

  constructor(readonly vars: readonly tf.Variable[]) {
    this.saved = vars.map((v) => tf.keep(sharedReference(v)));
  }

  /** Sets every variable to `saved + s·d` (s = 1 by default; `d` stays the caller's). */
  shift(d: readonly tf.Tensor[], s = 1): void {
    tf.tidy(() => {
      const moved = axpy(this.saved, d, s);
      this.vars.forEach((v, i) => v.assign(moved[i]));
    });
  }

  /** Sets every variable to `values[i]` (the caller's tensors, left undisposed). */
  moveTo(values: readonly tf.Tensor[]): void {
    this.vars.forEach((v, i) => v.assign(values[i]));
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
  const move = (origin: readonly tf.Tensor[]): tf.Tensor[] => {
    if (typeof shift !== 'function') return axpy(origin, shift, 1);
    const d = shift();
    try {
      return axpy(origin, d, 1);
    } finally {
      tf.dispose(d as tf.Tensor[]);
    }
  };
  return atMovedWeights(vars, move, fn, options);
}

/**
 * {@link atShiftedWeights} with the new values made from the old ones: `move(w)` returns one new
 * tensor per variable (freed once assigned), e.g. `normalizedAxpy(w, g, rho, eps)`, which makes
 * `w + e` without `e` itself.
 */
export function atMovedWeights<T>(
  vars: readonly tf.Variable[],
  move: (origin: readonly tf.Tensor[]) => readonly tf.Tensor[],
  fn: () => T,
  options: ShiftOptions = {},
): T {
  const run = (): T =>
    withSnapshot(vars, (snap) => {
      const moved = move(snap.saved);
      try {
        snap.moveTo(moved);
      } finally {
        tf.dispose(moved as tf.Tensor[]);
      }
      return fn();
    });
  const alsoRestore = options.alsoRestore ?? [];
  return alsoRestore.length === 0 ? run() : withSnapshot(alsoRestore, run);
}
