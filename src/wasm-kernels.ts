/**
 * flatminima/wasm-kernels: flatminima's training kernels for the tfjs `wasm` backend, for browsers
 * (and any bundler). Browser-safe: it imports `@tensorflow/tfjs-backend-wasm` (which registers the
 * stock wasm kernels ours fall back to) and nothing from Node. In Node, `initBackend` of
 * `flatminima/node` does the same and more (threads, tfjs-node).
 *
 * @example
 * import { initWasmTrainingBackend } from 'flatminima/wasm-kernels';
 * const info = await initWasmTrainingBackend({ wasmPaths: '/wasm/' }); // the folder serving the .wasm files
 * console.log(info.trainingKernels.length, 'kernels on', info.name);
 */
import * as tf from '@tensorflow/tfjs';
import { setWasmPaths, version_wasm } from '@tensorflow/tfjs-backend-wasm';
import { registerWasmTrainingKernels, WASM_TRAINING_KERNEL_NAMES, wasmTrainingKernelsRegistered } from './backend/kernels/register.js';
import { assertPinnedVersions, PINNED_TFJS_VERSION } from './backend/wasm-internals.js';

export { registerWasmTrainingKernels, WASM_TRAINING_KERNEL_NAMES, wasmTrainingKernelsRegistered, PINNED_TFJS_VERSION };

/** Options of {@link initWasmTrainingBackend}. */
export interface InitWasmTrainingBackendOptions {
  /**
   * Where the tfjs wasm binaries are served: a folder URL ending in `/` (e.g. `'/wasm/'`), or a map
   * from file name (`tfjs-backend-wasm.wasm`, `tfjs-backend-wasm-simd.wasm`,
   * `tfjs-backend-wasm-threaded-simd.wasm`) to URL. Default: tfjs' own default (next to the script).
   */
  wasmPaths?: string | Record<string, string>;
}

/** What {@link initWasmTrainingBackend} set up. */
export interface WasmTrainingBackendInfo {
  /** Always 'wasm': the function throws when the backend cannot start. */
  name: 'wasm';
  /** The kernels flatminima installed for 'wasm' (see {@link WASM_TRAINING_KERNEL_NAMES}). */
  trainingKernels: string[];
}

/**
 * Registers flatminima's training kernels for backend 'wasm', then activates that backend. Call it
 * before the wasm backend is first used. Throws (and leaves the active backend as it was) when the
 * tfjs versions differ from {@link PINNED_TFJS_VERSION} or the wasm module cannot be loaded, so the
 * caller can fall back to another backend.
 */
export async function initWasmTrainingBackend(opts: InitWasmTrainingBackendOptions = {}): Promise<WasmTrainingBackendInfo> {
  const fn = 'initWasmTrainingBackend';
  if (opts === null || typeof opts !== 'object') throw new TypeError(`${fn}: options must be an object, got ${String(opts)}`);
  for (const key of Object.keys(opts)) {
    if (key !== 'wasmPaths') throw new RangeError(`${fn}: unknown option '${key}'; the only option is 'wasmPaths'`);
  }
  const { wasmPaths } = opts;
  if (wasmPaths !== undefined && typeof wasmPaths !== 'string' && (typeof wasmPaths !== 'object' || wasmPaths === null)) {
    throw new TypeError(`${fn}: wasmPaths must be a folder URL string or a map of file names to URLs, got ${String(wasmPaths)}`);
  }
  assertPinnedVersions(version_wasm);
  if (wasmPaths !== undefined) setWasmPaths(wasmPaths as Parameters<typeof setWasmPaths>[0]);
  const trainingKernels = registerWasmTrainingKernels();
  const previous = tf.getBackend();
  let failure: unknown = null;
  try {
    if (!(await tf.setBackend('wasm')) || tf.getBackend() !== 'wasm') failure = 'tf.setBackend returned false';
  } catch (e) {
    failure = e;
  }
  if (failure !== null) {
    if (previous != null && previous !== tf.getBackend()) await tf.setBackend(previous);
    const why = failure instanceof Error ? failure.message.split('\n')[0] : String(failure);
    throw new Error(`${fn}: the wasm backend failed to start (${why}; see the tfjs warning above)`, { cause: failure });
  }
  await tf.ready();
  return { name: 'wasm', trainingKernels };
}
