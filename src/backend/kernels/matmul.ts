/**
 * BatchMatMul / _FusedMatMul for wasm that keep transposed products on XNNPACK.
 *
 * The stock kernels use XNNPACK only for an untransposed product with batch 1; both dense-layer
 * gradients (x^T dy and dy W^T) otherwise fall to a scalar loop. XNNPACK repacks its right operand
 * for every new tensor (~5x the cost of copying it), so of the two equivalent forms
 *   C = op(A) op(B)   and   C = (op(B)^T op(A)^T)^T
 * the one with the least copying + packing is chosen. Batched products (batch > 1) are not covered
 * and go to the stock kernel.
 */
import type * as tf from '@tensorflow/tfjs';
import { WasmOps } from './ops.js';

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
export function matMul2d(
  ops: WasmOps,
  a: tf.TensorInfo,
  b: tf.TensorInfo,
  transposeA: boolean,
  transposeB: boolean,
): tf.TensorInfo {
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

type MatMulArgs = {
  inputs: Record<string, tf.TensorInfo>;
  backend: unknown;
  attrs: Record<string, unknown>;
};

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

/** BatchMatMul: batch-1 products through {@link matMul2d}; batched ones through the stock kernel. */
export function batchMatMulKernel({ inputs, backend, attrs }: MatMulArgs): tf.TensorInfo {
  const ops = new WasmOps(backend);
  const { a, b } = inputs as { a: tf.TensorInfo; b: tf.TensorInfo };
  const transposeA = attrs.transposeA === true;
  const transposeB = attrs.transposeB === true;
  if (!covered(a, b)) return ops.run('BatchMatMul', inputs, attrs); // explicit fallback: batched
  const out2 = matMul2d(ops, a, b, transposeA, transposeB);
  const out = ops.reshape(out2, outShape(a, b, out2.shape[0]!, out2.shape[1]!));
  ops.free(out2);
  return out;
}

/**
 * _FusedMatMul: transposed batch-1 operands are materialised so that the stock fused kernel runs
 * its XNNPACK path; the bias and activation stay fused. Anything else goes to the stock kernel.
 */
export function fusedMatMulKernel({ inputs, backend, attrs }: MatMulArgs): tf.TensorInfo {
  const ops = new WasmOps(backend);
  const { a, b } = inputs as { a: tf.TensorInfo; b: tf.TensorInfo };
  const transposeA = attrs.transposeA === true;
  const transposeB = attrs.transposeB === true;
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
