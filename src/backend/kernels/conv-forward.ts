/**
 * Conv2D / FusedConv2D for wasm with explicit pads. The stock kernels hand 'same' padding to
 * XNNPACK as a flag, which is wrong when the stride exceeds the kernel (tensorflow/tfjs#5907,
 * #8405), and size their output buffer from tfjs's shape arithmetic while XNNPACK computes its own
 * (the two differ for a numeric pad with a non-square filter or stride, which overruns the buffer).
 * Here the pads are derived from tfjs's output shape and passed explicitly, a negative one cropping
 * the input, so the stock kernel and the `cpu` backend agree. NCHW goes to the stock kernel (which
 * rejects it with its own message).
 */
import * as tf from '@tensorflow/tfjs';
import { WasmOps, type KernelArgs } from './ops.js';

function forward(kernelName: 'Conv2D' | 'FusedConv2D', { inputs, backend, attrs }: KernelArgs): tf.TensorInfo {
  const ops = new WasmOps(backend);
  const x = inputs.x!;
  const filter = inputs.filter!;
  if (attrs.dataFormat === 'NCHW') return ops.run(kernelName, inputs, attrs);
  const info = tf.backend_util.computeConv2DInfo(
    x.shape as [number, number, number, number],
    filter.shape as [number, number, number, number],
    attrs.strides as [number, number] | number,
    attrs.dilations as [number, number] | number,
    attrs.pad as 'same' | 'valid' | number,
    attrs.dimRoundingMode as 'floor' | 'round' | 'ceil' | undefined,
    false,
    'channelsLast',
  );
  const { inHeight: h, inWidth: w, outHeight: oh, outWidth: ow, strideHeight: sh, strideWidth: sw } = info;
  const effH = (info.filterHeight - 1) * info.dilationHeight + 1;
  const effW = (info.filterWidth - 1) * info.dilationWidth + 1;
  const top = info.padInfo.top;
  const left = info.padInfo.left;
  const bottom = (oh - 1) * sh + effH - h - top;
  const right = (ow - 1) * sw + effW - w - left;
  let input = x;
  if (bottom < 0 || right < 0) {
    const [n, , , c] = x.shape as [number, number, number, number];
    input = ops.slice(x, [0, 0, 0, 0], [n, h + Math.min(0, bottom), w + Math.min(0, right), c]);
  }
  const pad = [
    [0, 0],
    [top, Math.max(0, bottom)],
    [left, Math.max(0, right)],
    [0, 0],
  ];
  const out = ops.run(kernelName, { ...inputs, x: input }, { ...attrs, pad, dimRoundingMode: undefined });
  if (input !== x) ops.free(input);
  return out;
}

/** Conv2D with explicit pads (see the module comment). */
export function conv2dKernel(args: KernelArgs): tf.TensorInfo {
  return forward('Conv2D', args);
}

/** FusedConv2D with explicit pads (see the module comment). */
export function fusedConv2dKernel(args: KernelArgs): tf.TensorInfo {
  return forward('FusedConv2D', args);
}
