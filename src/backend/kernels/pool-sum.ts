/**
 * MaxPoolGrad and buffer-sharing Identity for wasm (Cast lives in cast.ts).
 *
 * The stock wasm MaxPoolGrad is wrong when a window's values are all below ~1e-38 (its running max
 * starts at FLT_MIN, not -inf) and gives ties to the last maximum where `cpu` picks the first; it is
 * also a slow scalar loop (tensorflow/tfjs#7672). This one follows the `cpu` backend exactly: the
 * gradient of each output goes to the FIRST maximum of its window in row-major order (a window of
 * only NaN/-inf passes nothing on). It runs as a WebAssembly SIMD routine (max-pool-grad-simd.ts)
 * when the channel count is a multiple of 4, as a plain JS loop over the wasm heap otherwise.
 */
import * as tf from '@tensorflow/tfjs';
import { WasmOps, type KernelArgs } from './ops.js';
import { wasmMemoryOf } from '../wasm-internals.js';
import { maxPoolGradFor } from './max-pool-grad-simd.js';
import { pool2dInfo } from './max-pool.js';

/** MaxPoolGrad: inputs {dy, input, output}, attrs {filterSize, strides, pad, dimRoundingMode}. */
export function maxPoolGradKernel({ inputs, backend, attrs }: KernelArgs): tf.TensorInfo {
  const ops = new WasmOps(backend);
  const x = inputs.input!;
  const dy = inputs.dy!;
  const info = pool2dInfo(x, attrs);
  const { batchSize: n, inHeight: h, inWidth: w, inChannels: c } = info;
  // dy's own extent: tfjs-core's gradient drops dimRoundingMode, so the recomputed output size can
  // differ from the forward's ('round'/'ceil'); cpu reads dy by its shape, and so do we.
  const [oh, ow] = [dy.shape[1]!, dy.shape[2]!];
  const { filterHeight: fh, filterWidth: fw, strideHeight: sh, strideWidth: sw } = info;
  const top = info.padInfo.top;
  const left = info.padInfo.left;

  const dx = ops.empty(x.shape);
  // Views are taken after the last allocation: an allocation may grow (and replace) the heap.
  const dxv = ops.view(dx);
  const simd = c % 4 === 0 ? maxPoolGradFor(wasmMemoryOf(ops.backend)) : null;
  if (simd != null) {
    if (sh >= fh && sw >= fw) {
      // Disjoint windows write every position they cover; zero the rest only if some is uncovered.
      const covers = (extent: number, pad: number, out: number, stride: number, size: number): boolean =>
        pad <= 0 && stride === size && (out - 1) * stride - pad + size >= extent;
      if (!covers(h, top, oh, sh, fh) || !covers(w, left, ow, sw, fw)) dxv.fill(0);
      const pool2x2 = fh === 2 && fw === 2 && sh === 2 && sw === 2 && top === 0 && left === 0 && 2 * oh <= h && 2 * ow <= w;
      const routine = pool2x2 ? simd.maxPoolGrad2x2 : simd.maxPoolGradDisjoint;
      routine(ops.offset(x), ops.offset(dy), ops.offset(dx), n, h, w, c, oh, ow, fh, fw, sh, sw, top, left);
      return dx;
    }
    dxv.fill(0);
    simd.maxPoolGrad(ops.offset(x), ops.offset(dy), ops.offset(dx), n, h, w, c, oh, ow, fh, fw, sh, sw, top, left);
    return dx;
  }
  dxv.fill(0);
  const xv = ops.view(x);
  const dyv = ops.view(dy);
  const maxVal = new Float32Array(c);
  const maxIdx = new Int32Array(c);
  for (let b = 0; b < n; b++) {
    for (let yr = 0; yr < oh; yr++) {
      const r0 = yr * sh - top;
      const rStart = Math.max(0, r0);
      const rEnd = Math.min(h, r0 + fh);
      for (let yc = 0; yc < ow; yc++) {
        const c0 = yc * sw - left;
        const cStart = Math.max(0, c0);
        const cEnd = Math.min(w, c0 + fw);
        maxVal.fill(-Infinity);
        maxIdx.fill(-1);
        for (let r = rStart; r < rEnd; r++) {
          for (let col = cStart; col < cEnd; col++) {
            const base = ((b * h + r) * w + col) * c;
            for (let d = 0; d < c; d++) {
              const v = xv[base + d]!;
              if (v > maxVal[d]!) {
                maxVal[d] = v;
                maxIdx[d] = base + d;
              }
            }
          }
        }
        const dyBase = ((b * oh + yr) * ow + yc) * c;
        for (let d = 0; d < c; d++) {
          const at = maxIdx[d]!;
          if (at >= 0) dxv[at] = dxv[at]! + dyv[dyBase + d]!;
        }
      }
    }
  }
  return dx;
}

/**
 * Identity shares the input's buffer (reference counted, as the `cpu` backend does) instead of the
 * stock copy: tensors are immutable, and a copy of a conv activation costs ~1 ms per step.
 */
export function identityKernel({ inputs, backend }: KernelArgs): tf.TensorInfo {
  const ops = new WasmOps(backend);
  const x = inputs.x!;
  ops.backend.incRef(x.dataId);
  return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
}
