/**
 * Node-only loader for the threaded-SIMD build of the tfjs wasm backend.
 *
 * tfjs 4.22 disables threads in Node (tensorflow/tfjs#3830): its loader hands Emscripten `blob:` URLs,
 * which Node's worker_threads reject (ERR_WORKER_PATH). Here the same Emscripten glue is loaded from
 * disk instead: the glue file is the "main script" the pthread workers import, and the worker script
 * (shipped by the package only as a string) is written once to a file in the OS temp directory.
 * The pthread workers are unref()'d so that they do not keep the process alive.
 */
import { createRequire } from 'node:module';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type * as tfwasm from '@tensorflow/tfjs-backend-wasm';
import { PINNED_TFJS_VERSION, type WasmModule, type WasmBackend } from './wasm-internals.js';

const require = createRequire(import.meta.url);
// The CommonJS `os` / `worker_threads` objects: the same (mutable) ones the Emscripten glue gets
// from require().
const os = require('node:os') as typeof import('node:os');
const workerThreads = require('node:worker_threads') as typeof import('node:worker_threads');

interface ThreadedFiles {
  glue: string;
  binary: string;
  worker: string;
}

/** Paths of the glue, the binary and an on-disk copy of the worker script. */
function threadedFiles(): ThreadedFiles {
  const pkgDir = path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm/package.json'));
  const out = path.join(pkgDir, 'wasm-out');
  const glue = path.join(out, 'tfjs-backend-wasm-threaded-simd.js');
  const binary = path.join(out, 'tfjs-backend-wasm-threaded-simd.wasm');
  const workerModule = require(path.join(out, 'tfjs-backend-wasm-threaded-simd.worker.js')) as {
    wasmWorkerContents?: unknown;
  };
  const raw = workerModule.wasmWorkerContents;
  if (typeof raw !== 'string') {
    throw new Error('tfjs-backend-wasm worker script not found (wasm-out/*.worker.js has no wasmWorkerContents)');
  }
  // The string holds real newlines where the script has "\n" escapes (tfjs's loader re-escapes too).
  const contents = raw.replace(/\n/g, '\\n');
  // One file per content hash: several processes may write it at once, so write then rename.
  let hash = 0;
  for (let i = 0; i < contents.length; i++) hash = (Math.imul(hash, 31) + contents.charCodeAt(i)) | 0;
  const worker = path.join(os.tmpdir(), `flatminima-tfjs-wasm-${PINNED_TFJS_VERSION}-worker-${(hash >>> 0).toString(16)}.cjs`);
  // Rewrite unless the file holds exactly this script (never run a stale or foreign file).
  if (!fs.existsSync(worker) || fs.readFileSync(worker, 'utf8') !== contents) {
    const tmp = `${worker}.${process.pid}.tmp`;
    fs.writeFileSync(tmp, contents);
    fs.renameSync(tmp, worker);
  }
  return { glue, binary, worker };
}

type Factory = (config: Record<string, unknown>) => Promise<WasmModule>;

/**
 * Instantiates the threaded-SIMD wasm module and wraps it in a `BackendWasm` using `threads` threads.
 * Call only from the backend factory given to `tf.registerBackend`.
 */
export async function createThreadedWasmBackend(wasmPkg: typeof tfwasm, threads: number): Promise<WasmBackend> {
  const files = threadedFiles();
  const factory = require(files.glue) as Factory;
  // The C side caps the pool at (logical cores / 2) (tensorflow/tfjs#6081), reading the core count
  // through require('os').cpus() in a static initialiser that runs while the module instantiates;
  // show it 2 * threads cores until the pool exists, then restore the real function.
  const realCpus = os.cpus;
  const shown = Math.max(realCpus().length, 2 * threads);
  os.cpus = () => {
    const list = realCpus();
    return Array.from({ length: shown }, (_, i) => list[i % list.length]!);
  };
  // The glue creates its pthread workers with worker_threads.Worker (captured as global.Worker when
  // the factory runs). They run plain JavaScript, so they need none of the parent's execArgv (a
  // loader such as tsx would otherwise load into each of the 8 workers: ~1 s and ~60 MB).
  const RealWorker = workerThreads.Worker;
  workerThreads.Worker = class PlainWorker extends RealWorker {
    constructor(filename: string | URL, options?: import('node:worker_threads').WorkerOptions) {
      super(filename, { ...options, execArgv: [] });
    }
  };
  let backend: WasmBackend;
  let module: WasmModule;
  try {
    module = await factory({
      mainScriptUrlOrBlob: files.glue,
      locateFile: (p: string, prefix: string) => {
        if (p.endsWith('.worker.js')) return files.worker;
        if (p.endsWith('.wasm')) return files.binary;
        return prefix + p;
      },
    });
    // The same C entry points tfjs's own loader wraps (dist/tf-backend-wasm.node.js, init()).
    module.tfjs = {
      init: module.cwrap('init', null, []),
      initWithThreadsCount: module.cwrap('init_with_threads_count', null, ['number']),
      getThreadsCount: module.cwrap('get_threads_count', 'number', []),
      registerTensor: module.cwrap('register_tensor', null, ['number', 'number', 'number']),
      disposeData: module.cwrap('dispose_data', null, ['number']),
      dispose: module.cwrap('dispose', null, []),
    };
    wasmPkg.setThreadsCount(threads);
    backend = new wasmPkg.BackendWasm(module as never) as unknown as WasmBackend;
  } finally {
    os.cpus = realCpus;
    workerThreads.Worker = RealWorker;
  }
  const actual = wasmPkg.getThreadsCount();
  if (actual !== threads) {
    throw new Error(`threaded wasm backend started ${actual} threads, asked for ${threads}`);
  }
  unrefWorkers(module);
  return backend;
}

/** Lets the process exit while pthread workers idle (Emscripten ref()s a worker running a pthread). */
export function unrefWorkers(module: WasmModule): void {
  const pool = module.PThread;
  if (pool == null) return;
  for (const w of [...pool.runningWorkers, ...pool.unusedWorkers]) w.unref();
}
