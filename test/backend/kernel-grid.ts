/**
 * The grid of shapes, strides, paddings and channel counts the training kernels are tested on, shared
 * by the wasm kernels' tests (kernels.test.ts) and the native kernels' tests (native-kernels.test.ts)
 * so that both paths are checked against cpu on exactly the same cases.
 */
import { uniform } from './helpers.js';

/** A conv or pool padding as tf.conv2d takes it. */
export type Pad = 'same' | 'valid' | number | [[number, number], [number, number], [number, number], [number, number]];

export const PADS: Pad[] = [
  'same',
  'valid',
  1,
  [
    [0, 0],
    [2, 1],
    [0, 3],
    [0, 0],
  ],
];

export const STRIDES: (number | [number, number])[] = [1, 2, 3, [2, 1]];

/**
 * [batch, height, width, inChannels, kh, kw, outChannels]: direct / im2col (kh*kw*Ci <= 27) and
 * swapped-conv paths, 1x1 kernels (stride > kernel), non-square images and kernels.
 */
export const CONV_SHAPES: [number, number, number, number, number, number, number][] = [
  [2, 9, 9, 1, 3, 3, 4],
  [1, 10, 8, 3, 2, 3, 5],
  [3, 9, 10, 8, 3, 3, 4],
  [2, 7, 7, 5, 1, 1, 3],
  // The direct SIMD dW routine (kh*kw*Ci <= 27, Co % 4 == 0): pairs of channel vectors plus a last
  // single one, patch sizes that are and are not multiples of 4.
  [2, 9, 9, 1, 3, 3, 12],
  [2, 8, 7, 2, 2, 2, 8],
];

/** [batch, height, width, inChannels (multiple of 4), kh, kw, outChannels] of the GEMM + col2im dX path. */
export const COL2IM_SHAPES: [number, number, number, number, number, number, number][] = [
  [2, 9, 9, 4, 3, 3, 5],
  [1, 10, 8, 8, 2, 3, 1],
  [3, 7, 9, 12, 4, 2, 3],
  [2, 6, 6, 4, 1, 1, 6],
];

export const COL2IM_STRIDES: (number | [number, number])[] = [1, 2, 3, [2, 1], [1, 3]];

/** Max-pool inputs: both signs, all negative, below FLT_MIN, and many ties. */
export const POOL_INPUTS: Record<string, (size: number, seed: number) => Float32Array> = {
  'both signs': (s, seed) => uniform(s, seed),
  'all negative': (s, seed) => uniform(s, seed, -2, -1),
  'tiny negative (below FLT_MIN)': (s, seed) => uniform(s, seed, -1, -0.5).map((v) => v * 1e-39),
  // Values from {-1, 0, 1}: many ties; the gradient must go to the FIRST maximum like cpu.
  ties: (s, seed) => uniform(s, seed, -1.5, 1.5).map((v) => Math.round(v)),
};

/** [input shape, window, strides, pad] */
export const POOL_CONFIGS: [number[], number | [number, number], number | [number, number], 'same' | 'valid' | number][] = [
  [[2, 8, 8, 3], 2, 2, 'valid'],
  [[2, 9, 9, 4], 3, 2, 'same'],
  [[1, 9, 7, 5], 2, 3, 'same'],
  [[3, 6, 6, 2], 3, 1, 'valid'],
  [[2, 7, 9, 8], [3, 2], [1, 2], 1],
  [[2, 6, 6, 32], 2, 2, 'valid'],
  // Non-overlapping windows (stride >= window) with Ci % 4 == 0 (the SIMD routine), with
  // padding, gaps between windows and positions in no window.
  [[2, 5, 5, 12], 2, 2, 'valid'],
  [[2, 7, 9, 8], 2, 3, 'same'],
  [[1, 9, 7, 4], [2, 3], [2, 3], 'same'],
  [[2, 8, 7, 4], [3, 2], [3, 2], 'valid'],
  [[2, 7, 7, 4], 2, 2, 1],
];

/** [a shape, b shape, transposeA, transposeB] */
export const MATMUL_SHAPES: [number[], number[], boolean, boolean][] = [
  [[5, 7], [7, 3], false, false],
  [[7, 5], [7, 3], true, false],
  [[5, 7], [3, 7], false, true],
  [[7, 5], [3, 7], true, true],
  [[64, 40], [64, 12], true, false], // dense dW: x^T dy
  [[64, 12], [40, 12], false, true], // dense dX: dy W^T
  [[64, 3], [64, 100], true, false], // picks the swapped form
  [[1, 7, 5], [1, 3, 7], true, true],
  [[2, 7, 5], [2, 7, 3], true, false], // batched: stock fallback
];
