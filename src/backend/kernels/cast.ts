/**
 * Cast for wasm: shares the buffer for a same-dtype cast and gives `cpu`'s `x != 0` for a cast to
 * bool.
 *
 * The stock kernel copies with a typed-array `set`, which converts to bool with ToUint8 (truncation
 * modulo 256): 0.5 -> 0, -1 -> 255, 256 -> 0, NaN -> 0, where `cpu` gives `x != 0` as 0/1
 * (NaN -> 1, -0 -> 0). A cast to bool here is the stock `NotEqual` against a scalar zero of the
 * input's dtype. The other conversions (float32 <-> int32, bool -> float32/int32) already agree with
 * `cpu` (both truncate with ToInt32 / convert exactly) and go to the stock kernel.
 */
import * as tf from '@tensorflow/tfjs';
import { WasmOps, type KernelArgs } from './ops.js';

/**
 * Cast: a cast to the tensor's own dtype shares its buffer (reference counted) instead of the stock
 * copy; the ReLU gradient casts its float32 step mask to float32 (~0.3 ms per step for the report
 * CNN). float32/int32 -> bool is `x != 0`; every other conversion goes to the stock kernel.
 */
export function castKernel({ inputs, backend, attrs }: KernelArgs): tf.TensorInfo {
  const ops = new WasmOps(backend);
  const x = inputs.x!;
  if (attrs.dtype === x.dtype) {
    ops.backend.incRef(x.dataId);
    return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
  }
  if (attrs.dtype === 'bool' && (x.dtype === 'float32' || x.dtype === 'int32')) {
    // A fresh output's memory is not cleared, so the scalar zero is written explicitly.
    const zero = ops.backend.makeOutput([], x.dtype);
    ops.backend.typedArrayFromHeap(zero as never).fill(0);
    const out = ops.run('NotEqual', { a: x, b: zero }, {});
    ops.free(zero);
    return out;
  }
  return ops.run('Cast', inputs, attrs);
}
