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
  return Array.from({ length: n }, (_, i) => {
    const t = inputs[from + i];
    if (t === undefined) throw new Error(`flatminima parameter-vector kernel: input ${from + i} missing`);
    return t;
  });
}

/** The float32 value of a scalar tensor on the heap. */
function scalarValue(ops: WasmOps, s: tf.TensorInfo): number {
  return ops.view(s)[0]!;
}

/** `Σ_i <x_i, y_i>` as a float32 scalar (inputs x_0..x_{n-1}, y_0..y_{n-1}; attrs { n }). */
export function globalDotKernel({ inputs, backend, attrs }: KernelArgs): tf.TensorInfo {
  const ops = new WasmOps(backend);
  const n = attrs.n as number;
  const xs = list(inputs, 0, n);
  const ys = list(inputs, n, n);
  const out = ops.empty([]);
  const simd = routines(ops);
  let total = 0;
  for (let i = 0; i < n; i++) {
    const size = sizeOf(xs[i]!.shape);
    let part: number;
    if (simd !== null) {
      simd.dot(ops.offset(xs[i]!), ops.offset(ys[i]!), ops.offset(out), size);
      part = ops.view(out)[0]!;
    } else {
      // No WebAssembly SIMD: the same sum in JavaScript, in float32 (not bit-equal to the stock ops).
      const a = ops.view(xs[i]!);
      const b = ops.view(ys[i]!);
      part = 0;
      for (let j = 0; j < size; j++) part = Math.fround(part + Math.fround(a[j]! * b[j]!));
    }
    total = i === 0 ? part : Math.fround(total + part);
  }
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
  const simd = routines(ops);
  const outs: tf.TensorInfo[] = [];
  for (let i = 0; i < n; i++) {
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
