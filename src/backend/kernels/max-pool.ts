/**
 * MaxPool / AvgPool for wasm that give the `cpu` backend's results for every padding.
 *
 * The stock kernels hand tfjs's pads to XNNPACK, which computes its own output size, and size their
 * output buffer from tfjs's shape arithmetic. The two disagree for a numeric pad with a non-square
 * window or stride (tfjs sizes BOTH output dims from the window height and stride height) or with
 * dimRoundingMode 'round'/'ceil', and the stock kernel then overruns its output buffer ("memory
 * access out of bounds", a corrupted heap) or leaves part of it unwritten. They also differ from
 * `cpu` where a window lies wholly in the padding (`cpu`: -Infinity for max, NaN = 0/0 for avg).
 * 'valid' and 'same' are right (a grid against `cpu` over windows, strides and channel counts, see
 * test/backend/stock-fixes.test.ts) and go to the stock kernel unchanged, the fast path.
 *
 * Otherwise the pads are derived from tfjs's output shape (as conv-forward.ts does): a negative one
 * crops the input, a positive one goes to the stock kernel as an explicit pad, so both sides agree on
 * the geometry. Where some window would lie wholly in the padding, MaxPool pads with -Infinity and
 * pools 'valid'; AvgPool divides the average of the zero-padded input by the average of a
 * zero-padded mask of ones (the fraction of the window inside the input), which excludes padding
 * like `cpu` and gives 0/0 = NaN for an all-padding window. Every path pools with the stock kernel;
 * a copy (crop or padded input) is made only where the geometry needs one.
 *
 * Not covered: NaN inputs (on every path, 'valid' included). XNNPACK's max is order-dependent with
 * NaN and its results come out clamped, so a window holding a NaN may give -Infinity or another of
 * its values on wasm, where `cpu` skips NaN in a max and gives NaN for an average.
 */
import * as tf from '@tensorflow/tfjs';
import { WasmOps, type KernelArgs } from './ops.js';

type PoolKind = 'MaxPool' | 'AvgPool';

/** Pooling geometry in tfjs's terms, with the pads that make XNNPACK's output size equal tfjs's. */
interface PoolPlan {
  outShape: number[];
  filter: [number, number];
  strides: [number, number];
  /** [top, bottom, left, right]; negative means rows/columns of the input no window reaches. */
  pads: [number, number, number, number];
}

/** The pooling geometry tfjs computes for a pool kernel's input and attrs. */
export function pool2dInfo(x: tf.TensorInfo, attrs: Record<string, unknown>): tf.backend_util.Conv2DInfo {
  return tf.backend_util.computePool2DInfo(
    x.shape as [number, number, number, number],
    attrs.filterSize as [number, number] | number,
    attrs.strides as [number, number] | number,
    1,
    attrs.pad as 'same' | 'valid' | number,
    attrs.dimRoundingMode as 'floor' | 'round' | 'ceil' | undefined,
  );
}

function planOf(x: tf.TensorInfo, attrs: Record<string, unknown>): PoolPlan {
  const info = pool2dInfo(x, attrs);
  const { inHeight: h, inWidth: w, outHeight: oh, outWidth: ow, filterHeight: fh, filterWidth: fw } = info;
  const { strideHeight: sh, strideWidth: sw } = info;
  const top = info.padInfo.top;
  const left = info.padInfo.left;
  return {
    outShape: info.outShape,
    filter: [fh, fw],
    strides: [sh, sw],
    pads: [top, (oh - 1) * sh + fh - h - top, left, (ow - 1) * sw + fw - w - left],
  };
}

function pool(kind: PoolKind, { inputs, backend, attrs }: KernelArgs): tf.TensorInfo {
  const ops = new WasmOps(backend);
  const x = inputs.x!;
  // The stock kernel is right for 'valid' and 'same'; it also rejects non-float32 input itself.
  if (attrs.pad === 'valid' || attrs.pad === 'same' || x.dtype !== 'float32') return ops.run(kind, inputs, attrs);
  const plan = planOf(x, attrs);
  if (plan.outShape.some((d) => d <= 0)) return ops.backend.makeOutput(plan.outShape, 'float32');
  // `cpu` returns the input itself for a 1x1 window whose output shape equals the input's, even
  // where the strides would skip columns (tfjs sizes a numeric-pad output from the stride height).
  if (plan.filter[0] === 1 && plan.filter[1] === 1 && tf.util.arraysEqual(plan.outShape, x.shape)) {
    ops.backend.incRef(x.dataId);
    return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
  }
  const [n, h, w, c] = x.shape as [number, number, number, number];
  const [top, bottom, left, right] = plan.pads;
  const [fh, fw] = plan.filter;
  let input = x;
  if (Math.min(top, bottom, left, right) < 0) {
    const cropTop = Math.max(0, -top);
    const cropLeft = Math.max(0, -left);
    const rows = h - cropTop - Math.max(0, -bottom);
    const cols = w - cropLeft - Math.max(0, -right);
    input = ops.slice(x, [0, cropTop, cropLeft, 0], [n, rows, cols, c]);
  }
  const pt = Math.max(0, top);
  const pb = Math.max(0, bottom);
  const pl = Math.max(0, left);
  const pr = Math.max(0, right);
  const explicit = [
    [0, 0],
    [pt, pb],
    [pl, pr],
    [0, 0],
  ];
  const plain = { filterSize: plan.filter, strides: plan.strides, dimRoundingMode: undefined };
  let out: tf.TensorInfo;
  if (Math.max(pt, pb) < fh && Math.max(pl, pr) < fw) {
    // Every window overlaps the input: the stock kernel with explicit pads agrees with cpu.
    out = ops.run(kind, { x: input }, { ...plain, pad: explicit });
  } else if (kind === 'MaxPool') {
    const padded = ops.run('PadV2', { x: input }, { paddings: explicit, constantValue: -Infinity });
    out = ops.run(kind, { x: padded }, { ...plain, pad: 'valid' });
    ops.free(padded);
  } else {
    out = averageExcludingPadding(ops, input, explicit, plain);
  }
  if (input !== x) ops.free(input);
  return out;
}

/** Average over the part of each window inside `x` (NaN for a window wholly in the padding). */
function averageExcludingPadding(ops: WasmOps, x: tf.TensorInfo, paddings: number[][], plain: Record<string, unknown>): tf.TensorInfo {
  const [, h, w, c] = x.shape as [number, number, number, number];
  const padded = ops.run('PadV2', { x }, { paddings, constantValue: 0 });
  const sums = ops.run('AvgPool', { x: padded }, { ...plain, pad: 'valid' });
  ops.free(padded);
  const ones = ops.fromValues([1, h, w, c], new Float32Array(h * w * c).fill(1));
  const mask = ops.run('PadV2', { x: ones }, { paddings, constantValue: 0 });
  ops.free(ones);
  const inside = ops.run('AvgPool', { x: mask }, { ...plain, pad: 'valid' });
  ops.free(mask);
  const out = ops.run('RealDiv', { a: sums, b: inside }, {});
  ops.free(sums, inside);
  return out;
}

/** MaxPool that agrees with `cpu` for every padding (see the module comment). */
export function maxPoolKernel(args: KernelArgs): tf.TensorInfo {
  return pool('MaxPool', args);
}

/** AvgPool that agrees with `cpu` for every padding (see the module comment). */
export function avgPoolKernel(args: KernelArgs): tf.TensorInfo {
  return pool('AvgPool', args);
}
