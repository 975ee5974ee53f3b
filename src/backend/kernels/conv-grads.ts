/**
 * Conv2DBackpropFilter (absent on wasm, tensorflow/tfjs#8474) and Conv2DBackpropInput (a scalar C++
 * loop on wasm, #3472), composed from the backend's XNNPACK forward Conv2D, transposes and pads;
 * Conv2DBackpropInput with Ci % 4 == 0 and an output smaller than the input (or stride > 1) as
 * GEMM (a 1x1 forward conv) + col2im (a small WebAssembly SIMD routine, col2im-simd.ts).
 * Pads are always passed explicitly: the wasm Conv2D is wrong for 'same' with stride > kernel (#5907).
 * NCHW data is handled by transposing to NHWC and back (the explicit fallback; slower, correct).
 * The gradient kernels of tfjs 4.22 carry no dilations (tf.conv2d's gradient asserts dilation 1).
 */
import * as tf from '@tensorflow/tfjs';
import { WasmOps, type KernelArgs } from './ops.js';
import { matMul2d } from './matmul.js';
import { col2imFor } from './col2im-simd.js';
import { filterGradFor } from './conv-filter-grad-simd.js';
import { wasmMemoryOf } from '../wasm-internals.js';

/**
 * Largest kh*kw*Ci for which dW is computed patch by patch (the direct SIMD routine, else im2col +
 * one product) rather than as the swapped convolution. Measured (1 thread, batch 64): report CNN
 * conv1 (3x3x1) 1.1 ms direct, 3.9 ms im2col, 14 ms swapped conv; conv2 (3x3x32 = 288) 20 ms
 * swapped conv vs 94 ms im2col (the direct routine's cost grows with the patch size the same way).
 */
export const IM2COL_MAX_PATCH = 27;

/** Forward-convolution geometry in NHWC terms (pads top/left as tfjs computes them). */
export interface Geometry {
  n: number;
  h: number;
  w: number;
  ci: number;
  kh: number;
  kw: number;
  co: number;
  oh: number;
  ow: number;
  sh: number;
  sw: number;
  top: number;
  left: number;
}

/** The forward geometry of a Conv2D with `xShape` (NHWC), `filterShape` and the kernel's attrs. */
export function geometry(
  xShape: [number, number, number, number],
  filterShape: [number, number, number, number],
  attrs: Record<string, unknown>,
): Geometry {
  const info = tf.backend_util.computeConv2DInfo(
    xShape,
    filterShape,
    attrs.strides as [number, number] | number,
    1,
    attrs.pad as 'same' | 'valid' | number,
    attrs.dimRoundingMode as 'floor' | 'round' | 'ceil' | undefined,
    false,
    'channelsLast',
  );
  return {
    n: info.batchSize,
    h: info.inHeight,
    w: info.inWidth,
    ci: info.inChannels,
    kh: info.filterHeight,
    kw: info.filterWidth,
    co: info.outChannels,
    oh: info.outHeight,
    ow: info.outWidth,
    sh: info.strideHeight,
    sw: info.strideWidth,
    top: info.padInfo.top,
    left: info.padInfo.left,
  };
}

const toNhwc = [0, 2, 3, 1];
const toNchw = [0, 3, 1, 2];

function nhwcShape(shape: number[], nchw: boolean): [number, number, number, number] {
  const s = nchw ? [shape[0]!, shape[2]!, shape[3]!, shape[1]!] : shape;
  return s as [number, number, number, number];
}

/**
 * x [N,H,W,Ci] -> [Ci,H,W,N] in two steps: a 2-D transpose to [H*W*Ci, N], then a transpose of
 * [H*W, Ci, N] blocks that moves whole rows of N floats. The stock 4-D transpose gathers one float
 * at a time with a stride of H*W*Ci (~0.4-0.65 ms for the report CNN's conv2 input vs ~0.3 ms).
 */
function batchToBack(ops: WasmOps, x: tf.TensorInfo, g: Geometry): tf.TensorInfo {
  if (g.ci === 1) return ops.transpose(x, [3, 1, 2, 0]); // a single step already
  const x2 = ops.reshape(x, [g.n, g.h * g.w * g.ci]);
  const t2 = ops.transpose(x2, [1, 0]);
  ops.free(x2);
  const t3 = ops.reshape(t2, [g.h * g.w, g.ci, g.n]);
  ops.free(t2);
  const t = ops.transpose(t3, [1, 0, 2]);
  ops.free(t3);
  const out = ops.reshape(t, [g.ci, g.h, g.w, g.n]);
  ops.free(t);
  return out;
}

/**
 * dW via ONE forward conv with batch and channels swapped: x as [Ci,H,W,N] convolved with dy as a
 * [OH,OW,N,Co] filter, stride 1, dilation = forward stride, giving [Ci,kh,kw,Co].
 */
function filterGradSwapped(ops: WasmOps, x: tf.TensorInfo, dy: tf.TensorInfo, g: Geometry): tf.TensorInfo {
  const xt = batchToBack(ops, x, g);
  const dyt = ops.transpose(dy, [1, 2, 0, 3]);
  // Output rows = H + top + bottom' - (OH-1)*sh must equal kh.
  const bottom = g.kh + (g.oh - 1) * g.sh - g.h - g.top;
  const right = g.kw + (g.ow - 1) * g.sw - g.w - g.left;
  const out = ops.conv2dSignedPads(xt, dyt, [1, 1], [g.sh, g.sw], [g.top, bottom], [g.left, right]);
  ops.free(xt, dyt);
  const dw = ops.transpose(out, [1, 2, 0, 3]);
  ops.free(out);
  return dw;
}

/**
 * dW via im2col + one product, for small kh*kw*Ci: the patches come from a forward conv with a
 * constant one-hot filter [kh,kw,Ci,K] (K = kh*kw*Ci), then dW = patches^T dy.
 */
function filterGradIm2col(ops: WasmOps, x: tf.TensorInfo, dy: tf.TensorInfo, g: Geometry): tf.TensorInfo {
  const k = g.kh * g.kw * g.ci;
  const oneHot = new Float32Array(k * k);
  for (let p = 0; p < k; p++) oneHot[p * k + p] = 1; // filter index (i,j,c) flattens to p = (i*kw+j)*Ci+c
  const filter = ops.fromValues([g.kh, g.kw, g.ci, k], oneHot);
  // Pads implied by the output size (tfjs sizes numeric-pad outputs with the filter HEIGHT for both
  // dims, so padInfo.bottom/right need not match oh/ow); a negative one crops.
  const bottom = (g.oh - 1) * g.sh + g.kh - g.h - g.top;
  const right = (g.ow - 1) * g.sw + g.kw - g.w - g.left;
  const patches = ops.conv2dSignedPads(x, filter, [g.sh, g.sw], [1, 1], [g.top, bottom], [g.left, right]);
  ops.free(filter);
  const m = g.n * g.oh * g.ow;
  const p2 = ops.reshape(patches, [m, k]);
  const dy2 = ops.reshape(dy, [m, g.co]);
  ops.free(patches);
  const dw2 = matMul2d(ops, p2, dy2, true, false);
  ops.free(p2, dy2);
  const dw = ops.reshape(dw2, [g.kh, g.kw, g.ci, g.co]);
  ops.free(dw2);
  return dw;
}

/**
 * dW for a small patch by the SIMD routine of conv-filter-grad-simd.ts, reading patches from x
 * zero-padded so that every window lies inside it. Null where the routine does not apply
 * (float32 only, Co % 4 == 0, WebAssembly SIMD present).
 */
export function filterGradDirect(ops: WasmOps, x: tf.TensorInfo, dy: tf.TensorInfo, g: Geometry): tf.TensorInfo | null {
  if (x.dtype !== 'float32' || dy.dtype !== 'float32' || g.co % 4 !== 0) return null;
  const routine = filterGradFor(wasmMemoryOf(ops.backend));
  if (routine == null) return null;
  // Rows/columns past the last window are never read, so only a positive bottom/right pad is added.
  const bottom = Math.max(0, (g.oh - 1) * g.sh + g.kh - g.h - g.top);
  const right = Math.max(0, (g.ow - 1) * g.sw + g.kw - g.w - g.left);
  const padded = g.top > 0 || g.left > 0 || bottom > 0 || right > 0;
  const xp = padded
    ? ops.pad(x, [
        [0, 0],
        [g.top, bottom],
        [g.left, right],
        [0, 0],
      ])
    : x;
  const hp = g.h + g.top + bottom;
  const wp = g.w + g.left + right;
  const k = g.kh * g.kw * g.ci;
  const k4 = Math.ceil(k / 4) * 4;
  const offs = ops.backend.makeOutput([k4], 'int32');
  const dw = ops.empty([g.kh, g.kw, g.ci, g.co]);
  // Views are taken after the last allocation: an allocation may grow (and replace) the heap.
  const offsView = ops.backend.typedArrayFromHeap(offs as never) as Int32Array;
  offsView.fill(0); // entries past k: any in-bounds offset (their sums are dropped)
  for (let i = 0; i < g.kh; i++) {
    for (let j = 0; j < g.kw; j++) {
      for (let c = 0; c < g.ci; c++) offsView[(i * g.kw + j) * g.ci + c] = ((i * wp + j) * g.ci + c) * 4;
    }
  }
  routine(ops.offset(xp), ops.offset(dy), ops.offset(dw), ops.offset(offs), g.n, g.oh, g.ow, hp, wp, g.ci, g.sh, g.sw, k, g.co);
  ops.free(offs);
  if (xp !== x) ops.free(xp);
  return dw;
}

/** Conv2DBackpropFilter: inputs {x, dy}, attrs {strides, pad, dataFormat, dimRoundingMode, filterShape}. */
export function conv2dBackpropFilterKernel({ inputs, backend, attrs }: KernelArgs): tf.TensorInfo {
  const ops = new WasmOps(backend);
  const nchw = attrs.dataFormat === 'NCHW';
  let x = inputs.x!;
  let dy = inputs.dy!;
  if (nchw) {
    x = ops.transpose(x, toNhwc);
    dy = ops.transpose(dy, toNhwc);
  }
  const g = geometry(x.shape as [number, number, number, number], attrs.filterShape as [number, number, number, number], attrs);
  const useIm2col = g.kh * g.kw * g.ci <= IM2COL_MAX_PATCH;
  const dw = useIm2col ? (filterGradDirect(ops, x, dy, g) ?? filterGradIm2col(ops, x, dy, g)) : filterGradSwapped(ops, x, dy, g);
  if (nchw) ops.free(x, dy);
  return dw;
}

/**
 * The filter [kh,kw,Ci,Co] flipped spatially with in/out channels swapped, [kh,kw,Co,Ci], in one
 * JS pass over the heap: the stock Reverse + Transpose pair cost ~0.5 ms for a 3x3x32x64 filter
 * (Reverse is a generic per-element loop), this ~0.03 ms. Other dtypes take the stock pair.
 */
export function flippedSwappedFilter(ops: WasmOps, filter: tf.TensorInfo): tf.TensorInfo {
  const [kh, kw, ci, co] = filter.shape as [number, number, number, number];
  if (filter.dtype !== 'float32') {
    const flipped = ops.reverse(filter, [0, 1]);
    const swapped = ops.transpose(flipped, [0, 1, 3, 2]);
    ops.free(flipped);
    return swapped;
  }
  const out = ops.empty([kh, kw, co, ci]);
  // Views after the last allocation (an allocation may replace the heap).
  const src = ops.view(filter);
  const dst = ops.view(out);
  for (let i = 0; i < kh; i++) {
    for (let j = 0; j < kw; j++) {
      const from = ((kh - 1 - i) * kw + (kw - 1 - j)) * ci * co;
      const to = (i * kw + j) * co * ci;
      for (let a = 0; a < ci; a++) {
        const row = from + a * co;
        for (let b = 0; b < co; b++) dst[to + b * ci + a] = src[row + b]!;
      }
    }
  }
  return out;
}

/**
 * dX = a forward conv of dy (with s-1 zeros inserted between elements for stride s) with the
 * filter flipped spatially and in/out channels swapped, padded k-1-pad (negative pads crop).
 */
function inputGrad(ops: WasmOps, dy: tf.TensorInfo, filter: tf.TensorInfo, g: Geometry): tf.TensorInfo {
  // Insert zeros: [N,OH,OW,Co] -> [N,OH*sh,OW*sw,Co], each element followed by s-1 zeros.
  let dilated = dy;
  if (g.sh > 1) {
    const r = ops.reshape(dilated, [g.n, g.oh, 1, g.ow * g.co]);
    const p = ops.pad(r, [
      [0, 0],
      [0, 0],
      [0, g.sh - 1],
      [0, 0],
    ]);
    ops.free(r);
    dilated = ops.reshape(p, [g.n, g.oh * g.sh, g.ow, g.co]);
    ops.free(p);
  }
  if (g.sw > 1) {
    const rows = dilated.shape[1]!;
    const r = ops.reshape(dilated, [g.n * rows, g.ow, 1, g.co]);
    const p = ops.pad(r, [
      [0, 0],
      [0, 0],
      [0, g.sw - 1],
      [0, 0],
    ]);
    ops.free(r);
    if (dilated !== dy) ops.free(dilated);
    dilated = ops.reshape(p, [g.n, rows, g.ow * g.sw, g.co]);
    ops.free(p);
  }
  const swapped = flippedSwappedFilter(ops, filter);
  const hd = dilated.shape[1]!;
  const wd = dilated.shape[2]!;
  const top = g.kh - 1 - g.top;
  const left = g.kw - 1 - g.left;
  // Output rows = hd + top + bottom - kh + 1 must equal H.
  const bottom = g.h + g.kh - 1 - hd - top;
  const right = g.w + g.kw - 1 - wd - left;
  const dx = ops.conv2dSignedPads(dilated, swapped, [1, 1], [1, 1], [top, bottom], [left, right]);
  ops.free(swapped);
  if (dilated !== dy) ops.free(dilated);
  return dx;
}

/** Largest column buffer (floats; 256 MB) GEMM + col2im may allocate; beyond it the full conv runs. */
export const COL2IM_MAX_FLOATS = 2 ** 26;

/**
 * Whether dX goes through GEMM + col2im ({@link inputGradCol2im}) rather than the full convolution:
 * the GEMM does N*OH*OW*kh*kw*Ci*Co multiply-adds where the full convolution does N*H*W*kh*kw*Ci*Co
 * (times sh*sw for the inserted zeros), so it pays when the output is clearly smaller than the input
 * (report CNN conv2, 11x11 from 13x13: 9.3 -> ~7 ms on 1 thread). Needs Ci % 4 == 0 (the SIMD routine
 * works four channels at a time) and float32.
 */
export function useCol2im(g: Geometry, dtype: string): boolean {
  if (dtype !== 'float32' || g.ci % 4 !== 0) return false;
  if (g.n * g.oh * g.ow * g.kh * g.kw * g.ci > COL2IM_MAX_FLOATS) return false;
  return g.sh * g.sw > 1 || g.oh * g.ow < 0.85 * g.h * g.w;
}

/**
 * dX = col2im(dy · Wᵀ): the product as a 1x1 forward convolution of dy (XNNPACK packs only the
 * small [Co, kh*kw*Ci] filter), giving the columns [N,OH,OW,kh,kw,Ci], which the SIMD routine
 * scatter-adds into the zeroed dX. Returns null where that routine cannot be compiled.
 */
export function inputGradCol2im(ops: WasmOps, dy: tf.TensorInfo, filter: tf.TensorInfo, g: Geometry): tf.TensorInfo | null {
  const col2im = col2imFor(wasmMemoryOf(ops.backend));
  if (col2im == null) return null;
  const k = g.kh * g.kw * g.ci;
  const w2 = ops.reshape(filter, [k, g.co]);
  const wt = ops.transpose(w2, [1, 0]);
  ops.free(w2);
  const w4 = ops.reshape(wt, [1, 1, g.co, k]);
  ops.free(wt);
  const cols = ops.conv2d(
    dy,
    w4,
    [1, 1],
    [1, 1],
    [
      [0, 0],
      [0, 0],
    ],
  );
  ops.free(w4);
  const dx = ops.empty([g.n, g.h, g.w, g.ci]);
  // The view is taken after the last allocation (an allocation may replace the heap).
  ops.view(dx).fill(0);
  col2im(ops.offset(cols), ops.offset(dx), g.n, g.oh, g.ow, g.kh, g.kw, g.ci, g.h, g.w, g.sh, g.sw, g.top, g.left);
  ops.free(cols);
  return dx;
}

/** Conv2DBackpropInput: inputs {dy, filter}, attrs {strides, pad, dataFormat, dimRoundingMode, inputShape}. */
export function conv2dBackpropInputKernel({ inputs, backend, attrs }: KernelArgs): tf.TensorInfo {
  const ops = new WasmOps(backend);
  const nchw = attrs.dataFormat === 'NCHW';
  const filter = inputs.filter!;
  let dy = inputs.dy!;
  if (nchw) dy = ops.transpose(dy, toNhwc);
  const g = geometry(nhwcShape(attrs.inputShape as number[], nchw), filter.shape as [number, number, number, number], attrs);
  const fast = useCol2im(g, dy.dtype) && filter.dtype === 'float32' ? inputGradCol2im(ops, dy, filter, g) : null;
  const dx = fast ?? inputGrad(ops, dy, filter, g);
  if (!nchw) return dx;
  ops.free(dy);
  const out = ops.transpose(dx, toNchw);
  ops.free(dx);
  return out;
}
