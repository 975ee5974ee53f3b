/**
 * Backend selection: `tfjs-node` when the user has it installed, else the `wasm` backend with
 * flatminima's native oneDNN kernels (the optional addon, Node only), else the `wasm` backend with
 * flatminima's training kernels (threaded in Node), else the stock `cpu` backend.
 */
import * as tf from '@tensorflow/tfjs';
import type * as tfwasm from '@tensorflow/tfjs-backend-wasm';
import { registerWasmTrainingKernels } from './kernels/register.js';
import { assertPinnedVersions } from './wasm-internals.js';
import { MAX_WASM_THREADS } from './limits.js';
import { NATIVE_KERNEL_NAMES, registerNativeKernels } from './native-kernels.js';

export { registerWasmTrainingKernels, WASM_TRAINING_KERNEL_NAMES } from './kernels/register.js';
export { PINNED_TFJS_VERSION } from './wasm-internals.js';
export { NATIVE_KERNEL_NAMES } from './native-kernels.js';

/**
 * A backend flatminima can run on. 'native' is tfjs's 'wasm' backend with the heavy kernels on the
 * native oneDNN addon (tf.getBackend() says 'wasm'); 'wasm' is the same backend with only the
 * WebAssembly kernels.
 */
export type BackendName = 'tensorflow' | 'native' | 'wasm' | 'cpu';

/** What {@link initBackend} chose. */
export interface BackendInfo {
  /** The active tfjs backend. */
  name: BackendName;
  /** Threads of the wasm backend, or of the native kernels (OpenMP) for 'native'; null for the others. */
  threads: number | null;
  /** Kernels flatminima registered for this backend (empty for 'tensorflow' and 'cpu'). */
  trainingKernels: string[];
  /** Of those, the kernels that run on the native addon ('native' only; empty otherwise). */
  nativeKernels: string[];
  /**
   * The native kernels in words: `native: oneDNN 2.6.3 (avx512_core), 1 thread` when in use, else
   * why not, e.g. `native: not built (no libdnnl found)`.
   */
  native: string;
  /** Why this backend, in words (what was tried and why it was passed over). */
  reason: string;
}

/** Options of {@link initBackend}. */
export interface InitBackendOptions {
  /** 'auto' (default): tensorflow if importable, else native, else wasm, else cpu. */
  backend?: 'auto' | BackendName;
  /**
   * wasm threads, or the native kernels' threads, 1..MAX_WASM_THREADS; default 1. More pay off
   * only for conv-heavy models on otherwise idle cores (for wasm in Node, > 1 loads the
   * threaded-SIMD build from disk; the native kernels run the single-threaded wasm build beside
   * their own OpenMP threads).
   */
  threads?: number;
}

/** Values accepted for `backend`. */
export const BACKEND_CHOICES = ['auto', 'tensorflow', 'native', 'wasm', 'cpu'] as const;

export { MAX_WASM_THREADS };

const isNode = typeof process === 'object' && process.versions?.node != null;

/** The state of the wasm backend this module set up (the module instance lives per process). */
let wasmPkg: typeof tfwasm | null = null;
let stockWasmFactory: (() => tf.KernelBackend | Promise<tf.KernelBackend>) | null = null;
let wasmThreads: number | null = null;

function validate(opts: unknown): { backend: 'auto' | BackendName; threads: number | undefined } {
  if (opts == null) return { backend: 'auto', threads: undefined };
  if (typeof opts !== 'object') throw new Error(`initBackend options must be an object, got ${typeof opts}`);
  const o = opts as Record<string, unknown>;
  for (const key of Object.keys(o)) {
    if (key !== 'backend' && key !== 'threads') {
      throw new Error(`initBackend: unknown option '${key}'; allowed options are 'backend' and 'threads'`);
    }
  }
  const backend = o.backend ?? 'auto';
  if (typeof backend !== 'string' || !(BACKEND_CHOICES as readonly string[]).includes(backend)) {
    throw new Error(`backend must be one of ${BACKEND_CHOICES.map((b) => `'${b}'`).join(', ')}; got ${JSON.stringify(backend)}`);
  }
  const threads = o.threads;
  if (threads !== undefined) {
    if (typeof threads !== 'number' || !Number.isInteger(threads) || threads < 1 || threads > MAX_WASM_THREADS) {
      throw new Error(`threads must be an integer from 1 to ${MAX_WASM_THREADS}; got ${JSON.stringify(threads)}`);
    }
    if (backend === 'cpu' || backend === 'tensorflow') {
      throw new Error(`threads applies to backend 'wasm' or 'native' (or 'auto' when it picks one of them), not '${backend}'`);
    }
  }
  return { backend: backend as 'auto' | BackendName, threads: threads as number | undefined };
}

/**
 * Default wasm thread count: 1. Measured on a 2-vCPU machine, XNNPACK's thread pool pays a
 * cross-thread wake-up on every kernel call: the MLP step got ~10x slower with 2 threads, and any
 * other load on the cores (e.g. a pool of runs) makes the CNN slower too. More threads only on request.
 */
const DEFAULT_WASM_THREADS = 1;

function message(e: unknown): string {
  return e instanceof Error ? e.message.split('\n')[0]! : String(e);
}

async function activate(name: BackendName): Promise<void> {
  const ok = await tf.setBackend(name);
  if (!ok || tf.getBackend() !== name) throw new Error(`tf.setBackend('${name}') failed (see the tfjs warning above)`);
  await tf.ready();
}

/** Imports tfjs-node (only when installed) and activates its 'tensorflow' backend. */
async function initTensorflow(): Promise<void> {
  // A computed specifier: tfjs-node is optional and not a dependency of flatminima.
  const spec = '@tensorflow/tfjs-node';
  try {
    await import(spec);
  } catch (e) {
    throw new Error(`@tensorflow/tfjs-node is not installed or failed to load (${message(e)})`, { cause: e });
  }
  if (tf.findBackendFactory('tensorflow') == null) {
    throw new Error(
      `@tensorflow/tfjs-node loaded but registered no 'tensorflow' backend with this copy of @tensorflow/tfjs ` +
        `(${tf.version_core}); install versions that match`,
    );
  }
  await activate('tensorflow');
}

/** Loads the wasm backend with `threads` threads and our training kernels. */
async function initWasm(threads: number): Promise<void> {
  if (wasmPkg == null) {
    const pkg = (await import('@tensorflow/tfjs-backend-wasm')) as typeof tfwasm;
    assertPinnedVersions(pkg.version_wasm);
    stockWasmFactory = tf.findBackendFactory('wasm') as typeof stockWasmFactory;
    wasmPkg = pkg;
  }
  const pkg = wasmPkg;
  registerWasmTrainingKernels();
  if (wasmThreads !== threads) {
    // A wasm module's thread pool is fixed when it starts: start a new one for a new count.
    if (tf.engine().registry['wasm'] != null || tf.findBackendFactory('wasm') != null) tf.removeBackend('wasm');
    if (threads > 1 && isNode) {
      const { createThreadedWasmBackend } = await import('./wasm-threads.js');
      tf.registerBackend('wasm', () => createThreadedWasmBackend(pkg, threads) as Promise<never>, 2);
    } else {
      pkg.setThreadsCount(threads);
      if (stockWasmFactory == null) throw new Error('tfjs-backend-wasm registered no wasm backend');
      tf.registerBackend('wasm', stockWasmFactory, 2);
    }
    wasmThreads = null;
    await activate('wasm');
    wasmThreads = threads;
  } else {
    await activate('wasm');
  }
  const actual = pkg.getThreadsCount();
  if (actual !== threads) throw new Error(`the wasm backend runs ${actual} threads; ${threads} were asked for`);
}

/** The addon's loader, in Node only (the addon is a Node module; the loader imports node:fs). */
async function nativeLoader(): Promise<typeof import('./native.js') | null> {
  return isNode ? await import('./native.js') : null;
}

/** The native line for a backend that does not use the addon. */
function nativeNotUsed(backend: BackendName): string {
  return `native: not used (backend '${backend}')`;
}

/**
 * Chooses and activates the tfjs backend. 'auto' tries tfjs-node (only if the user installed it),
 * then wasm with flatminima's training kernels, then cpu, and says why in `reason`. An explicitly
 * named backend that cannot start is an error. May be called again to switch (tensors made on the
 * previous backend stay there). Asynchronous: backends load asynchronously.
 */
export async function initBackend(opts?: InitBackendOptions): Promise<BackendInfo> {
  const { backend, threads } = validate(opts);
  const skipped: string[] = [];

  if (backend === 'tensorflow' || backend === 'auto') {
    try {
      await initTensorflow();
      const note = threads !== undefined ? ' (the threads option applies to wasm only; tfjs-node uses its own pool)' : '';
      return {
        name: 'tensorflow',
        threads: null,
        trainingKernels: [],
        nativeKernels: [],
        native: nativeNotUsed('tensorflow'),
        reason: (backend === 'auto' ? 'auto: @tensorflow/tfjs-node is installed' : 'requested') + note,
      };
    } catch (e) {
      if (backend === 'tensorflow') throw new Error(`backend 'tensorflow' requested but unavailable: ${message(e)}`, { cause: e });
      skipped.push(`tensorflow: ${message(e)}`);
    }
  }

  let nativeLine: string | null = null;
  if (backend === 'native' || backend === 'auto') {
    const n = threads ?? DEFAULT_WASM_THREADS;
    const loader = await nativeLoader();
    const status = loader?.nativeAddon() ?? { available: false as const, reason: 'not available outside Node' };
    if (status.available && loader != null) {
      try {
        // The native kernels bring their own threads: the wasm build beside them is the single-threaded one.
        await initWasm(1);
        status.addon.setThreads(n);
        if (status.addon.threads() !== n) throw new Error(`the native kernels run ${status.addon.threads()} threads; ${n} were asked for`);
        const trainingKernels = registerNativeKernels(status.addon);
        const line = loader.describeNative(status, n);
        return {
          name: 'native',
          threads: n,
          trainingKernels,
          nativeKernels: [...NATIVE_KERNEL_NAMES],
          native: line,
          reason:
            (backend === 'auto' ? `auto: ${skipped.join('; ')}; using` : 'requested:') +
            ` wasm with native kernels (${line.slice('native: '.length)})`,
        };
      } catch (e) {
        if (backend === 'native') throw new Error(`backend 'native' requested but failed to start: ${message(e)}`, { cause: e });
        nativeLine = `native: failed to start (${message(e)})`;
      }
    } else {
      const why = status.available ? 'not available' : status.reason;
      if (backend === 'native') {
        const remedy = loader?.nativeRemedy(status) ?? 'run in Node';
        throw new Error(`backend 'native' requested but unavailable: the native kernels are ${why}; ${remedy}, or use backend wasm`);
      }
      nativeLine = `native: ${why}`;
    }
    skipped.push(nativeLine);
  }

  if (backend === 'wasm' || backend === 'auto') {
    const n = threads ?? DEFAULT_WASM_THREADS;
    try {
      await initWasm(n);
      return {
        name: 'wasm',
        threads: n,
        trainingKernels: registerWasmTrainingKernels(),
        nativeKernels: [],
        native: nativeLine ?? nativeNotUsed('wasm'),
        reason:
          (backend === 'auto' ? `auto: ${skipped.join('; ')}; using wasm` : 'requested') +
          ` with flatminima training kernels, ${n} thread${n === 1 ? '' : 's'}` +
          (n > 1 && isNode ? ' (threaded-SIMD build loaded from disk)' : ''),
      };
    } catch (e) {
      if (backend === 'wasm') throw new Error(`backend 'wasm' requested but failed to start: ${message(e)}`, { cause: e });
      skipped.push(`wasm: ${message(e)}`);
    }
  }

  await activate('cpu');
  return {
    name: 'cpu',
    threads: null,
    trainingKernels: [],
    nativeKernels: [],
    native: nativeLine ?? nativeNotUsed('cpu'),
    reason: backend === 'auto' ? `auto: ${skipped.join('; ')}; using the stock cpu backend` : 'requested',
  };
}
