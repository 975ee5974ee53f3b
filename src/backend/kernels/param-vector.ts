/**
 * The parameter-space kernels of src/util/paramVector.ts on the wasm backend: a global inner product
 * over a list of tensor pairs, and `x_i + s * y_i` (or `s * y_i`) over a list, each ONE kernel call
 * for all of a model's variables. Composed of stock ops, the same work is two or three kernel calls
 * per variable, and on a small model each call's engine bookkeeping costs more than its arithmetic
 * (the report's MLP: about 3 us a call against well under 1 us of work).
 *
 * Both are bit-for-bit what the composition computes on flatminima's wasm kernels: the products are
 * summed in sum_cols's blocks and order, the per-variable sums added in list order in float32 (as
 * AddN does), and `x + s * y` rounds the product and then the sum, as Add(x, Multiply(s, y)) does.
 */
import type * as tf from '@tensorflow/tfjs';
import { sizeOf, WasmOps, type KernelArgs } from './ops.js';
import { wasmMemoryOf } from '../wasm-internals.js';
import { elementwiseFor, type ElementwiseRoutines } from './elementwise-simd.js';

function routines(ops: WasmOps): ElementwiseRoutines | null {
  return elementwiseFor(wasmMemoryOf(ops.backend));
}

/** Inputs from..from+n-1 of a kernel whose inputs come as a list (see paramVector.ts). */
function list(inputs: Record<string, tf.TensorInfo>, from: number, n: number): tf.TensorInfo[] {
  // A plain loop: Array.from with a mapping function measured a few microseconds a step here.
  const out: tf.TensorInfo[] = new Array<tf.TensorInfo>(n);
  for (let i = 0; i < n; i++) {
    const t = inputs[from + i];
    if (t === undefined) throw new Error(`flatminima parameter-vector kernel: input ${from + i} missing`);
    out[i] = t;
  }
  return out;
}

/** What the list kernels start from: the ops, n, the first two lists of n inputs and the SIMD routines. */
function listArgs({ inputs, backend, attrs }: KernelArgs): {
  ops: WasmOps;
  n: number;
  first: tf.TensorInfo[];
  second: tf.TensorInfo[];
  simd: ElementwiseRoutines | null;
} {
  const ops = new WasmOps(backend);
  const n = attrs.n as number;
  return { ops, n, first: list(inputs, 0, n), second: list(inputs, n, n), simd: routines(ops) };
}

/** The float32 value of a scalar tensor on the heap. */
function scalarValue(ops: WasmOps, s: tf.TensorInfo): number {
  return ops.view(s)[0]!;
}

/**
 * `Σ_i <x_i, y_i>` in float32, summed as the composition sums it: each pair by the SIMD `dot`
 * (sum_cols's blocks and order; `scratch`, a one-element float32 tensor, holds its result), the
 * pairs' sums added in list order.
 */
function sumOfDots(
  ops: WasmOps,
  simd: ElementwiseRoutines | null,
  xs: tf.TensorInfo[],
  ys: tf.TensorInfo[],
  scratch: tf.TensorInfo,
): number {
  let total = 0;
  for (let i = 0; i < xs.length; i++) {
    const size = sizeOf(xs[i]!.shape);
    let part: number;
    if (simd !== null) {
      simd.dot(ops.offset(xs[i]!), ops.offset(ys[i]!), ops.offset(scratch), size);
      part = ops.view(scratch)[0]!;
    } else {
      // No WebAssembly SIMD: the same sum in JavaScript, in float32 (not bit-equal to the stock ops).
      const a = ops.view(xs[i]!);
      const b = ops.view(ys[i]!);
      part = 0;
      for (let j = 0; j < size; j++) part = Math.fround(part + Math.fround(a[j]! * b[j]!));
    }
    total = i === 0 ? part : Math.fround(total + part);
  }
  return total;
}

/** `x_i + s * y_i` (or `s * y_i` when xs is null) for each i, as new tensors. */
function scaledSums(
  ops: WasmOps,
  simd: ElementwiseRoutines | null,
  xs: tf.TensorInfo[] | null,
  ys: tf.TensorInfo[],
  s: number,
): tf.TensorInfo[] {
  const outs: tf.TensorInfo[] = [];
  for (let i = 0; i < ys.length; i++) {
    const y = ys[i]!;
    const out = ops.empty(y.shape);
    const size = sizeOf(y.shape);
    if (simd !== null) {
      if (xs !== null) simd.axpy(ops.offset(xs[i]!), ops.offset(y), ops.offset(out), size, s);
      else simd.scale(ops.offset(y), ops.offset(out), size, s);
    } else {
      const f = Math.fround(s);
      const o = ops.view(out);
      const yv = ops.view(y);
      const xv = xs !== null ? ops.view(xs[i]!) : null;
      for (let j = 0; j < size; j++) o[j] = xv !== null ? Math.fround(xv[j]! + Math.fround(f * yv[j]!)) : Math.fround(f * yv[j]!);
    }
    outs.push(out);
  }
  return outs;
}

/** `Σ_i <x_i, y_i>` as a float32 scalar (inputs x_0..x_{n-1}, y_0..y_{n-1}; attrs { n }). */
export function globalDotKernel({ inputs, backend, attrs }: KernelArgs): tf.TensorInfo {
  const ops = new WasmOps(backend);
  const n = attrs.n as number;
  const out = ops.empty([]);
  const total = sumOfDots(ops, routines(ops), list(inputs, 0, n), list(inputs, n, n), out);
  ops.view(out)[0] = total;
  return out;
}

/**
 * `x_i + s * y_i` for each i, or `s * y_i` without x (inputs x_0..x_{n-1} when hasX, y_0..y_{n-1},
 * then the scalar tensor s when hasS; attrs { n, hasX, hasS, s }, the number s used without hasS).
 */
export function axpyKernel({ inputs, backend, attrs }: KernelArgs): tf.TensorInfo[] {
  const ops = new WasmOps(backend);
  const n = attrs.n as number;
  const y0 = attrs.hasX === true ? n : 0;
  const xs = attrs.hasX === true ? list(inputs, 0, n) : null;
  const ys = list(inputs, y0, n);
  const s = attrs.hasS === true ? scalarValue(ops, list(inputs, y0 + n, 1)[0]!) : (attrs.s as number);
  return scaledSums(ops, routines(ops), xs, ys, s);
}

/**
 * `x_i + s * y_i` for each i with s made from a global norm in the same call (inputs x_0..x_{n-1},
 * y_0..y_{n-1}, then, with normOf 'x', the scalar tensor d; attrs { n, normOf, a, eps }):
 * - normOf 'y': `s = a / (‖y‖ + eps)` (SAM's and MSAM's move from w to w + e);
 * - normOf 'x': `s = (a ‖x‖) / (d + eps)` (LookSAM's reuse of its stored direction).
 * s is rounded as the float32 ops Sqrt, Add, Multiply and RealDiv round it, so the result is
 * bit-for-bit the composition of paramVector.ts (JavaScript's double arithmetic on float32
 * operands, rounded once, is the correctly rounded float32 result for these operations).
 */
export function normalizedAxpyKernel({ inputs, backend, attrs }: KernelArgs): tf.TensorInfo[] {
  if (attrs.masked === true) return maskedNormalizedAxpy({ inputs, backend, attrs });
  const { ops, n, first: xs, second: ys, simd } = listArgs({ inputs, backend, attrs });
  const f = Math.fround;
  const a = f(attrs.a as number);
  const eps = f(attrs.eps as number);
  const scratch = ops.empty([]);
  const normOfX = attrs.normOf === 'x';
  const norm = f(Math.sqrt(sumOfDots(ops, simd, normOfX ? xs : ys, normOfX ? xs : ys, scratch)));
  ops.free(scratch);
  const s = normOfX ? f(f(a * norm) / f(scalarValue(ops, list(inputs, 2 * n, 1)[0]!) + eps)) : f(a / f(norm + eps));
  return scaledSums(ops, simd, xs, ys, s);
}

/**
 * The part of each y_i orthogonal to the list x, `r_i = y_i - (<y, x> / (‖x‖² + eps)) x_i`, and
 * `‖r‖` (inputs y_0..y_{n-1}, x_0..x_{n-1}; attrs { n, eps }; outputs r_0..r_{n-1}, then ‖r‖ as a
 * scalar): LookSAM's stored direction and its norm in one call. Rounded as the float32 composition
 * of paramVector.ts rounds it (see {@link normalizedAxpyKernel}).
 */
export function rejectionKernel({ inputs, backend, attrs }: KernelArgs): tf.TensorInfo[] {
  const { ops, first: ys, second: xs, simd } = listArgs({ inputs, backend, attrs });
  const f = Math.fround;
  const eps = f(attrs.eps as number);
  const norm = ops.empty([]);
  const xNorm = f(Math.sqrt(sumOfDots(ops, simd, xs, xs, norm)));
  const scale = f(sumOfDots(ops, simd, ys, xs, norm) / f(f(xNorm * xNorm) + eps));
  const rs = scaledSums(ops, simd, ys, xs, -scale);
  ops.view(norm)[0] = f(Math.sqrt(sumOfDots(ops, simd, rs, rs, norm)));
  return [...rs, norm];
}

/**
 * {@link normalizedAxpyKernel} (normOf 'y') with a 0/1 mask over the y elements (the input after
 * y_{n-1}: one float32 tensor over all of y_0..y_{n-1} in list order; attrs { n, a, eps, masked }):
 * `x_i + s (m_i ⊙ y_i)`, ESAM's stochastic move, with the norm still that of the whole y. Rounded
 * as Add(x, Multiply(Multiply(y, m), s)) rounds it, signed zeros included.
 */
function maskedNormalizedAxpy({ inputs, backend, attrs }: KernelArgs): tf.TensorInfo[] {
  const { ops, n, first: xs, second: ys, simd } = listArgs({ inputs, backend, attrs });
  const mask = list(inputs, 2 * n, 1)[0]!;
  const f = Math.fround;
  const scratch = ops.empty([]);
  const norm = f(Math.sqrt(sumOfDots(ops, simd, ys, ys, scratch)));
  ops.free(scratch);
  const s = f(f(attrs.a as number) / f(norm + f(attrs.eps as number)));
  const m = ops.view(mask);
  let at = 0;
  return ys.map((y, i) => {
    const out = ops.empty(y.shape);
    const size = sizeOf(y.shape);
    if (simd !== null) simd.masked_axpy(ops.offset(xs[i]!), ops.offset(y), ops.offset(mask) + 4 * at, ops.offset(out), size, s);
    else {
      const o = ops.view(out);
      const xv = ops.view(xs[i]!);
      const yv = ops.view(y);
      for (let j = 0; j < size; j++) o[j] = f(xv[j]! + f(f(yv[j]! * m[at + j]!) * s));
    }
    at += size;
    return out;
  });
}
