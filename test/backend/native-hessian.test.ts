/**
 * Double back-propagation through the native kernels: the exact Hessian-vector products of the
 * tiny CNN (conv, ReLU, max-pool, dense, softmax) on the native backend match a float64
 * finite-difference Hessian written independently of tfjs (test/sharpness/tinyModels.ts), with the
 * heavy kernels of both passes on the addon; and sigma_max and the trace agree with cpu.
 * Skipped where the addon is not built.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/backend/index.js';
import { registerNativeKernels, resetNativeSizeLimits, setNativeSizeLimits } from '../../src/backend/native-kernels.js';
import { hessianVectorProduct, measureSharpness, modelObjective, type Objective } from '../../src/sharpness/index.js';
import { fingerprint, relErr } from '../sharpness/helpers.js';
import { examples, exampleTensors, hessian64, tinyCnn, tinyCnnLoss64 } from '../sharpness/tinyModels.js';
import { SKIP_NATIVE, builtAddon, countingAddon, requireNativeWhereAsked } from './native-helpers.js';

requireNativeWhereAsked();

const cnnExamples = examples(5, [6, 6, 1], 2, 7);

/** Every column H e_j of the objective's Hessian by hessianVectorProduct ('auto'), and the methods used. */
function hessianByProducts(obj: Objective): { h: number[][]; methods: Set<string> } {
  const n = obj.vars.reduce((s, v) => s + v.size, 0);
  const cols: number[][] = [];
  const methods = new Set<string>();
  for (let j = 0; j < n; j++) {
    const e = new Float32Array(n);
    e[j] = 1;
    let off = 0;
    const v = obj.vars.map((w) => {
      const t = tf.tensor(e.slice(off, off + w.size), w.shape);
      off += w.size;
      return t;
    });
    const r = hessianVectorProduct(obj, v);
    methods.add(r.method);
    cols.push(r.product.flatMap((p) => Array.from(p.dataSync())));
    tf.dispose([v, r.product]);
  }
  return { h: Array.from({ length: n }, (_, i) => cols.map((c) => c[i]!)), methods };
}

describe('second-order measures through the native kernels', { skip: SKIP_NATIVE }, () => {
  // The tiny models' products and activations are far below the sizes that run natively by default:
  // all of them on the addon here, so that every kernel of both passes is the native one.
  before(() => setNativeSizeLimits({ matMulMinMacs: 0, elementwiseMin: 0 }));
  after(resetNativeSizeLimits);

  test('tiny CNN: exact Hessian-vector products on native match a float64 finite-difference Hessian', async () => {
    await initBackend({ backend: 'native', threads: 1 });
    const counting = countingAddon(builtAddon());
    registerNativeKernels(counting.addon);
    const model = tinyCnn(3);
    const { x, y } = exampleTensors(cnnExamples, 2);
    const obj = modelObjective(model, x, y);
    const tensors = tf.memory().numTensors;
    const original = fingerprint(obj.vars);
    const theta = Float64Array.from(obj.vars.flatMap((v) => Array.from(v.dataSync())));
    const ref = tinyCnnLoss64(theta, cnnExamples);
    const h = 1e-5;
    const maxX = Math.max(...cnnExamples.x.map(Math.abs));
    assert.ok(ref.margin > 4 * h * (1 + maxX), `examples too close to a kink (margin ${ref.margin})`);
    const reference = hessian64((t) => tinyCnnLoss64(t, cnnExamples).loss, theta, h);
    const { h: exact, methods } = hessianByProducts(obj);
    assert.deepEqual([...methods], ['double-backprop']);
    const scale = Math.max(...reference.flat().map(Math.abs));
    const err = Math.max(...exact.flatMap((r, i) => r.map((v, j) => Math.abs(v - reference[i]![j]!)))) / scale;
    assert.ok(err < 1e-4, `max |H_native - H_fd| / max |H| = ${err}`);
    // The products ran on the addon (the one conv layer reads the examples, so no input gradient
    // of a convolution is needed here; the next test has one).
    // (Not 'binary': the products of operands of one shape run on the wasm routines, see native-kernels.ts.)
    for (const f of ['conv2d', 'conv2dBackpropFilter', 'maxPool', 'maxPoolGrad', 'matMul', 'relu', 'step', 'columnSums']) {
      assert.ok(counting.calls[f]! > 0, `${f} was not called`);
    }
    original.forEach((w, i) => assert.deepEqual(Float32Array.from(obj.vars[i]!.dataSync()), w));
    assert.equal(tf.memory().numTensors, tensors, 'tensors leaked');
    model.dispose();
    tf.dispose([x, y]);
  });

  test('two conv layers: Hessian-vector products on native equal cpu and match finite differences', async () => {
    const build = (): tf.Sequential => {
      const model = tf.sequential();
      const init = (seed: number) => tf.initializers.glorotNormal({ seed });
      model.add(
        tf.layers.conv2d({
          inputShape: [8, 8, 1],
          filters: 3,
          kernelSize: 3,
          activation: 'relu',
          kernelInitializer: init(1),
          biasInitializer: tf.initializers.constant({ value: 0.05 }),
        }),
      );
      model.add(
        tf.layers.conv2d({
          filters: 4,
          kernelSize: 3,
          strides: 2,
          padding: 'same',
          activation: 'relu',
          kernelInitializer: init(2),
          biasInitializer: tf.initializers.constant({ value: 0.05 }),
        }),
      );
      model.add(tf.layers.maxPooling2d({ poolSize: 2, padding: 'same' }));
      model.add(tf.layers.flatten());
      model.add(tf.layers.dense({ units: 2, activation: 'softmax', kernelInitializer: init(3) }));
      return model;
    };
    const ex = examples(3, [8, 8, 1], 2, 17);
    const products: Record<string, number[]> = {};
    let counts: Record<string, number> = {};
    for (const backend of ['cpu', 'native'] as const) {
      await initBackend({ backend });
      if (backend === 'native') {
        const counting = countingAddon(builtAddon());
        registerNativeKernels(counting.addon);
        counts = counting.calls;
      }
      const model = build();
      const { x, y } = exampleTensors(ex, 2);
      const obj = modelObjective(model, x, y);
      const before = tf.memory().numTensors;
      let seed = 11;
      const v = obj.vars.map((w) =>
        tf.tensor(
          Array.from({ length: w.size }, () => ((seed = (seed * 48271) % 2147483647) / 2147483647) * 2 - 1),
          w.shape,
        ),
      );
      const exact = hessianVectorProduct(obj, v);
      assert.equal(exact.method, 'double-backprop');
      products[backend] = exact.product.flatMap((p) => Array.from(p.dataSync()));
      if (backend === 'native') {
        // A small step, so that (with 3 examples) no ReLU or pooling kink is crossed.
        const fd = hessianVectorProduct(obj, v, { method: 'finite-difference', fdRelativeStep: 1e-4 });
        const f = fd.product.flatMap((p) => Array.from(p.dataSync()));
        const e = products.native!;
        const rel = Math.sqrt(e.reduce((s, a, i) => s + (a - f[i]!) ** 2, 0) / e.reduce((s, a) => s + a * a, 0));
        assert.ok(rel < 1e-2, `|Hv - fd| / |Hv| = ${rel}`);
        tf.dispose(fd.product);
      }
      tf.dispose([v, exact.product]);
      assert.equal(tf.memory().numTensors, before, `${backend}: tensors leaked`);
      model.dispose();
      tf.dispose([x, y]);
    }
    for (const f of ['conv2d', 'conv2dBackpropInput', 'conv2dBackpropFilter', 'maxPool', 'maxPoolGrad', 'matMul']) {
      assert.ok(counts[f]! > 0, `${f} was not called`);
    }
    const c = products.cpu!;
    const n = products.native!;
    const scale = Math.max(...c.map(Math.abs));
    const diff = Math.max(...n.map((a, i) => Math.abs(a - c[i]!)));
    assert.ok(diff <= 1e-4 * scale, `max |Hv_native - Hv_cpu| = ${diff} (max |Hv_cpu| ${scale})`);
  });

  test('sigma_max and the trace of the tiny CNN agree between cpu and native', async () => {
    const results: Record<string, { sigma: number; trace: number }> = {};
    for (const backend of ['cpu', 'native'] as const) {
      await initBackend({ backend });
      const model = tinyCnn(3);
      const { x, y } = exampleTensors(cnnExamples, 2);
      const rec = measureSharpness(modelObjective(model, x, y), { rho: 0.05, seed: 4, traceSamples: 10 });
      assert.equal(rec.hessianMethod, 'double-backprop');
      results[backend] = { sigma: rec.sigmaMax, trace: rec.trace };
      model.dispose();
      tf.dispose([x, y]);
    }
    assert.ok(
      relErr(results.native!.sigma, results.cpu!.sigma) < 1e-3,
      `sigma_max native ${results.native!.sigma} vs cpu ${results.cpu!.sigma}`,
    );
    assert.ok(
      relErr(results.native!.trace, results.cpu!.trace) < 1e-3,
      `trace native ${results.native!.trace} vs cpu ${results.cpu!.trace}`,
    );
  });
});
