/**
 * Gradients for two gradient kernels that tfjs 4.22 cannot differentiate, so that double
 * back-propagation (exact Hessian-vector products) works through convolutional networks with max
 * pooling, on every backend (the gradient registry is shared by all backends).
 *
 * - Conv2DBackpropFilter(x, dy) = ∂⟨dy, conv2d(x, W)⟩/∂W is bilinear in (x, dy), so for an upstream
 *   ddW: ∂/∂dy = conv2d(x, ddW) and ∂/∂x = Conv2DBackpropInput(dy, ddW).
 * - MaxPoolGrad(dy, x, y) routes each dy to the argmax of its window: linear in dy, piecewise constant
 *   in x and y. So ∂/∂x = ∂/∂y = 0 (almost everywhere) and ∂/∂dy is the adjoint routing, a gather of
 *   the upstream at each window's argmax. For non-overlapping windows (stride = window size, the
 *   usual pooling) the argmax mask is M = MaxPoolGrad(1, x, y), taken from the backend's own kernel so
 *   that ties go where that kernel sends them, and the gather is the window sum of ddx ⊙ M. Overlapping
 *   windows throw (Hessian-vector products then fall back to central differences).
 *
 * Registering them adds no gradient to any op a first-order step runs, so training is unchanged.
 * MaxPool saves its OUTPUT for MaxPoolGrad, which tfjs mishandles at second order (see hvp.ts); the
 * term it drops is MaxPoolGrad's derivative w.r.t. that output, zero here, so MaxPool is then safe:
 * {@link secondOrderSafeOutputSaver} tells the tape inspection so.
 */
import * as tf from '@tensorflow/tfjs';

type Attrs = Record<string, unknown>;

/** ∂/∂(x, dy) of Conv2DBackpropFilter; inputs {x, dy}. */
const conv2dBackpropFilterGrad: tf.GradConfig = {
  kernelName: 'Conv2DBackpropFilter',
  inputsToSave: ['x', 'dy'],
  gradFunc: (ddw: tf.Tensor | tf.Tensor[], saved: tf.Tensor[], attrs: Attrs) => {
    const [x, dy] = saved as [tf.Tensor4D, tf.Tensor4D];
    const w = ddw as tf.Tensor4D;
    const { strides, pad, dataFormat, dimRoundingMode } = attrs;
    if (dataFormat !== undefined && dataFormat !== 'NHWC') {
      throw new RangeError(`second-order Conv2DBackpropFilter: dataFormat must be 'NHWC', got ${String(dataFormat)}`);
    }
    return {
      x: () =>
        tf.engine().runKernel('Conv2DBackpropInput', { dy, filter: w }, {
          strides,
          pad,
          dataFormat: 'NHWC',
          dimRoundingMode,
          inputShape: x.shape,
        } as unknown as tf.NamedAttrMap) as tf.Tensor,
      dy: () => tf.conv2d(x, w, strides as [number, number], pad as 'valid', 'NHWC', 1, dimRoundingMode as 'floor' | undefined),
    };
  },
};

/** Sum of `t` [n, outH·sh, outW·sw, c] over each sh×sw block: [n, outH, outW, c]. */
function blockSum(t: tf.Tensor4D, outH: number, outW: number, sh: number, sw: number): tf.Tensor4D {
  const [n, , , c] = t.shape;
  return tf.sum(tf.reshape(t, [n, outH, sh, outW, sw, c]), [2, 4]) as tf.Tensor4D;
}

/** ∂/∂(dy, input, output) of MaxPoolGrad; inputs {dy, input, output}. */
const maxPoolGradGrad: tf.GradConfig = {
  kernelName: 'MaxPoolGrad',
  inputsToSave: ['input', 'output'],
  gradFunc: (ddx: tf.Tensor | tf.Tensor[], saved: tf.Tensor[], attrs: Attrs) => {
    const [x, y] = saved as [tf.Tensor4D, tf.Tensor4D];
    const up = ddx as tf.Tensor4D;
    const info = tf.backend_util.computePool2DInfo(
      x.shape,
      attrs.filterSize as [number, number] | number,
      attrs.strides as [number, number] | number,
      1,
      attrs.pad as 'valid' | 'same' | number,
      attrs.dimRoundingMode as 'floor' | undefined,
    );
    const { strideHeight: sh, strideWidth: sw, filterHeight: fh, filterWidth: fw, outHeight, outWidth, padInfo } = info;
    if (sh !== fh || sw !== fw) {
      throw new RangeError(
        `second-order MaxPoolGrad: only non-overlapping windows (strides equal to the pool size) are supported, got pool ${fh}x${fw} with strides ${sh}x${sw}`,
      );
    }
    return {
      dy: () =>
        tf.tidy(() => {
          // Argmax mask by the backend's own routing (ties exactly as its MaxPoolGrad breaks them).
          const mask = tf
            .engine()
            .runKernel('MaxPoolGrad', { dy: tf.onesLike(y), input: x, output: y }, attrs as tf.NamedAttrMap) as tf.Tensor4D;
          let routed = tf.mul(up, mask) as tf.Tensor4D;
          // Bring the rows/columns the windows cover to exactly outHeight·sh × outWidth·sw: zeros for
          // 'same' padding, cropping of the rows/columns 'valid' leaves out.
          const [, h, w] = x.shape;
          const bottom = outHeight * sh - h - padInfo.top;
          const right = outWidth * sw - w - padInfo.left;
          // Only when needed: on wasm a pad or slice that changes nothing still copies the tensor slowly.
          if (padInfo.top > 0 || bottom > 0 || padInfo.left > 0 || right > 0) {
            routed = tf.pad(routed, [
              [0, 0],
              [padInfo.top, Math.max(0, bottom)],
              [padInfo.left, Math.max(0, right)],
              [0, 0],
            ]);
          }
          if (routed.shape[1] !== outHeight * sh || routed.shape[2] !== outWidth * sw) {
            routed = tf.slice(routed, [0, 0, 0, 0], [-1, outHeight * sh, outWidth * sw, -1]);
          }
          return blockSum(routed, outHeight, outWidth, sh, sw);
        }),
      input: () => tf.zerosLike(x),
      output: () => tf.zerosLike(y),
    };
  },
};

const CONFIGS: readonly tf.GradConfig[] = [conv2dBackpropFilterGrad, maxPoolGradGrad];

/**
 * Registers the second-order gradients above (idempotent; a gradient tfjs itself already registers
 * for one of these kernels is left in place). Called when src/sharpness is imported.
 */
export function registerSecondOrderGradients(): void {
  for (const config of CONFIGS) {
    if (tf.getGradient(config.kernelName) == null) tf.registerGradient(config);
  }
}

/**
 * Whether the kernel saves its output for a gradient that is nonetheless differentiated correctly at
 * second order: MaxPool, while the registered MaxPoolGrad gradient is ours (zero w.r.t. that output).
 */
export function secondOrderSafeOutputSaver(kernelName: string): boolean {
  return kernelName === 'MaxPool' && tf.getGradient('MaxPoolGrad') === maxPoolGradGrad;
}

registerSecondOrderGradients();
