/**
 * tfjs kernels for the wasm backend that run on the native addon (src/backend/native.ts): the
 * convolutions and their gradients, matrix products, max pooling, and the element-wise kernels of
 * large activations (bias add, ReLU and its gradient, bias-gradient sums), computed by oneDNN (or,
 * for pooling and the element-wise ones, by plain C++) IN PLACE on the wasm backend's memory: the
 * inputs are read where the backend holds them and the outputs written into tensors it allocated,
 * no copies.
 *
 * Each kernel covers float32 NHWC data; anything else (NCHW, other dtypes, activations other than
 * linear/ReLU, broadcasts the addon does not take, pads oneDNN refuses, element-wise work on small
 * tensors) goes to flatminima's wasm kernel of the same name, which is also what `--backend wasm` runs.
 */
import * as tf from '@tensorflow/tfjs';
import { sizeOf, WasmOps, type KernelArgs } from './kernels/ops.js';
import { wasmMemoryOf } from './wasm-internals.js';
import { conv2dKernel, fusedConv2dKernel } from './kernels/conv-forward.js';
import { conv2dBackpropFilterKernel, conv2dBackpropInputKernel, geometry, type Geometry } from './kernels/conv-grads.js';
import { batchMatMulKernel, fusedMatMulKernel } from './kernels/matmul.js';
import { maxPoolGradKernel } from './kernels/pool-sum.js';
import { maxPoolKernel, pool2dInfo } from './kernels/max-pool.js';
import { registerWasmTrainingKernels } from './kernels/register.js';
import { addKernel, multiplyKernel, RELU_GRAD_KERNEL, reluGradKernel, reluKernel, stepKernel, sumKernel } from './kernels/elementwise.js';
import type { NativeAddon } from './native.js';

type Kernel = (args: KernelArgs) => tf.TensorInfo;

/** The addon the registered kernels call (set by {@link registerNativeKernels}). */
let addon: NativeAddon | null = null;

let heapBuffer: ArrayBufferLike | null = null;
let heapView = new Uint8Array(0);

/**
 * A Uint8Array over the backend's memory, made afresh when the memory has grown (growing replaces
 * the buffer and detaches the old one). Call after the kernel's last allocation.
 */
function heapOf(ops: WasmOps): Uint8Array {
  const buffer = wasmMemoryOf(ops.backend).buffer;
  if (buffer !== heapBuffer) {
    heapBuffer = buffer;
    heapView = new Uint8Array(buffer);
  }
  return heapView;
}

function native(): NativeAddon {
  if (addon == null) throw new Error('flatminima native kernels called before registerNativeKernels()');
  return addon;
}

const PLAIN = 0;
const BLOCKED = 1;

/**
 * Which memory layout oneDNN works in for a convolution: its own blocked layout (reordering the
 * NHWC / HWIO buffers in and out), or the tfjs buffers as they are. Measured at 1 thread on the
 * 2-core dev machine (AVX-512), reorders included, CPU ms plain -> blocked (forward, backward data,
 * backward weights): the report CNN's conv1 (64x28x28x1 -> 32) 0.42 -> 0.26, 1.4 -> 2.7, 0.52 -> 0.36;
 * conv2 (64x13x13x32 -> 64) 3.5 -> 1.4, 1.9 -> 1.6, 2.3 -> 1.7; 64x13x13x8 -> 16 0.40 -> 0.14,
 * 0.36 -> 0.23, 0.31 -> 0.23. So blocked, except for the backward data of very few input channels.
 */
function layoutFor(kind: 'forward' | 'data' | 'weights', ci: number): number {
  if (layoutMode !== 'auto') return layoutMode === 'blocked' ? BLOCKED : PLAIN;
  return kind === 'data' && ci < 8 ? PLAIN : BLOCKED;
}

/** How the convolutions choose their layout: per shape (see layoutFor), or always one of the two. */
export type NativeConvLayout = 'auto' | 'plain' | 'blocked';

let layoutMode: NativeConvLayout = 'auto';

/**
 * Makes every native convolution use one layout ('plain' or 'blocked'), or choose per shape again
 * ('auto', the default): for tests (both layouts on every shape) and benchmarks.
 * @throws RangeError for another value.
 */
export function setNativeConvLayout(mode: NativeConvLayout): void {
  if (mode !== 'auto' && mode !== 'plain' && mode !== 'blocked') {
    throw new RangeError(`setNativeConvLayout: mode must be 'auto', 'plain' or 'blocked', got ${JSON.stringify(mode)}`);
  }
  layoutMode = mode;
}

/** The 17 geometry arguments of the addon's convolutions, in its order. */
function convArgs(g: Geometry & { dh: number; dw: number }, bottom: number, right: number): number[] {
  return [g.n, g.h, g.w, g.ci, g.kh, g.kw, g.co, g.oh, g.ow, g.sh, g.sw, g.dh, g.dw, g.top, bottom, g.left, right];
}

/**
 * The bottom and right pads that make oneDNN's output size `(in + pads - effective kernel) / stride + 1`
 * equal tfjs's, or null where oneDNN refuses them (a pad of -stride or less: tfjs's numeric-pad sizing
 * of non-square cases can leave more unused rows than a stride).
 */
function endPads(g: Geometry, effH: number, effW: number): [number, number] | null {
  const bottom = (g.oh - 1) * g.sh + effH - g.h - g.top;
  const right = (g.ow - 1) * g.sw + effW - g.w - g.left;
  return bottom > -g.sh && right > -g.sw ? [bottom, right] : null;
}

function isFloat(...xs: (tf.TensorInfo | undefined)[]): boolean {
  return xs.every((x) => x == null || x.dtype === 'float32');
}

/** Conv2D / FusedConv2D (linear or ReLU, bias [Co] or none) forward on oneDNN. */
function forward(kernelName: 'Conv2D' | 'FusedConv2D', fallback: Kernel): Kernel {
  return (args) => {
    const { inputs, attrs } = args;
    const x = inputs.x!;
    const filter = inputs.filter!;
    const bias = inputs.bias;
    const fused = kernelName === 'FusedConv2D';
    if (attrs.dataFormat === 'NCHW' || !isFloat(x, filter, bias)) return fallback(args);
    if (fused && (inputs.preluActivationWeights != null || (attrs.activation !== 'linear' && attrs.activation !== 'relu')))
      return fallback(args);
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
    const g: Geometry & { dh: number; dw: number } = {
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
      dh: info.dilationHeight,
      dw: info.dilationWidth,
    };
    if (bias != null && (bias.shape.length !== 1 || bias.shape[0] !== g.co)) return fallback(args);
    const pads = endPads(g, info.effectiveFilterHeight, info.effectiveFilterWidth);
    if (pads == null || sizeOf(info.outShape) === 0 || sizeOf(x.shape) === 0) return fallback(args);
    const ops = new WasmOps(args.backend);
    const y = ops.empty(info.outShape);
    const relu = fused && attrs.activation === 'relu' ? 1 : 0;
    native().conv2d(
      heapOf(ops),
      ops.offset(x),
      ops.offset(filter),
      bias == null ? -1 : ops.offset(bias),
      ops.offset(y),
      ...convArgs(g, ...pads),
      relu,
      layoutFor('forward', g.ci),
    );
    return y;
  };
}

/** Conv2DBackpropInput on oneDNN's backward-data convolution. */
function backpropInput(args: KernelArgs): tf.TensorInfo {
  const { inputs, attrs } = args;
  const dy = inputs.dy!;
  const filter = inputs.filter!;
  if (attrs.dataFormat === 'NCHW' || !isFloat(dy, filter)) return conv2dBackpropInputKernel(args);
  const g = geometry(attrs.inputShape as [number, number, number, number], filter.shape as [number, number, number, number], attrs);
  const pads = endPads(g, g.kh, g.kw);
  if (pads == null || sizeOf(dy.shape) === 0 || g.n * g.h * g.w * g.ci === 0) return conv2dBackpropInputKernel(args);
  const ops = new WasmOps(args.backend);
  const dx = ops.empty([g.n, g.h, g.w, g.ci]);
  native().conv2dBackpropInput(
    heapOf(ops),
    ops.offset(dy),
    ops.offset(filter),
    ops.offset(dx),
    ...convArgs({ ...g, dh: 1, dw: 1 }, ...pads),
    layoutFor('data', g.ci),
  );
  return dx;
}

/** Conv2DBackpropFilter on oneDNN's backward-weights convolution. */
function backpropFilter(args: KernelArgs): tf.TensorInfo {
  const { inputs, attrs } = args;
  const x = inputs.x!;
  const dy = inputs.dy!;
  if (attrs.dataFormat === 'NCHW' || !isFloat(x, dy)) return conv2dBackpropFilterKernel(args);
  const filterShape = attrs.filterShape as [number, number, number, number];
  const g = geometry(x.shape as [number, number, number, number], filterShape, attrs);
  const pads = endPads(g, g.kh, g.kw);
  if (pads == null || sizeOf(dy.shape) === 0 || sizeOf(x.shape) === 0) return conv2dBackpropFilterKernel(args);
  const ops = new WasmOps(args.backend);
  const dw = ops.empty(filterShape);
  native().conv2dBackpropFilter(
    heapOf(ops),
    ops.offset(x),
    ops.offset(dy),
    ops.offset(dw),
    -1,
    ...convArgs({ ...g, dh: 1, dw: 1 }, ...pads),
    layoutFor('weights', g.ci),
  );
  return dw;
}

/** The batch of a product whose batch dims are equal, or all 1 on one side; null for other broadcasts. */
function batchPlan(a: tf.TensorInfo, b: tf.TensorInfo): { count: number; aShared: boolean; bShared: boolean; outBatch: number[] } | null {
  if (a.shape.length < 2 || b.shape.length < 2) return null;
  const rank = Math.max(a.shape.length, b.shape.length) - 2;
  const lead = (shape: number[]): number[] => [...new Array<number>(rank - (shape.length - 2)).fill(1), ...shape.slice(0, -2)];
  const [ba, bb] = [lead(a.shape), lead(b.shape)];
  const [ca, cb] = [sizeOf(ba), sizeOf(bb)];
  if (ca === 1) return { count: cb, aShared: cb > 1, bShared: false, outBatch: bb };
  if (cb === 1) return { count: ca, aShared: false, bShared: true, outBatch: ba };
  if (ba.every((d, i) => d === bb[i])) return { count: ca, aShared: false, bShared: false, outBatch: ba };
  return null;
}

const BIAS_NONE = 0;
const BIAS_PER_COLUMN = 1;
const BIAS_SCALAR = 2;

/** A fused bias as the addon takes it: per output column ([n] or [1, n]), one scalar, or not covered (null). */
function biasMode(bias: tf.TensorInfo | undefined, n: number): number | null {
  if (bias == null) return BIAS_NONE;
  if (bias.shape.length > 2) return null;
  const size = sizeOf(bias.shape);
  if (size === 1) return BIAS_SCALAR;
  if (size === n && bias.shape[bias.shape.length - 1] === n) return BIAS_PER_COLUMN;
  return null;
}

/**
 * Products of at most this many multiply-adds (all of the MLP's) stay on the wasm kernels' small
 * SIMD routine, which is as fast there: the addon's call holds signals back around oneDNN (see
 * native/src/addon.cc), two system calls that cost ~2.5 us on the 2-core dev machine, against
 * 0.6-1.3 us for sgemm itself and 0.6-3.5 us for the wasm routine at m64 k2..32 n32.
 */
export const NATIVE_MATMUL_MIN_MACS = 1 << 16;

/** C = op(A) op(B) (+ bias) (then ReLU) through the addon's sgemm, or null where it does not apply. */
function matMul(args: KernelArgs, fused: boolean): tf.TensorInfo | null {
  const { inputs, attrs } = args;
  const { a, b, bias } = inputs as { a: tf.TensorInfo; b: tf.TensorInfo; bias?: tf.TensorInfo };
  if (!isFloat(a, b, bias)) return null;
  if (fused && (inputs.preluActivationWeights != null || (attrs.activation !== 'linear' && attrs.activation !== 'relu'))) return null;
  const plan = batchPlan(a, b);
  if (plan == null) return null;
  const ta = attrs.transposeA === true;
  const tb = attrs.transposeB === true;
  const [ar, ac] = a.shape.slice(-2) as [number, number];
  const [br, bc] = b.shape.slice(-2) as [number, number];
  const [m, k, n] = [ta ? ac : ar, ta ? ar : ac, tb ? br : bc];
  if ((tb ? bc : br) !== k) return null; // mismatched inner dims: the fallback reports them
  if (plan.count * m * k * n <= limits.matMulMinMacs) return null;
  const mode = fused ? biasMode(bias, n) : BIAS_NONE;
  if (mode == null) return null;
  const ops = new WasmOps(args.backend);
  const c = ops.empty([...plan.outBatch, m, n]);
  if (plan.count * m * n === 0) return c;
  const relu = fused && attrs.activation === 'relu' ? 1 : 0;
  native().matMul(
    heapOf(ops),
    ops.offset(a),
    ops.offset(b),
    ops.offset(c),
    mode === BIAS_NONE ? -1 : ops.offset(bias!),
    mode,
    relu,
    m,
    k,
    n,
    plan.count,
    ta ? 1 : 0,
    tb ? 1 : 0,
    plan.aShared ? 1 : 0,
    plan.bShared ? 1 : 0,
  );
  return c;
}

/** MaxPool as tfjs's cpu backend computes it (NaN skipped, -Infinity for a window with nothing else). */
function maxPool(args: KernelArgs): tf.TensorInfo {
  const x = args.inputs.x!;
  if (!isFloat(x)) return maxPoolKernel(args);
  const info = pool2dInfo(x, args.attrs);
  const ops = new WasmOps(args.backend);
  // As on cpu: a 1x1 window whose output shape equals the input's returns the input.
  if (info.filterHeight === 1 && info.filterWidth === 1 && tf.util.arraysEqual(info.outShape, x.shape)) {
    ops.backend.incRef(x.dataId);
    return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
  }
  const y = ops.empty(info.outShape);
  if (sizeOf(info.outShape) === 0) return y;
  native().maxPool(heapOf(ops), ops.offset(x), ops.offset(y), ...poolArgs(info, info.outHeight, info.outWidth));
  return y;
}

function poolArgs(info: tf.backend_util.Conv2DInfo, oh: number, ow: number): number[] {
  return [
    info.batchSize,
    info.inHeight,
    info.inWidth,
    info.inChannels,
    oh,
    ow,
    info.filterHeight,
    info.filterWidth,
    info.strideHeight,
    info.strideWidth,
    info.padInfo.top,
    info.padInfo.left,
  ];
}

/** MaxPoolGrad: each output's gradient to the first maximum of its window, as on cpu. */
function maxPoolGrad(args: KernelArgs): tf.TensorInfo {
  const x = args.inputs.input!;
  const dy = args.inputs.dy!;
  if (!isFloat(x, dy)) return maxPoolGradKernel(args);
  const info = pool2dInfo(x, args.attrs);
  const ops = new WasmOps(args.backend);
  const dx = ops.empty(x.shape);
  if (sizeOf(x.shape) === 0) return dx;
  // dy's own extent (tfjs-core's gradient drops dimRoundingMode; cpu reads dy by its shape).
  native().maxPoolGrad(heapOf(ops), ops.offset(x), ops.offset(dy), ops.offset(dx), ...poolArgs(info, dy.shape[1]!, dy.shape[2]!));
  return dx;
}

/**
 * Fewest elements for which an element-wise kernel runs natively. Smaller tensors (all of the MLP's)
 * stay on the wasm routines: there the work is a few microseconds either way and the native rounding
 * of sums would change results for no gain.
 */
export const NATIVE_ELEMENTWISE_MIN = 1 << 15;

/** The sizes from which the matrix products and the element-wise kernels run natively. */
export interface NativeSizeLimits {
  /** Products of more multiply-adds than this run natively (default {@link NATIVE_MATMUL_MIN_MACS}). */
  matMulMinMacs: number;
  /** Element-wise kernels of at least this many elements run natively (default {@link NATIVE_ELEMENTWISE_MIN}). */
  elementwiseMin: number;
}

const limits: NativeSizeLimits = { matMulMinMacs: NATIVE_MATMUL_MIN_MACS, elementwiseMin: NATIVE_ELEMENTWISE_MIN };

/**
 * Changes which sizes run natively, for tests (0 and 0: every size, to check the native kernels on
 * small shapes too) and benchmarks; {@link resetNativeSizeLimits} restores the defaults.
 * @throws RangeError for a limit that is not a non-negative integer.
 */
export function setNativeSizeLimits(next: Partial<NativeSizeLimits>): void {
  for (const [key, value] of Object.entries(next)) {
    if (key !== 'matMulMinMacs' && key !== 'elementwiseMin') throw new RangeError(`setNativeSizeLimits: unknown limit '${key}'`);
    if (!Number.isInteger(value) || (value as number) < 0) {
      throw new RangeError(`setNativeSizeLimits: ${key} must be a non-negative integer, got ${JSON.stringify(value)}`);
    }
  }
  Object.assign(limits, next);
}

/** Restores the default size limits. */
export function resetNativeSizeLimits(): void {
  limits.matMulMinMacs = NATIVE_MATMUL_MIN_MACS;
  limits.elementwiseMin = NATIVE_ELEMENTWISE_MIN;
}

const ADD = 0;
const MUL = 2;

/** Relu / Step on the addon for large float32 tensors. */
function unary(kind: 'relu' | 'step', fallback: Kernel): Kernel {
  return (args) => {
    const x = args.inputs.x!;
    const n = sizeOf(x.shape);
    if (x.dtype !== 'float32' || n === 0 || n < limits.elementwiseMin) return fallback(args);
    const ops = new WasmOps(args.backend);
    const y = ops.empty(x.shape);
    if (kind === 'relu') native().relu(heapOf(ops), ops.offset(x), ops.offset(y), n);
    else native().step(heapOf(ops), ops.offset(x), ops.offset(y), n, (args.attrs.alpha as number | undefined) ?? 0);
    return y;
  };
}

/** FlatminimaReluGrad (dy * step(y)) on the addon for large float32 operands of one shape. */
function reluGrad(args: KernelArgs): tf.TensorInfo {
  const { dy, y } = args.inputs as { dy: tf.TensorInfo; y: tf.TensorInfo };
  const n = sizeOf(y.shape);
  if (!isFloat(dy, y) || !sameShape(dy.shape, y.shape) || n === 0 || n < limits.elementwiseMin) return reluGradKernel(args);
  const ops = new WasmOps(args.backend);
  const out = ops.empty(y.shape);
  native().reluGrad(heapOf(ops), ops.offset(dy), ops.offset(y), ops.offset(out), n);
  return out;
}

function sameShape(a: number[], b: number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

/**
 * How `small` broadcasts against `full` as a row: ones (or nothing) on the leading axes, then equal
 * to `full` on the trailing ones; the length of that trailing block, or null for another broadcast.
 */
function rowBlock(small: number[], full: number[]): number | null {
  const padded = [...new Array<number>(full.length - small.length).fill(1), ...small];
  let i = full.length;
  while (i > 0 && padded[i - 1] === full[i - 1]) i--;
  if (!padded.slice(0, i).every((d) => d === 1)) return null;
  return sizeOf(full.slice(i));
}

/**
 * Add / Multiply on the addon for a large float32 row broadcast (a bias over activations). Operands
 * of the same shape and scalar factors stay on the wasm SIMD routines, which are faster there:
 * measured on the 2-core dev machine (AVX-512), microseconds per call native -> wasm, at 1 and 2
 * threads: [1600,128] + same 54 -> 33 and 61 -> 37; [64,26,26,32] * same 235 -> 175 and 192 -> 194;
 * [1600,128] * scalar 200 -> 29 and 165 -> 35 (the addon made 204,800 rows of one column); the bias
 * add [64,26,26,32] + [32] 250 -> 201 and 192 -> 218 (native kept: it gains with threads).
 */
function binary(op: number, fallback: Kernel): Kernel {
  return (args) => {
    const { a, b } = args.inputs as { a: tf.TensorInfo; b: tf.TensorInfo };
    if (a.dtype !== 'float32' || b.dtype !== 'float32') return fallback(args);
    const shape = tf.backend_util.assertAndGetBroadcastShape(a.shape, b.shape);
    const n = sizeOf(shape);
    if (n === 0 || n < limits.elementwiseMin || sameShape(a.shape, b.shape)) return fallback(args);
    const aFull = sameShape(a.shape, shape);
    if (!aFull && !sameShape(b.shape, shape)) return fallback(args);
    const [full, small] = aFull ? [a, b] : [b, a];
    const cols = rowBlock(small.shape, shape);
    // One column is a scalar factor: the addon would make one pass of one element per row.
    if (cols == null || cols <= 1) return fallback(args);
    const ops = new WasmOps(args.backend);
    const y = ops.empty(shape);
    // Add and Multiply commute: the full operand always goes first.
    native().binary(heapOf(ops), op, ops.offset(full), ops.offset(small), ops.offset(y), n / cols, cols, 1, 0);
    return y;
  };
}

/** Sum over a run of leading axes (a bias gradient) of a large float32 tensor on the addon. */
function sum(args: KernelArgs): tf.TensorInfo {
  const x = args.inputs.x!;
  const rank = x.shape.length;
  const n = sizeOf(x.shape);
  if (x.dtype !== 'float32' || n === 0 || n < limits.elementwiseMin) return sumKernel(args);
  const axis = args.attrs.axis;
  const list = axis == null ? [...Array(rank).keys()] : Array.isArray(axis) ? (axis as number[]) : [axis as number];
  const axes = [...new Set(list.map((v) => (v < 0 ? v + rank : v)))].sort((p, q) => p - q);
  // A run of leading axes that leaves some axis: rows = the reduced extent, cols = the rest.
  if (axes.length === 0 || axes.length >= rank || !axes.every((v, i) => v === i)) return sumKernel(args);
  const rows = sizeOf(x.shape.slice(0, axes.length));
  const kept = x.shape.slice(axes.length);
  const ops = new WasmOps(args.backend);
  const y = ops.empty(args.attrs.keepDims === true ? [...new Array<number>(axes.length).fill(1), ...kept] : kept);
  native().columnSums(heapOf(ops), ops.offset(x), ops.offset(y), rows, sizeOf(kept));
  return y;
}

/** Our native kernels, by tfjs kernel name. */
const NATIVE_KERNELS: Record<string, Kernel> = {
  Conv2D: forward('Conv2D', conv2dKernel),
  FusedConv2D: forward('FusedConv2D', fusedConv2dKernel),
  Conv2DBackpropInput: backpropInput,
  Conv2DBackpropFilter: backpropFilter,
  BatchMatMul: (args) => matMul(args, false) ?? batchMatMulKernel(args),
  _FusedMatMul: (args) => matMul(args, true) ?? fusedMatMulKernel(args),
  MaxPool: maxPool,
  MaxPoolGrad: maxPoolGrad,
  Relu: unary('relu', reluKernel),
  Step: unary('step', stepKernel),
  [RELU_GRAD_KERNEL]: reluGrad,
  Add: binary(ADD, addKernel),
  Multiply: binary(MUL, multiplyKernel),
  Sum: sum,
};

/** Names of the kernels {@link registerNativeKernels} installs. */
export const NATIVE_KERNEL_NAMES: readonly string[] = Object.keys(NATIVE_KERNELS);

/**
 * Installs the native kernels for backend 'wasm' over flatminima's wasm kernels (which are
 * registered first and stay the fallback). {@link registerWasmTrainingKernels} puts the pure wasm
 * kernels back. Returns the names of all kernels now ours (wasm and native).
 */
export function registerNativeKernels(nativeAddon: NativeAddon): string[] {
  const all = registerWasmTrainingKernels();
  addon = nativeAddon;
  for (const [name, kernelFunc] of Object.entries(NATIVE_KERNELS)) {
    const current = tf.getKernel(name, 'wasm');
    tf.unregisterKernel(name, 'wasm');
    // Keep the setup function of the kernel replaced: tfjs runs it when a backend instance starts.
    tf.registerKernel({
      kernelName: name,
      backendName: 'wasm',
      kernelFunc: kernelFunc as unknown as tf.KernelFunc,
      setupFunc: current?.setupFunc,
    });
  }
  return all;
}

/** Whether the native kernels are the ones registered for 'wasm' now. */
export function nativeKernelsRegistered(): boolean {
  return Object.entries(NATIVE_KERNELS).every(([name, f]) => tf.getKernel(name, 'wasm')?.kernelFunc === (f as unknown));
}
