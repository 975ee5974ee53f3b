/**
 * End to end on the native kernels: CNN training steps (SGD, SAM, Adaptive-GSAM) from the same
 * weights give the same weights as the pure wasm path and as cpu, to float32 tolerance; many steps
 * grow neither tensors, nor the wasm heap, nor the addon's primitive cache; the thread count asked
 * for is the one the kernels run with; and `--backend wasm` after native runs the wasm kernels
 * again. Skipped where the addon is not built.
 */
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/backend/index.js';
import { wasmTrainingKernelsRegistered } from '../../src/backend/kernels/register.js';
import { NATIVE_KERNEL_NAMES, nativeKernelsRegistered, registerNativeKernels } from '../../src/backend/native-kernels.js';
import { DEFAULT_GOMP_SPINCOUNT } from '../../src/backend/native.js';
import { createCnn } from '../../src/models/index.js';
import { AdaptiveGSAM, SAM } from '../../src/optimizers/index.js';
import { assertClose, uniform } from './helpers.js';
import { CNN_BATCH, CNN_INPUT, initialWeights, trainSteps } from './fixtures/cnn-steps.js';
import { SKIP_NATIVE, builtAddon, countingAddon, requireNativeWhereAsked } from './native-helpers.js';
import { ROOT } from '../cli/helpers.js';

requireNativeWhereAsked();

type Method = 'SGD' | 'SAM' | 'AdaptiveGSAM';

function makeOptimizer(method: Method): tf.Optimizer {
  const base = tf.train.sgd(0.1);
  if (method === 'SGD') return base;
  if (method === 'SAM') return new SAM({ base, rho: 0.05 });
  return new AdaptiveGSAM({ base, rho: 0.05, alpha: 0.1 });
}

/** `steps` steps of `method` on the fixture CNN from `weights` on the current backend; the final weights and the losses. */
function train(weights: Float32Array[], method: Method, steps: number): { weights: Float32Array[]; losses: number[] } {
  const model = createCnn({ seed: 0, inputShape: CNN_INPUT });
  const values = model.getWeights().map((w, i) => tf.tensor(weights[i]!, w.shape));
  model.setWeights(values);
  tf.dispose(values);
  const x = tf.tensor4d(uniform(CNN_BATCH * CNN_INPUT[0] * CNN_INPUT[1], 21), [CNN_BATCH, ...CNN_INPUT]);
  const y = tf.tidy(() => tf.oneHot(tf.tensor1d([0, 3, 6, 9], 'int32'), 10).toFloat());
  const opt = makeOptimizer(method);
  const losses: number[] = [];
  for (let s = 0; s < steps; s++) {
    const loss = opt.minimize(() => tf.mean(tf.metrics.categoricalCrossentropy(y, model.apply(x) as tf.Tensor)) as tf.Scalar, true);
    losses.push(loss!.dataSync()[0]!);
    loss!.dispose();
  }
  const out = model.getWeights().map((w) => Float32Array.from(w.dataSync() as Float32Array));
  opt.dispose();
  tf.dispose([x, y]);
  model.dispose();
  return { weights: out, losses };
}

describe('training on the native kernels', { skip: SKIP_NATIVE }, () => {
  let start: Float32Array[] = [];
  before(async () => {
    await initBackend({ backend: 'cpu' });
    start = initialWeights();
  });

  for (const method of ['SGD', 'SAM', 'AdaptiveGSAM'] as Method[]) {
    test(`3 ${method} steps: native, pure wasm and cpu agree on the weights and losses`, async () => {
      await initBackend({ backend: 'cpu' });
      const cpu = train(start, method, 3);
      await initBackend({ backend: 'wasm', threads: 1 });
      assert.ok(wasmTrainingKernelsRegistered() && !nativeKernelsRegistered());
      const wasm = train(start, method, 3);
      await initBackend({ backend: 'native', threads: 1 });
      const counting = countingAddon(builtAddon());
      registerNativeKernels(counting.addon);
      const tensors = tf.memory().numTensors;
      const native = train(start, method, 3);
      assert.equal(tf.memory().numTensors, tensors, 'tensors leaked');
      // Every heavy kernel of the step ran on the addon.
      for (const f of ['conv2d', 'conv2dBackpropInput', 'conv2dBackpropFilter', 'matMul', 'maxPool', 'maxPoolGrad']) {
        assert.ok(counting.calls[f]! > 0, `${f} was not called`);
      }
      assert.ok(cpu.losses[2]! < cpu.losses[0]!, 'the loss goes down');
      native.losses.forEach((l, i) => {
        assert.ok(Math.abs(l - wasm.losses[i]!) < 1e-4 * (1 + Math.abs(l)), `loss ${i}: native ${l} vs wasm ${wasm.losses[i]}`);
        assert.ok(Math.abs(l - cpu.losses[i]!) < 1e-4 * (1 + Math.abs(l)), `loss ${i}: native ${l} vs cpu ${cpu.losses[i]}`);
      });
      native.weights.forEach((w, i) => {
        let moved = 0;
        w.forEach((v, j) => (moved = Math.max(moved, Math.abs(v - start[i]![j]!))));
        assert.ok(moved > 0, `weight ${i} changed`);
        assertClose(w, wasm.weights[i]!, `${method} weight ${i}: native vs wasm`, 1e-4);
        assertClose(w, cpu.weights[i]!, `${method} weight ${i}: native vs cpu`, 1e-4);
      });
    });
  }

  test('many native steps grow no tensors, no wasm heap and no primitive cache', async () => {
    await initBackend({ backend: 'native', threads: 1 });
    const addon = builtAddon();
    const backend = tf.backend() as unknown as { numDataIds(): number; wasm: { HEAPU8: Uint8Array } };
    trainSteps(start, 2); // warm-up: the heap reaches its working size, the primitives are made
    const tensors = tf.memory().numTensors;
    const dataIds = backend.numDataIds();
    const heap = backend.wasm.HEAPU8.length;
    const primitives = addon.cachedPrimitives();
    assert.ok(primitives > 0, 'the convolutions were cached');
    for (let r = 0; r < 4; r++) trainSteps(start, 5);
    assert.equal(tf.memory().numTensors, tensors, 'tensors');
    assert.equal(backend.numDataIds(), dataIds, 'wasm data ids');
    assert.equal(backend.wasm.HEAPU8.length, heap, 'wasm heap grew');
    assert.equal(addon.cachedPrimitives(), primitives, 'primitive cache grew');
  });

  test('the thread count asked for is the one the kernels run with, and the results do not depend on it beyond rounding', async () => {
    const addon = builtAddon();
    const one = await initBackend({ backend: 'native', threads: 1 });
    assert.equal(one.threads, 1);
    assert.equal(addon.threads(), 1);
    assert.match(one.native, /^native: oneDNN 2\.\d+\.\d+ \(\w+\), 1 thread$/);
    const w1 = trainSteps(start, 2);
    const two = await initBackend({ backend: 'native', threads: 2 });
    assert.equal(two.threads, 2);
    assert.equal(addon.threads(), 2);
    assert.match(two.native, /, 2 threads$/);
    // The wasm build beside the native kernels stays the single-threaded one.
    assert.equal((tf.backend() as unknown as { wasm: { PThread?: unknown } }).wasm.PThread, undefined);
    const cached = addon.cachedPrimitives();
    const w2 = trainSteps(start, 2);
    // Primitives are made per thread count.
    assert.ok(addon.cachedPrimitives() > cached, 'no primitives made for 2 threads');
    w2.weights.forEach((w, i) => assertClose(w, w1.weights[i]!, `weight ${i}, 2 vs 1 threads`, 1e-4));
    await initBackend({ backend: 'native', threads: 1 });
    assert.equal(addon.threads(), 1);
  });

  test("the addon's OpenMP threads wait passively after a short spin unless OMP_WAIT_POLICY or GOMP_SPINCOUNT says otherwise, and the variables are not left set", async () => {
    // OMP_DISPLAY_ENV=VERBOSE makes libgomp print the settings it read when it was loaded (with the addon).
    const load =
      "import('./src/backend/native.ts').then((m) => { m.nativeAddon(); process.stdout.write(String(process.env.OMP_WAIT_POLICY) + ' ' + String(process.env.GOMP_SPINCOUNT)); })";
    const { OMP_WAIT_POLICY: _, GOMP_SPINCOUNT: __, ...unset } = process.env;
    const run = (extra: Record<string, string>): { stdout: string; stderr: string } => {
      const env = { ...unset, OMP_DISPLAY_ENV: 'VERBOSE', ...extra };
      const r = spawnSync(process.execPath, ['--import', 'tsx', '-e', load], { cwd: ROOT, env, encoding: 'utf8' });
      assert.equal(r.status, 0, r.stderr);
      return { stdout: r.stdout, stderr: r.stderr };
    };
    const byDefault = run({});
    assert.match(byDefault.stderr, /OMP_WAIT_POLICY = 'PASSIVE'/);
    assert.match(byDefault.stderr, new RegExp(`GOMP_SPINCOUNT = '${DEFAULT_GOMP_SPINCOUNT}'`));
    assert.equal(byDefault.stdout, 'undefined undefined');
    const asked = run({ OMP_WAIT_POLICY: 'ACTIVE' });
    assert.match(asked.stderr, /OMP_WAIT_POLICY = 'ACTIVE'/);
    assert.doesNotMatch(asked.stderr, new RegExp(`GOMP_SPINCOUNT = '${DEFAULT_GOMP_SPINCOUNT}'`));
    assert.equal(asked.stdout, 'ACTIVE undefined');
    const spin = run({ GOMP_SPINCOUNT: '0' });
    // A user's GOMP_SPINCOUNT alone stands, and no policy is added to it.
    assert.match(spin.stderr, /GOMP_SPINCOUNT = '0'/);
    assert.equal(spin.stdout, 'undefined 0');
  });

  test('backend wasm after native runs the pure wasm kernels again (bit for bit), and native after wasm the native ones', async () => {
    await initBackend({ backend: 'wasm', threads: 1 });
    const wasmBefore = trainSteps(start, 2);
    const native = await initBackend({ backend: 'native', threads: 1 });
    const onNative = trainSteps(start, 2);
    assert.deepEqual(native.nativeKernels, [...NATIVE_KERNEL_NAMES]);
    assert.ok(nativeKernelsRegistered());
    assert.equal(native.name, 'native');
    assert.equal(tf.getBackend(), 'wasm');
    const wasm = await initBackend({ backend: 'wasm', threads: 1 });
    assert.equal(wasm.name, 'wasm');
    assert.deepEqual(wasm.nativeKernels, []);
    assert.equal(wasm.native, "native: not used (backend 'wasm')");
    assert.ok(wasmTrainingKernelsRegistered());
    assert.ok(!nativeKernelsRegistered());
    const wasmAfter = trainSteps(start, 2);
    wasmAfter.weights.forEach((w, i) => assert.deepEqual(w, wasmBefore.weights[i], `weight ${i} on wasm changed after native ran`));
    // The native run differs in rounding only (not vacuous: the comparison above is exact).
    onNative.weights.forEach((w, i) => assertClose(w, wasmBefore.weights[i]!, `weight ${i} native vs wasm`, 1e-4));
    await initBackend({ backend: 'native', threads: 1 });
    assert.ok(nativeKernelsRegistered());
  });
});
