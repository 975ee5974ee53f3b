/**
 * The few internals of `@tensorflow/tfjs-backend-wasm` 4.22.0 that the training kernels and the
 * threaded loader rely on, typed in one place and checked against the pinned version. The package's
 * public types do not expose them (the kernels of the package itself use them the same way).
 * test/backend/internals.test.ts guards every member listed here.
 */
import * as tf from '@tensorflow/tfjs';

/** The exact tfjs versions whose internals this module was written against. */
export const PINNED_TFJS_VERSION = '4.22.0';

/** Per-tensor record the wasm backend keeps in its DataStorage. */
export interface WasmTensorData {
  id: number;
  memoryOffset: number;
  shape: number[];
  dtype: tf.DataType;
  refCount: number;
}

/** The Emscripten module of the wasm backend, as far as we use it. */
export interface WasmModule {
  HEAPU8: Uint8Array;
  HEAPF32: Float32Array;
  PThread?: { runningWorkers: WorkerLike[]; unusedWorkers: WorkerLike[] };
  /** The memory: set by the threaded build (which imports it), exported as asm.memory otherwise. */
  wasmMemory?: WebAssembly.Memory;
  asm?: { memory?: WebAssembly.Memory };
  cwrap(name: string, ret: string | null, args: string[]): (...a: number[]) => number;
  tfjs?: unknown;
}

/** What we need of a node worker_threads Worker held by Emscripten's pthread pool. */
export interface WorkerLike {
  unref(): void;
}

/** The backend instance (`BackendWasm`), as far as we use it. */
export interface WasmBackend extends tf.KernelBackend {
  wasm: WasmModule;
  dataIdMap: { get(dataId: object): WasmTensorData | undefined };
  makeOutput(shape: number[], dtype: tf.DataType, memoryOffset?: number, values?: Float32Array): tf.TensorInfo;
  typedArrayFromHeap(info: { shape: number[]; dtype: tf.DataType; dataId: object }): Float32Array | Int32Array | Uint8Array;
  disposeData(dataId: object, force?: boolean): boolean;
  incRef(dataId: object): void;
}

/** Throws unless the tfjs core and the wasm backend are exactly the pinned version. */
export function assertPinnedVersions(wasmVersion: string): void {
  const core = tf.version_core;
  if (core !== PINNED_TFJS_VERSION || wasmVersion !== PINNED_TFJS_VERSION) {
    throw new Error(
      `flatminima's wasm training kernels need @tensorflow/tfjs-core and @tensorflow/tfjs-backend-wasm ` +
        `exactly ${PINNED_TFJS_VERSION} (they rely on its internals); found core ${core}, wasm ${wasmVersion}. ` +
        `Install @tensorflow/tfjs@${PINNED_TFJS_VERSION} or use backend 'cpu'.`,
    );
  }
}

/** The WebAssembly.Memory of the backend's module. */
export function wasmMemoryOf(backend: WasmBackend): WebAssembly.Memory {
  const m = backend.wasm.wasmMemory ?? backend.wasm.asm?.memory;
  if (!(m instanceof WebAssembly.Memory)) throw new Error('tfjs-backend-wasm module exposes no WebAssembly.Memory');
  return m;
}

/** Narrows a kernel's `backend` argument to the wasm backend, checking the members we use exist. */
export function asWasmBackend(backend: unknown): WasmBackend {
  const b = backend as Partial<WasmBackend> | null;
  if (
    b == null ||
    typeof b.makeOutput !== 'function' ||
    typeof b.typedArrayFromHeap !== 'function' ||
    typeof b.disposeData !== 'function' ||
    b.dataIdMap == null ||
    b.wasm == null
  ) {
    throw new Error('flatminima training kernel called with a backend that is not tfjs-backend-wasm 4.22.0');
  }
  return b as WasmBackend;
}
