/**
 * Add, Sub, Multiply, RealDiv, Relu, Step and Sum for float32 on wasm through the SIMD routines of
 * elementwise-simd.ts. Broadcasts are reduced to three layouts of the second operand against the
 * first (same shape; a trailing block, e.g. a bias [C] against [N,H,W,C]; a leading block, e.g.
 * [N,1] against [N,K] or a scalar); sums to a reduction over leading or over trailing axes.
 * Anything else (other dtypes, two-sided broadcasts, interleaved axes) goes to the stock kernel.
 */
import * as tf from '@tensorflow/tfjs';
import { sizeOf, WasmOps, type KernelArgs } from './ops.js';
import { wasmMemoryOf } from '../wasm-internals.js';
import { elementwiseFor, type BinaryOp, type ElementwiseRoutines } from './elementwise-simd.js';

/** The routines for this backend's memory, or null without WebAssembly SIMD. */
function routines(ops: WasmOps): ElementwiseRoutines | null {
  return elementwiseFor(wasmMemoryOf(ops.backend));
}

/**
 * How `small` lies against `full` (a broadcast of it), as rows x cols: 'row' when small (padded
 * with leading ones) is 1 on a leading run of axes and equals full after it, 'col' when it equals
 * full on a leading run and is 1 after it. Null when it is neither (then the stock kernel runs).
 */
function layout(small: number[], full: number[]): { pattern: 'row' | 'col'; rows: number; cols: number } | null {
  const rank = full.length;
  const lead = rank - small.length;
  const dim = (i: number): number => (i < lead ? 1 : small[i - lead]!);
  // The first axis from which small equals full to the end, and the first from which small is all ones.
  let equalFrom = rank;
  while (equalFrom > 0 && dim(equalFrom - 1) === full[equalFrom - 1]) equalFrom--;
  let onesFrom = rank;
  while (onesFrom > 0 && dim(onesFrom - 1) === 1) onesFrom--;
  let onesBefore = 0;
  while (onesBefore < rank && dim(onesBefore) === 1) onesBefore++;
  let equalBefore = 0;
  while (equalBefore < rank && dim(equalBefore) === full[equalBefore]) equalBefore++;
  const split = (j: number): { rows: number; cols: number } => {
    let rows = 1;
    let cols = 1;
    for (let i = 0; i < rank; i++)
      if (i < j) rows *= full[i]!;
      else cols *= full[i]!;
    return { rows, cols };
  };
  // Of the layouts that fit, the one with the longer rows vectorises better.
  const row = onesBefore >= equalFrom ? { pattern: 'row' as const, ...split(equalFrom) } : null;
  const col = equalBefore >= onesFrom ? { pattern: 'col' as const, ...split(onesFrom) } : null;
  if (row != null && col != null) return row.cols >= col.cols ? row : col;
  return row ?? col;
}

function sameShape(a: number[], b: number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

/** A float32 binary kernel on the SIMD routines, the stock kernel `name` otherwise. */
function binaryKernel(name: string, op: BinaryOp): (args: KernelArgs) => tf.TensorInfo {
  return ({ inputs, backend, attrs }) => {
    const ops = new WasmOps(backend);
    const { a, b } = inputs as { a: tf.TensorInfo; b: tf.TensorInfo };
    if (a.dtype !== 'float32' || b.dtype !== 'float32') return ops.run(name, inputs, attrs);
    const shape = tf.backend_util.assertAndGetBroadcastShape(a.shape, b.shape);
    const n = sizeOf(shape);
    const simd = n > 0 ? routines(ops) : null;
    if (simd == null) return ops.run(name, inputs, attrs);
    // The operand with the output's shape is `full`; the other is broadcast against it.
    const aFull = sameShape(a.shape, shape);
    const bFull = sameShape(b.shape, shape);
    if (aFull && bFull) {
      const out = ops.empty(shape);
      simd[`${op}_same`](ops.offset(a), ops.offset(b), ops.offset(out), n);
      return out;
    }
    if (!aFull && !bFull) return ops.run(name, inputs, attrs);
    const [full, small] = aFull ? [a, b] : [b, a];
    const how = layout(small.shape, shape);
    if (how == null) return ops.run(name, inputs, attrs);
    const out = ops.empty(shape);
    // The routines compute full op small; with the operands the other way round, the `_rev` form.
    const commutes = op === 'add' || op === 'mul';
    const fn = simd[`${op}_${how.pattern}${aFull || commutes ? '' : '_rev'}`];
    fn(ops.offset(full), ops.offset(small), ops.offset(out), how.rows, how.cols);
    return out;
  };
}

/** Add on the SIMD routines (float32), else stock. */
export const addKernel = binaryKernel('Add', 'add');
/** Sub on the SIMD routines (float32), else stock. */
export const subKernel = binaryKernel('Sub', 'sub');
/** Multiply on the SIMD routines (float32), else stock. */
export const multiplyKernel = binaryKernel('Multiply', 'mul');
/** RealDiv on the SIMD routines (float32), else stock. */
export const realDivKernel = binaryKernel('RealDiv', 'div');

/**
 * A float32 unary kernel: `run(simd, x, out, n, attrs)` on the SIMD routines (pointers are byte
 * offsets), the stock kernel `name` otherwise.
 */
function unaryKernel(
  name: string,
  run: (simd: ElementwiseRoutines, x: number, out: number, n: number, attrs: Record<string, unknown>) => void,
): (args: KernelArgs) => tf.TensorInfo {
  return ({ inputs, backend, attrs }) => {
    const ops = new WasmOps(backend);
    const x = inputs.x!;
    const n = sizeOf(x.shape);
    const simd = x.dtype === 'float32' && n > 0 ? routines(ops) : null;
    if (simd == null) return ops.run(name, inputs, attrs);
    const out = ops.empty(x.shape);
    run(simd, ops.offset(x), ops.offset(out), n, attrs);
    return out;
  };
}

/** Relu: max(x, 0) for float32 (NaN stays NaN, as on cpu), else stock. */
export const reluKernel = unaryKernel('Relu', (simd, x, out, n) => simd.relu(x, out, n));

/** Step: x > 0 ? 1 : alpha for float32 (NaN stays NaN, as on cpu), else stock. */
export const stepKernel = unaryKernel('Step', (simd, x, out, n, attrs) => simd.step(x, out, n, (attrs.alpha as number | undefined) ?? 0));

/** Name of the fused ReLU-gradient kernel (flatminima's own; see ../training-fusion.ts). */
export const RELU_GRAD_KERNEL = 'FlatminimaReluGrad';

/**
 * FlatminimaReluGrad: dy * step(y) for float32 `dy` and `y` of one shape (the gradient through a
 * fused ReLU whose output is y); the stock Step and Multiply otherwise.
 */
export function reluGradKernel({ inputs, backend }: KernelArgs): tf.TensorInfo {
  const ops = new WasmOps(backend);
  const { dy, y } = inputs as { dy: tf.TensorInfo; y: tf.TensorInfo };
  const n = sizeOf(y.shape);
  const simd = dy.dtype === 'float32' && y.dtype === 'float32' && sameShape(dy.shape, y.shape) && n > 0 ? routines(ops) : null;
  if (simd == null) {
    const mask = ops.run('Step', { x: y }, { alpha: 0 });
    const out = ops.run('Multiply', { a: dy, b: mask }, {});
    ops.free(mask);
    return out;
  }
  const out = ops.empty(y.shape);
  simd.relu_grad(ops.offset(dy), ops.offset(y), ops.offset(out), n);
  return out;
}

function normalisedAxes(axis: unknown, rank: number): number[] {
  const list = axis == null ? [...Array(rank).keys()] : Array.isArray(axis) ? (axis as number[]) : [axis as number];
  return [...new Set(list.map((a) => (a < 0 ? a + rank : a)))].sort((p, q) => p - q);
}

/**
 * Sum of a float32 tensor over a run of leading axes (e.g. a bias gradient, [N,H,W,C] -> [C]) or of
 * trailing axes (e.g. a full reduction, or a row sum); other reductions go to the stock kernel.
 */
export function sumKernel({ inputs, backend, attrs }: KernelArgs): tf.TensorInfo {
  const ops = new WasmOps(backend);
  const x = inputs.x!;
  const rank = x.shape.length;
  const axes = normalisedAxes(attrs.axis, rank);
  const n = sizeOf(x.shape);
  const simd = x.dtype === 'float32' && n > 0 && axes.length > 0 ? routines(ops) : null;
  if (simd == null) return ops.run('Sum', inputs, attrs);
  const leading = axes.every((a, i) => a === i);
  const trailing = axes.every((a, i) => a === rank - axes.length + i);
  if (!leading && !trailing) return ops.run('Sum', inputs, attrs);
  const kept = x.shape.map((d, i) => (axes.includes(i) ? 1 : d));
  const shape = attrs.keepDims === true ? kept : x.shape.filter((_, i) => !axes.includes(i));
  const outer = sizeOf(x.shape.filter((_, i) => !axes.includes(i)));
  const out = ops.empty(shape);
  if (trailing) {
    // A full reduction is a single row; it is also "leading", so test trailing first.
    simd.sum_cols(ops.offset(x), ops.offset(out), outer, n / outer);
    return out;
  }
  const tmp = ops.empty([outer]);
  // Views are taken after the last allocation: an allocation may grow (and replace) the heap.
  ops.view(out).fill(0);
  simd.sum_rows(ops.offset(x), ops.offset(out), ops.offset(tmp), n / outer, outer);
  ops.free(tmp);
  return out;
}
