/**
 * Composition helpers for the training kernels: each calls one of the wasm backend's own (stock)
 * kernel functions directly on TensorInfos, without going through the tfjs engine, so nothing is
 * recorded on a gradient tape and every intermediate can be freed at once with `free`.
 */
import * as tf from '@tensorflow/tfjs';
import { asWasmBackend, type WasmBackend } from '../wasm-internals.js';

type Attrs = Record<string, unknown>;

/** The number of elements of a tensor of `shape`. */
export function sizeOf(shape: readonly number[]): number {
  let p = 1;
  for (const d of shape) p *= d;
  return p;
}

/** What tfjs passes a kernel function: its inputs, the backend instance and the attributes. */
export type KernelArgs = {
  inputs: Record<string, tf.TensorInfo>;
  backend: unknown;
  attrs: Attrs;
};
type KernelImpl = (args: { inputs: Record<string, tf.TensorInfo>; backend: unknown; attrs: Attrs }) => tf.TensorInfo;

/** The stock wasm kernel functions, captured before any of ours replaces them (see register.ts). */
const stock = new Map<string, KernelImpl>();

/** Records the stock wasm kernel `name` (no-op when already recorded). Throws if wasm lacks it. */
export function captureStockKernel(name: string): void {
  if (stock.has(name)) return;
  const config = tf.getKernel(name, 'wasm');
  if (config == null) throw new Error(`the wasm backend has no stock kernel '${name}'`);
  stock.set(name, config.kernelFunc as unknown as KernelImpl);
}

/** Whether the stock wasm kernel `name` was captured (see register.ts). */
export function hasStockKernel(name: string): boolean {
  return stock.has(name);
}

/** Kernel-level operations on one wasm backend. */
export class WasmOps {
  /** The wasm backend the kernels run on. */
  readonly backend: WasmBackend;

  /** @param backend the `backend` argument a kernel function receives. */
  constructor(backend: unknown) {
    this.backend = asWasmBackend(backend);
  }

  /** Runs the stock wasm kernel `name`. */
  run(name: string, inputs: Record<string, tf.TensorInfo>, attrs: Attrs = {}): tf.TensorInfo {
    const impl = stock.get(name);
    if (impl == null) throw new Error(`stock wasm kernel '${name}' was not captured`);
    return impl({ inputs, backend: this.backend, attrs });
  }

  /** Releases intermediates (a reshape shares its input's buffer; the refcount handles that). */
  free(...infos: (tf.TensorInfo | null | undefined)[]): void {
    for (const info of infos) if (info != null) this.backend.disposeData(info.dataId);
  }

  /** A view of `x` with another shape (shares the buffer). */
  reshape(x: tf.TensorInfo, shape: number[]): tf.TensorInfo {
    return this.run('Reshape', { x }, { shape });
  }

  /** `x` with its axes permuted (a copy). */
  transpose(x: tf.TensorInfo, perm: number[]): tf.TensorInfo {
    return this.run('Transpose', { x }, { perm });
  }

  /** Zero padding; `paddings[i] = [before, after]`. */
  pad(x: tf.TensorInfo, paddings: [number, number][]): tf.TensorInfo {
    return this.run('PadV2', { x }, { paddings, constantValue: 0 });
  }

  /** The block of `x` starting at `begin` of extent `size`. */
  slice(x: tf.TensorInfo, begin: number[], size: number[]): tf.TensorInfo {
    return this.run('Slice', { x }, { begin, size });
  }

  /** `x` reversed along `dims`. */
  reverse(x: tf.TensorInfo, dims: number[]): tf.TensorInfo {
    return this.run('Reverse', { x }, { dims });
  }

  /** Forward NHWC convolution with explicit pads [[top,bottom],[left,right]] (never 'same': #5907). */
  conv2d(
    x: tf.TensorInfo,
    filter: tf.TensorInfo,
    strides: [number, number],
    dilations: [number, number],
    pads: [[number, number], [number, number]],
  ): tf.TensorInfo {
    return this.run(
      'Conv2D',
      { x, filter },
      {
        strides,
        dilations,
        pad: [[0, 0], pads[0], pads[1], [0, 0]],
        dataFormat: 'NHWC',
        dimRoundingMode: undefined,
      },
    );
  }

  /** A new float32 tensor holding `values`. */
  fromValues(shape: number[], values: Float32Array): tf.TensorInfo {
    return this.backend.makeOutput(shape, 'float32', undefined, values);
  }

  /** A new uninitialised float32 tensor of `shape`. */
  empty(shape: number[]): tf.TensorInfo {
    return this.backend.makeOutput(shape, 'float32');
  }

  /** The byte offset of a tensor's data in the wasm heap (for the SIMD routines). */
  offset(x: tf.TensorInfo): number {
    return this.backend.dataIdMap.get(x.dataId)!.memoryOffset;
  }

  /** A view of a float32 tensor's data in the wasm heap (invalid after the next allocation). */
  view(x: tf.TensorInfo): Float32Array {
    return this.backend.typedArrayFromHeap(x as never) as Float32Array;
  }

  /**
   * Forward NHWC convolution whose pads may be negative: a negative pad crops the input (those rows
   * or columns can never reach the output), a positive one goes to the convolution as an explicit pad.
   */
  conv2dSignedPads(
    x: tf.TensorInfo,
    filter: tf.TensorInfo,
    strides: [number, number],
    dilations: [number, number],
    rows: [number, number],
    cols: [number, number],
  ): tf.TensorInfo {
    const [n, h, w, c] = x.shape as [number, number, number, number];
    const crop = [rows[0], rows[1], cols[0], cols[1]].map((p) => Math.max(0, -p)) as [number, number, number, number];
    let input = x;
    if (crop.some((p) => p > 0)) {
      input = this.slice(x, [0, crop[0], crop[2], 0], [n, h - crop[0] - crop[1], w - crop[2] - crop[3], c]);
    }
    const out = this.conv2d(input, filter, strides, dilations, [
      [Math.max(0, rows[0]), Math.max(0, rows[1])],
      [Math.max(0, cols[0]), Math.max(0, cols[1])],
    ]);
    if (input !== x) this.free(input);
    return out;
  }
}
