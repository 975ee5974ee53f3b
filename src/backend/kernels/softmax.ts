/**
 * Softmax over the last axis for float32 on wasm as a JS loop over the heap. The stock kernel goes
 * through XNNPACK, which in the threaded build wakes the worker thread even for a 64x10 batch of
 * logits: ~0.8 ms per call on 2 threads, against a few microseconds here. Rounding follows the cpu
 * backend's composition (max, x - max, exp, sum, divide, each result a float32).
 */
import type * as tf from '@tensorflow/tfjs';
import { WasmOps, type KernelArgs } from './ops.js';

/** Softmax: inputs {logits}, attrs {dim} (tfjs allows only the last axis). */
export function softmaxKernel({ inputs, backend, attrs }: KernelArgs): tf.TensorInfo {
  const ops = new WasmOps(backend);
  const logits = inputs.logits!;
  const rank = logits.shape.length;
  const dim = attrs.dim as number;
  const lastAxis = rank > 0 && (dim === -1 || dim === rank - 1);
  if (logits.dtype !== 'float32' || !lastAxis) return ops.run('Softmax', inputs, attrs);
  const cols = logits.shape[rank - 1]!;
  const size = logits.shape.reduce((a, b) => a * b, 1);
  const out = ops.empty(logits.shape);
  if (size === 0) return out;
  // Views are taken after the last allocation: an allocation may grow (and replace) the heap.
  const x = ops.view(logits);
  const y = ops.view(out);
  const f = Math.fround;
  for (let base = 0; base < size; base += cols) {
    let max = -Infinity;
    for (let j = 0; j < cols; j++) {
      const v = x[base + j]!;
      if (v > max || Number.isNaN(v)) max = v; // NaN propagates, as in the cpu backend's Max
    }
    let sum = 0;
    for (let j = 0; j < cols; j++) {
      const e = f(Math.exp(f(x[base + j]! - max)));
      y[base + j] = e;
      sum += e;
    }
    const s = f(sum);
    for (let j = 0; j < cols; j++) y[base + j] = y[base + j]! / s;
  }
  return out;
}
