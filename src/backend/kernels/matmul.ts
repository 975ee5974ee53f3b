/**
 * BatchMatMul / _FusedMatMul for wasm that keep transposed products on XNNPACK.
 *
 * The stock kernels use XNNPACK only for an untransposed product with batch 1; both dense-layer
 * gradients (x^T dy and dy W^T) otherwise fall to a scalar loop. XNNPACK repacks its right operand
 * for every new tensor (~5x the cost of copying it), so of the two equivalent forms
 *   C = op(A) op(B)   and   C = (op(B)^T op(A)^T)^T
 * the one with the least copying + packing is chosen.
 *
 * Small batch-1 products (m*n*k <= SMALL_MATMUL_MAX_MACS: all of the MLP's) skip all that and run
 * on a single-threaded SIMD routine (small-matmul-simd.ts) that reads the operands in place, fused
 * bias ([n], [1, n] or scalar) and ReLU included; there the fixed cost of transposes, XNNPACK
 * operator setup, packing and (threaded build) waking workers exceeded the arithmetic. Batched
 * products whose batch dims are equal, or all 1 on one side, run on the same routine item by item
 * (the stock kernel's batched path is a scalar loop); other broadcasts go to the stock kernel.
 */
import type * as tf from '@tensorflow/tfjs';
import { WasmOps, type KernelArgs } from './ops.js';
import { wasmMemoryOf } from '../wasm-internals.js';
import { BIAS_NONE, BIAS_PER_COLUMN, BIAS_SCALAR, smallMatMulFor } from './small-matmul-simd.js';

/** Relative cost of XNNPACK packing one float of the right operand vs copying one float. */
const PACK_COST = 4;

function batchSize(shape: number[]): number {
  let p = 1;
  for (let i = 0; i < shape.length - 2; i++) p *= shape[i]!;
  return p;
}

/** A 2-D view [rows, cols] of a rank >= 2 tensor whose leading dims are all 1. */
function as2d(ops: WasmOps, x: tf.TensorInfo): tf.TensorInfo {
  const r = x.shape.length;
  return ops.reshape(x, [x.shape[r - 2]!, x.shape[r - 1]!]);
}

/** Materialises op(x) for a 2-D x: a transpose when `transposed`, else a shared reference. */
function materialise(ops: WasmOps, x2: tf.TensorInfo, transposed: boolean): tf.TensorInfo {
  return transposed ? ops.transpose(x2, [1, 0]) : ops.reshape(x2, x2.shape);
}

/**
 * C = op(A) op(B) for 2-D (or leading-ones) float32 operands, computed with untransposed XNNPACK
 * products only. Returns a 2-D [m, n] tensor; frees every intermediate.
 */
export function matMul2d(ops: WasmOps, a: tf.TensorInfo, b: tf.TensorInfo, transposeA: boolean, transposeB: boolean): tf.TensorInfo {
  const a2 = as2d(ops, a);
  const b2 = as2d(ops, b);
  const m = transposeA ? a2.shape[1]! : a2.shape[0]!;
  const k = transposeA ? a2.shape[0]! : a2.shape[1]!;
  const n = transposeB ? b2.shape[0]! : b2.shape[1]!;
  const directCost = (transposeA ? m * k : 0) + (transposeB ? k * n : 0) + PACK_COST * k * n;
  const swappedCost = (transposeB ? 0 : k * n) + (transposeA ? 0 : m * k) + PACK_COST * k * m + m * n;
  try {
    if (directCost <= swappedCost) {
      const left = materialise(ops, a2, transposeA);
      const right = materialise(ops, b2, transposeB);
      const out = ops.run('BatchMatMul', { a: left, b: right }, { transposeA: false, transposeB: false });
      ops.free(left, right);
      const out2 = ops.reshape(out, [m, n]);
      ops.free(out);
      return out2;
    }
    // C^T = op(B)^T op(A)^T, where op(B)^T is B itself when transposeB, and likewise for A.
    const left = materialise(ops, b2, !transposeB);
    const right = materialise(ops, a2, !transposeA);
    const ct = ops.run('BatchMatMul', { a: left, b: right }, { transposeA: false, transposeB: false });
    ops.free(left, right);
    const ct2 = ops.reshape(ct, [n, m]);
    ops.free(ct);
    const out = ops.transpose(ct2, [1, 0]);
    ops.free(ct2);
    return out;
  } finally {
    ops.free(a2, b2);
  }
}

/**
 * Products with m*n*k at most this go to {@link smallMatMul}, whatever the thread count (it never
 * wakes worker threads). Measured at 1 thread on the 2-core dev machine, kernel level, us for the
 * transposes NN / TN / NT / TT, the XNNPACK path (matMul2d) -> smallMatMul:
 *   m64 k32 n32: 5.5/7.0/8.9/10.6 -> 3.6/3.4/4.7/4.9;  m32 k64 n32: 4.8/6.7/11.2/6.8 -> 3.4/3.4/3.7/4.1
 *   m64 k2 n32: 2.5/3.7/4.2/5.5 -> 1.2/1.2/1.4/2.3;    m64 k64 n64: 13.4/15.8/24.6/15.7 -> 11.4/11.4/12.3/13.4
 *   m80 k80 n80: 24.0/27.0/40.5/27.1 -> 21.5/21.6/22.3/24.4; m128 k128 n128: 91/133/165/128 -> 86/95/81/108
 * The margin shrinks with size while XNNPACK with threads gains on large products, so the cut is
 * set just above 80^3.
 */
export const SMALL_MATMUL_MAX_MACS = 1 << 19;

/** The dims [m, k, n] of op(A) op(B) for operands of rank >= 2 (last two dims). */
function dims(a: tf.TensorInfo, b: tf.TensorInfo, transposeA: boolean, transposeB: boolean): [number, number, number] {
  const [ar, ac] = a.shape.slice(-2) as [number, number];
  const [br, bc] = b.shape.slice(-2) as [number, number];
  return [transposeA ? ac : ar, transposeA ? ar : ac, transposeB ? br : bc];
}

/** A fused bias as the small routine takes it: per output column, one scalar, or not covered (null). */
function biasMode(bias: tf.TensorInfo | undefined, n: number): number | null {
  if (bias == null) return BIAS_NONE;
  if (bias.dtype !== 'float32' || bias.shape.length > 2) return null;
  const size = bias.shape.reduce((p, d) => p * d, 1);
  if (size === 1) return BIAS_SCALAR;
  // [n] or [1, n]: what tfjs-layers Dense passes for rank-2 inputs.
  if (size === n && bias.shape[bias.shape.length - 1] === n) return BIAS_PER_COLUMN;
  return null;
}

/**
 * C = op(A) op(B) (+ bias) (then ReLU) for float32 operands through the single-threaded SIMD
 * routines, reading A and B in place where the loop order allows: rows of C from rows of B (`smm`)
 * when B is [k, n]; dot products along k (`smmDot`) when B is stored [n, k] and A is row-major (or
 * when n < 4, with a copy of the small B); C^T = op(B)^T op(A)^T, transposed back, where A is stored
 * [k, m] and B is transposed or n < 4 (no per-column bias there: it would be per row of C^T); else
 * the smaller operand is copied. `batch` repeats this over consecutive [m, k] / [k, n] / [m, n]
 * items (a shared operand is the same for all). Returns an `outShape` tensor, or null where
 * WebAssembly SIMD is unavailable.
 */
export function smallMatMul(
  ops: WasmOps,
  a: tf.TensorInfo,
  b: tf.TensorInfo,
  transposeA: boolean,
  transposeB: boolean,
  outShape: number[],
  bias: { info: tf.TensorInfo; mode: number } | null = null,
  relu = false,
  batch: SmallBatch = { count: 1, aShared: false, bShared: false },
): tf.TensorInfo | null {
  const fns = smallMatMulFor(wasmMemoryOf(ops.backend));
  if (fns == null) return null;
  const [m, k, n] = dims(a, b, transposeA, transposeB);
  const out = ops.empty(outShape);
  const biasAt = bias == null ? 0 : ops.offset(bias.info);
  const mode = bias?.mode ?? BIAS_NONE;
  const reluFlag = relu ? 1 : 0;
  // A stored [k, 1] is also row-major [1, k]; likewise B [k, 1] is [1, k].
  const aRowMajor = !transposeA || m === 1;
  const bRowsAlongK = transposeB || n === 1;
  let route: 'dot' | 'swapped' | 'dotCopyA' | 'rows';
  let scratch: tf.TensorInfo | null = null;
  if (k >= 4 && aRowMajor && (transposeB || n < 4)) {
    route = 'dot';
    if (!bRowsAlongK) scratch = ops.empty([n, k]);
  } else if (transposeA && mode !== BIAS_PER_COLUMN && (transposeB || n < 4)) {
    route = 'swapped';
    scratch = ops.empty([n, m]);
  } else if (k >= 4 && transposeA && transposeB && m <= n) {
    route = 'dotCopyA';
    scratch = ops.empty([m, k]);
  } else {
    route = 'rows';
    if (transposeB && n > 1) scratch = ops.empty([k, n]);
  }
  const [s, a0, b0, c0] = [scratch == null ? 0 : ops.offset(scratch), ops.offset(a), ops.offset(b), ops.offset(out)];
  // Bytes from one item to the next; a shared operand (broadcast batch) stays put and is copied once.
  const [aStep, bStep, cStep] = [batch.aShared ? 0 : m * k * 4, batch.bShared ? 0 : k * n * 4, m * n * 4];
  for (let t = 0; t < batch.count; t++) {
    const [pa, pb, pc] = [a0 + t * aStep, b0 + t * bStep, c0 + t * cStep];
    if (route === 'dot') {
      if (scratch != null && (t === 0 || !batch.bShared)) fns.transpose(pb, s, k, n);
      fns.smmDot(pa, scratch == null ? pb : s, pc, biasAt, m, n, k, mode, reluFlag);
    } else if (route === 'swapped') {
      // C^T = op(B)^T op(A)^T: A stored [k, m] is a row-major right operand (vectorised along m) and
      // op(B)^T is read with strides; only the [n, m] result is copied (transposed into C).
      fns.smm(pb, pa, s, biasAt, n, m, k, transposeB ? k : 1, transposeB ? 1 : n, mode, reluFlag);
      fns.transpose(s, pc, n, m);
    } else if (route === 'dotCopyA') {
      if (t === 0 || !batch.aShared) fns.transpose(pa, s, k, m);
      fns.smmDot(s, pb, pc, biasAt, m, n, k, mode, reluFlag);
    } else {
      if (scratch != null && (t === 0 || !batch.bShared)) fns.transpose(pb, s, n, k);
      fns.smm(pa, scratch == null ? pb : s, pc, biasAt, m, n, k, transposeA ? 1 : k, transposeA ? m : 1, mode, reluFlag);
    }
  }
  ops.free(scratch);
  return out;
}

/** Whether a covered product of these dims goes to {@link smallMatMul}. */
export function useSmallMatMul(m: number, k: number, n: number): boolean {
  return m > 0 && k > 0 && n > 0 && m * k * n <= SMALL_MATMUL_MAX_MACS;
}

/** A batched product as `count` 2-D products; a shared operand is the same for every one. */
export interface SmallBatch {
  count: number;
  aShared: boolean;
  bShared: boolean;
}

/**
 * The batch of op(A) op(B) for float32 operands of rank >= 2 whose batch dims are equal or all 1 on
 * one side (broadcast), with the output's batch dims; null for other broadcasts and dtypes.
 */
function batchPlan(a: tf.TensorInfo, b: tf.TensorInfo): { batch: SmallBatch; outBatch: number[] } | null {
  if (a.dtype !== 'float32' || b.dtype !== 'float32' || a.shape.length < 2 || b.shape.length < 2) return null;
  const rank = Math.max(a.shape.length, b.shape.length) - 2;
  const padded = (shape: number[]): number[] => [...new Array<number>(rank - (shape.length - 2)).fill(1), ...shape.slice(0, -2)];
  const [ba, bb] = [padded(a.shape), padded(b.shape)];
  const [ca, cb] = [batchSize(a.shape), batchSize(b.shape)];
  if (ca === 1) return { batch: { count: cb, aShared: cb > 1, bShared: false }, outBatch: bb };
  if (cb === 1) return { batch: { count: ca, aShared: false, bShared: true }, outBatch: ba };
  if (ba.every((d, i) => d === bb[i])) return { batch: { count: ca, aShared: false, bShared: false }, outBatch: ba };
  return null;
}

/**
 * Whether a product goes to {@link smallMatMul}: batch-1 ones up to SMALL_MATMUL_MAX_MACS, batched
 * ones at any size (their alternative, the stock kernel's scalar loop, is slower throughout).
 */
function routeSmall(count: number, m: number, k: number, n: number, transposeB: boolean, threaded: boolean): boolean {
  if (count > 1) return m > 0 && k > 0 && n > 0;
  return count === 1 && (useSmallMatMul(m, k, n) || packingBound(m, n, transposeB, threaded));
}

/**
 * Larger products where XNNPACK's repacking of an operand on every call outweighs its faster
 * GEMM: few output rows or columns against a long reduction, e.g. a dense layer's forward pass at
 * batch 64 (x [64,1600] W [1600,128]: 1.16 -> 0.72 ms in the report CNN's step on 1 thread).
 * Measured on the 2-core dev machine with new operands for every call, as in training (a packed
 * operand is cached per tensor, so reusing one flatters XNNPACK), GF/s XNNPACK -> small, 1 thread:
 *   m64 k4096 n512: 11 -> 32;  m256 k1024 n64: 34 -> 48;  m1600 k64 n128 (A^T): 38 -> 46;
 *   m2048 k256 n256: 44 -> 48;  m512 k512 n512: 41 -> 43;  but m1024 k256 n512 (A^T): 38 -> 33.
 * With threads XNNPACK also splits the GEMM (2 threads: m256 k1024 n64 53 vs 46, m2048 k256 n256
 * 82 vs 46), so there only products of at most 64 rows go here (m64 k4096 n512: 13 vs 34). The
 * B-transposed form of the small routine (dot products) is slower for few rows (m64 k128 n1600:
 * 38 vs 26) and is left to XNNPACK.
 */
function packingBound(m: number, n: number, transposeB: boolean, threaded: boolean): boolean {
  if (transposeB) return false;
  return threaded ? m <= 64 : Math.min(m, n) <= 128;
}

/** Whether the backend runs the threaded build (more than one thread). */
function isThreaded(ops: WasmOps): boolean {
  return ops.backend.wasm.PThread != null;
}

function covered(a: tf.TensorInfo, b: tf.TensorInfo): boolean {
  return (
    a.dtype === 'float32' &&
    b.dtype === 'float32' &&
    a.shape.length >= 2 &&
    b.shape.length >= 2 &&
    batchSize(a.shape) === 1 &&
    batchSize(b.shape) === 1
  );
}

function outShape(a: tf.TensorInfo, b: tf.TensorInfo, m: number, n: number): number[] {
  const outer = Math.max(a.shape.length, b.shape.length) - 2;
  return [...new Array<number>(outer).fill(1), m, n];
}

/**
 * BatchMatMul: small batch-1 products through {@link smallMatMul}, larger ones through
 * {@link matMul2d}; batched ones through the stock kernel.
 */
export function batchMatMulKernel({ inputs, backend, attrs }: KernelArgs): tf.TensorInfo {
  const ops = new WasmOps(backend);
  const { a, b } = inputs as { a: tf.TensorInfo; b: tf.TensorInfo };
  const transposeA = attrs.transposeA === true;
  const transposeB = attrs.transposeB === true;
  const plan = batchPlan(a, b);
  if (plan != null) {
    const [m, k, n] = dims(a, b, transposeA, transposeB);
    if (routeSmall(plan.batch.count, m, k, n, transposeB, isThreaded(ops))) {
      const small = smallMatMul(ops, a, b, transposeA, transposeB, [...plan.outBatch, m, n], null, false, plan.batch);
      if (small != null) return small;
    }
  }
  if (!covered(a, b)) return ops.run('BatchMatMul', inputs, attrs); // explicit fallback: batched
  const out2 = matMul2d(ops, a, b, transposeA, transposeB);
  const out = ops.reshape(out2, outShape(a, b, out2.shape[0]!, out2.shape[1]!));
  ops.free(out2);
  return out;
}

/**
 * _FusedMatMul: small batch-1 products with activation 'linear' / 'relu' and a [n], [1, n] or scalar
 * bias (or none) through {@link smallMatMul}; otherwise transposed batch-1 operands are materialised
 * so that the stock fused kernel runs its XNNPACK path, with bias and activation still fused.
 * Anything else goes to the stock kernel.
 */
export function fusedMatMulKernel({ inputs, backend, attrs }: KernelArgs): tf.TensorInfo {
  const ops = new WasmOps(backend);
  const { a, b } = inputs as { a: tf.TensorInfo; b: tf.TensorInfo };
  const transposeA = attrs.transposeA === true;
  const transposeB = attrs.transposeB === true;
  const plan = batchPlan(a, b);
  if (plan != null && inputs.preluActivationWeights == null && (attrs.activation === 'linear' || attrs.activation === 'relu')) {
    const [m, k, n] = dims(a, b, transposeA, transposeB);
    const mode = biasMode(inputs.bias, n);
    if (mode != null && routeSmall(plan.batch.count, m, k, n, transposeB, isThreaded(ops))) {
      const bias = inputs.bias == null ? null : { info: inputs.bias, mode };
      const relu = attrs.activation === 'relu';
      const small = smallMatMul(ops, a, b, transposeA, transposeB, [...plan.outBatch, m, n], bias, relu, plan.batch);
      if (small != null) return small;
    }
  }
  if (!covered(a, b) || (!transposeA && !transposeB)) return ops.run('_FusedMatMul', inputs, attrs);
  const a2 = as2d(ops, a);
  const b2 = as2d(ops, b);
  const left2 = materialise(ops, a2, transposeA);
  const right2 = materialise(ops, b2, transposeB);
  ops.free(a2, b2);
  // The stock fused kernel reads its operands as rank 3.
  const left = ops.reshape(left2, [1, ...left2.shape]);
  const right = ops.reshape(right2, [1, ...right2.shape]);
  ops.free(left2, right2);
  const out = ops.run('_FusedMatMul', { ...inputs, a: left, b: right }, { ...attrs, transposeA: false, transposeB: false });
  ops.free(left, right);
  const shaped = ops.reshape(out, outShape(a, b, out.shape[out.shape.length - 2]!, out.shape[out.shape.length - 1]!));
  ops.free(out);
  return shaped;
}
