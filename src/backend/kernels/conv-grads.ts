/**
 * Conv2DBackpropFilter (absent on wasm, tensorflow/tfjs#8474) and Conv2DBackpropInput (a scalar C++
 * loop on wasm, #3472), composed from the backend's XNNPACK forward Conv2D, transposes and pads.
 * Pads are always passed explicitly: the wasm Conv2D is wrong for 'same' with stride > kernel (#5907).
 * NCHW data is handled by transposing to NHWC and back (the explicit fallback; slower, correct).
 * The gradient kernels of tfjs 4.22 carry no dilations (tf.conv2d's gradient asserts dilation 1).
 */
import * as tf from '@tensorflow/tfjs';
import { WasmOps } from './ops.js';
import { matMul2d } from './matmul.js';

type ConvGradArgs = {
  inputs: Record<string, tf.TensorInfo>;
  backend: unknown;
  attrs: Record<string, unknown>;
};

/**
 * Largest kh*kw*Ci for which dW goes through im2col + one product (cheaper for first layers).
 * Measured (1 thread, batch 64): report CNN conv1 (3x3x1) 3.9 ms im2col vs 14 ms swapped conv;
 * conv2 (3x3x32 = 288) 20 ms swapped conv vs 94 ms im2col.
 */
export const IM2COL_MAX_PATCH = 27;

interface Geometry {
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

function geometry(
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
 * dW via ONE forward conv with batch and channels swapped: x as [Ci,H,W,N] convolved with dy as a
 * [OH,OW,N,Co] filter, stride 1, dilation = forward stride, giving [Ci,kh,kw,Co].
 */
function filterGradSwapped(ops: WasmOps, x: tf.TensorInfo, dy: tf.TensorInfo, g: Geometry): tf.TensorInfo {
  const xt = ops.transpose(x, [3, 1, 2, 0]);
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

/** Conv2DBackpropFilter: inputs {x, dy}, attrs {strides, pad, dataFormat, dimRoundingMode, filterShape}. */
export function conv2dBackpropFilterKernel({ inputs, backend, attrs }: ConvGradArgs): tf.TensorInfo {
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
  const dw = useIm2col ? filterGradIm2col(ops, x, dy, g) : filterGradSwapped(ops, x, dy, g);
  if (nchw) ops.free(x, dy);
  return dw;
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
    const p = ops.pad(r, [[0, 0], [0, 0], [0, g.sh - 1], [0, 0]]);
    ops.free(r);
    dilated = ops.reshape(p, [g.n, g.oh * g.sh, g.ow, g.co]);
    ops.free(p);
  }
  if (g.sw > 1) {
    const rows = dilated.shape[1]!;
    const r = ops.reshape(dilated, [g.n * rows, g.ow, 1, g.co]);
    const p = ops.pad(r, [[0, 0], [0, 0], [0, g.sw - 1], [0, 0]]);
    ops.free(r);
    if (dilated !== dy) ops.free(dilated);
    dilated = ops.reshape(p, [g.n, rows, g.ow * g.sw, g.co]);
    ops.free(p);
  }
  const flipped = ops.reverse(filter, [0, 1]);
  const swapped = ops.transpose(flipped, [0, 1, 3, 2]);
  ops.free(flipped);
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

/** Conv2DBackpropInput: inputs {dy, filter}, attrs {strides, pad, dataFormat, dimRoundingMode, inputShape}. */
export function conv2dBackpropInputKernel({ inputs, backend, attrs }: ConvGradArgs): tf.TensorInfo {
  const ops = new WasmOps(backend);
  const nchw = attrs.dataFormat === 'NCHW';
  const filter = inputs.filter!;
  let dy = inputs.dy!;
  if (nchw) dy = ops.transpose(dy, toNhwc);
  const g = geometry(nhwcShape(attrs.inputShape as number[], nchw), filter.shape as [number, number, number, number], attrs);
  const dx = inputGrad(ops, dy, filter, g);
  if (!nchw) return dx;
  ops.free(dy);
  const out = ops.transpose(dx, toNchw);
  ops.free(dx);
  return out;
}
