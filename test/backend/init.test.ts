/**
 * initBackend: option validation, the tfjs-node fallback, the pinned tfjs internals the wasm
 * training kernels rely on, and that our kernels are the registered ones.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import * as tf from '@tensorflow/tfjs';
import { initBackend, PINNED_TFJS_VERSION, WASM_TRAINING_KERNEL_NAMES, MAX_WASM_THREADS } from '../../src/backend/index.js';
import { WASM_BUILDING_BLOCKS, wasmTrainingKernelsRegistered } from '../../src/backend/kernels/register.js';
import { hasStockKernel } from '../../src/backend/kernels/ops.js';
import { nativeAddon } from '../../src/backend/native.js';

const require = createRequire(import.meta.url);
function installed(pkg: string): boolean {
  try {
    require.resolve(pkg);
    return true;
  } catch {
    return false;
  }
}

describe('initBackend option validation', () => {
  const bad: [unknown, RegExp][] = [
    [{ backend: 'gpu' }, /backend must be one of 'auto', 'tensorflow', 'native', 'wasm', 'cpu'; got "gpu"/],
    [{ backend: 3 }, /backend must be one of/],
    [{ threads: 0 }, /threads must be an integer from 1 to 8; got 0/],
    [{ threads: 1.5 }, /threads must be an integer from 1 to 8; got 1.5/],
    [{ threads: MAX_WASM_THREADS + 1 }, /threads must be an integer from 1 to 8; got 9/],
    [{ threads: '2' }, /threads must be an integer from 1 to 8; got "2"/],
    [{ backend: 'cpu', threads: 2 }, /threads applies to backend 'wasm'/],
    [{ backend: 'wasm', thread: 2 }, /unknown option 'thread'/],
    ['wasm', /options must be an object/],
  ];
  for (const [opts, message] of bad) {
    test(`rejects ${JSON.stringify(opts)}`, async () => {
      await assert.rejects(initBackend(opts as never), message);
    });
  }
});

describe('backend choice', () => {
  test('explicit tensorflow without tfjs-node is a clear error', { skip: installed('@tensorflow/tfjs-node') }, async () => {
    await assert.rejects(
      initBackend({ backend: 'tensorflow' }),
      /backend 'tensorflow' requested but unavailable: @tensorflow\/tfjs-node is not installed/,
    );
  });

  // Where the native addon is built, auto takes it (test/backend/native-fallback.test.ts checks the
  // fall back to wasm without it, in a process where it is turned off).
  test(
    'auto falls back to wasm (or native, where built) with the training kernels and says why',
    { skip: installed('@tensorflow/tfjs-node') },
    async () => {
      const native = nativeAddon().available;
      const info = await initBackend({ threads: 1 });
      assert.equal(info.name, native ? 'native' : 'wasm');
      assert.equal(info.threads, 1);
      assert.equal(tf.getBackend(), 'wasm');
      assert.deepEqual([...info.trainingKernels].sort(), [...WASM_TRAINING_KERNEL_NAMES].sort());
      assert.match(info.reason, /tensorflow: @tensorflow\/tfjs-node is not installed/);
      assert.equal(wasmTrainingKernelsRegistered(), !native);
    },
  );

  test('wasm defaults to one thread', async () => {
    const info = await initBackend({ backend: 'wasm' });
    assert.equal(info.threads, 1);
    assert.equal(info.reason, 'requested with flatminima training kernels, 1 thread');
  });

  test('cpu on request', async () => {
    const info = await initBackend({ backend: 'cpu' });
    assert.deepEqual(info, {
      name: 'cpu',
      threads: null,
      trainingKernels: [],
      nativeKernels: [],
      native: "native: not used (backend 'cpu')",
      reason: 'requested',
    });
    assert.equal(tf.getBackend(), 'cpu');
  });

  test('wasm again after cpu, same module', async () => {
    const info = await initBackend({ backend: 'wasm', threads: 1 });
    assert.equal(info.name, 'wasm');
    assert.equal(tf.getBackend(), 'wasm');
    const before = tf.memory().numTensors;
    const s = tf.tidy(() => tf.sum(tf.tensor1d([1, 2, 3])).dataSync()[0]);
    assert.equal(s, 6);
    assert.equal(tf.memory().numTensors, before);
  });
});

describe('pinned tfjs internals', () => {
  test('tfjs core and wasm backend are exactly the pinned version', async () => {
    const wasm = await import('@tensorflow/tfjs-backend-wasm');
    assert.equal(PINNED_TFJS_VERSION, '4.22.0');
    assert.equal(tf.version_core, PINNED_TFJS_VERSION);
    assert.equal(wasm.version_wasm, PINNED_TFJS_VERSION);
  });

  test('the backend members and stock kernels the training kernels use exist', async () => {
    await initBackend({ backend: 'wasm', threads: 1 });
    const b = tf.backend() as unknown as Record<string, unknown> & { wasm: Record<string, unknown> };
    for (const m of ['makeOutput', 'typedArrayFromHeap', 'disposeData', 'incRef', 'numDataIds']) {
      assert.equal(typeof b[m], 'function', `BackendWasm.${m}`);
    }
    assert.equal(typeof (b.dataIdMap as { get?: unknown }).get, 'function', 'BackendWasm.dataIdMap');
    assert.ok(b.wasm.HEAPU8 instanceof Uint8Array, 'module HEAPU8');
    assert.equal(typeof b.wasm.cwrap, 'function', 'module cwrap');
    // Every stock kernel ours are composed from or fall back to was found and captured.
    for (const k of WASM_BUILDING_BLOCKS) assert.ok(hasStockKernel(k), `stock wasm kernel ${k}`);
    // makeOutput with values + typedArrayFromHeap round-trip, as the kernels use them.
    const info = (b.makeOutput as (s: number[], d: string, o: undefined, v: Float32Array) => tf.TensorInfo)(
      [3],
      'float32',
      undefined,
      new Float32Array([1, 2, 3]),
    );
    const view = (b.typedArrayFromHeap as (i: tf.TensorInfo) => Float32Array)(info);
    assert.deepEqual(Array.from(view), [1, 2, 3]);
    (b.disposeData as (id: object) => void)(info.dataId);
  });

  test('the threaded build files exist where the loader looks', () => {
    const dir = require.resolve('@tensorflow/tfjs-backend-wasm/package.json').replace(/package\.json$/, 'wasm-out/');
    const worker = require(`${dir}tfjs-backend-wasm-threaded-simd.worker.js`) as { wasmWorkerContents?: unknown };
    assert.equal(typeof worker.wasmWorkerContents, 'string');
    assert.equal(typeof require(`${dir}tfjs-backend-wasm-threaded-simd.js`), 'function');
  });
});
