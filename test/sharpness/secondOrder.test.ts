/**
 * Exact Hessian-vector products through conv + ReLU + max-pool networks (src/sharpness/secondOrder.ts),
 * checked against a float64 finite-difference Hessian written independently of tfjs, and agreement of
 * the measures between the cpu and wasm backends from the same weights and examples.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/backend/index.js';
import {
  hessianTopEigenvalue,
  hessianTrace,
  hessianVectorProduct,
  measureSharpness,
  modelObjective,
  type Objective,
} from '../../src/sharpness/index.js';
import { Rng } from '../../src/util/random.js';
import { fingerprint, jacobiEigenvalues, relErr } from './helpers.js';
import { examples, exampleTensors, hessian64, smallMlp, tinyCnn, tinyCnnLoss64 } from './tinyModels.js';

const cnnExamples = examples(5, [6, 6, 1], 2, 7);
const mlpExamples = examples(24, [2], 2, 8);

/** Runs `fn` on a fresh tiny model on `backend` and disposes everything; asserts no tensor leaked. */
async function withModel<T>(backend: 'cpu' | 'wasm', kind: 'cnn' | 'mlp', fn: (obj: Objective, model: tf.Sequential) => T): Promise<T> {
  await initBackend({ backend });
  const model = kind === 'cnn' ? tinyCnn(3) : smallMlp(5);
  const { x, y } = kind === 'cnn' ? exampleTensors(cnnExamples, 2) : exampleTensors(mlpExamples, 2);
  const before = tf.memory().numTensors;
  try {
    const out = fn(modelObjective(model, x, y), model);
    assert.equal(tf.memory().numTensors, before, `tensors leaked on ${backend}`);
    return out;
  } finally {
    model.dispose();
    tf.dispose([x, y]);
  }
}

/** Every column H e_j of the objective's Hessian by hessianVectorProduct ('auto'). */
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
  return { h: Array.from({ length: n }, (_, i) => cols.map((c) => c[i])), methods };
}

function maxAbsDiff(a: number[][], b: number[][]): number {
  return Math.max(...a.flatMap((r, i) => r.map((v, j) => Math.abs(v - b[i][j]))));
}

test('tiny CNN (conv, ReLU, max-pool, softmax): exact Hessian-vector products match a float64 finite-difference Hessian', async () => {
  for (const backend of ['cpu', 'wasm'] as const) {
    await withModel(backend, 'cnn', (obj) => {
      const original = fingerprint(obj.vars);
      const theta = Float64Array.from(obj.vars.flatMap((v) => Array.from(v.dataSync())));
      assert.equal(theta.length, 38);
      const ref = tinyCnnLoss64(theta, cnnExamples);
      // The float64 reference computes the same function.
      const loss = obj.loss();
      assert.ok(relErr(loss.dataSync()[0], ref.loss) < 1e-5, 'float64 reference and tfjs loss differ');
      loss.dispose();
      // A step h moves any pre-activation or pooled value by at most 2h(1 + max|x|): stay off the kinks.
      const h = 1e-5;
      const maxX = Math.max(...cnnExamples.x.map(Math.abs));
      assert.ok(ref.margin > 4 * h * (1 + maxX), `examples too close to a kink (margin ${ref.margin})`);
      const reference = hessian64((t) => tinyCnnLoss64(t, cnnExamples).loss, theta, h);
      const { h: exact, methods } = hessianByProducts(obj);
      assert.deepEqual([...methods], ['double-backprop'], `'auto' must use double back-propagation on ${backend}`);
      const scale = Math.max(...reference.flat().map(Math.abs));
      const err = maxAbsDiff(exact, reference) / scale;
      assert.ok(err < 1e-4, `${backend}: max |H_tfjs - H_fd| / max |H| = ${err}`);
      // Its spectrum really has negative eigenvalues here: no PSD assumption is built in.
      assert.ok(Math.min(...jacobiEigenvalues(reference)) < 0);
      original.forEach((w, i) => assert.deepEqual(Float32Array.from(obj.vars[i].dataSync()), w));
    });
  }
});

test('softmax layer only: every Hutchinson probe is >= 0 (cross-entropy is convex in the last layer)', async () => {
  for (const backend of ['cpu', 'wasm'] as const) {
    await withModel(backend, 'cnn', (full, model) => {
      const last = model.layers[model.layers.length - 1].trainableWeights.map((w) => w.read() as tf.Variable);
      const obj: Objective = { vars: last, loss: full.loss };
      const rng = new Rng(3);
      for (let s = 0; s < 8; s++) {
        const z = last.map((v) =>
          tf.tensor(
            Array.from({ length: v.size }, () => (rng.uint32() & 1 ? 1 : -1)),
            v.shape,
          ),
        );
        const r = hessianVectorProduct(obj, z);
        const q = tf.tidy(() => tf.addN(r.product.map((p, i) => tf.sum(tf.mul(p, z[i])))).dataSync()[0]);
        tf.dispose([z, r.product]);
        assert.equal(r.method, 'double-backprop');
        assert.ok(q >= -1e-6, `${backend}: zᵀHz = ${q} < 0 on a convex block`);
      }
      const top = hessianTopEigenvalue(obj, { seed: 2 });
      assert.ok(top.value >= 0, `${backend}: dominant eigenvalue ${top.value} of a PSD block`);
    });
  }
});

test('sigma_max and trace agree between cpu and wasm (same weights, same examples) for a small MLP and the tiny CNN', async () => {
  for (const kind of ['mlp', 'cnn'] as const) {
    const results: Record<string, { sigma: number; trace: number; method: string }> = {};
    for (const backend of ['cpu', 'wasm'] as const) {
      results[backend] = await withModel(backend, kind, (obj) => {
        const original = fingerprint(obj.vars);
        const rec = measureSharpness(obj, { rho: 0.05, seed: 4, traceSamples: 10 });
        original.forEach((w, i) => assert.deepEqual(Float32Array.from(obj.vars[i].dataSync()), w, 'weights changed'));
        return { sigma: rec.sigmaMax, trace: rec.trace, method: rec.hessianMethod };
      });
    }
    const { cpu, wasm } = results;
    assert.equal(cpu.method, 'double-backprop', `${kind} on cpu`);
    assert.equal(wasm.method, 'double-backprop', `${kind} on wasm`);
    assert.ok(relErr(wasm.sigma, cpu.sigma) < 1e-3, `${kind}: sigma_max wasm ${wasm.sigma} vs cpu ${cpu.sigma}`);
    assert.ok(relErr(wasm.trace, cpu.trace) < 1e-3, `${kind}: trace wasm ${wasm.trace} vs cpu ${cpu.trace}`);
  }
});

test('trace of the tiny CNN by exact products is close to the true trace; method reported in the result', async () => {
  await withModel('cpu', 'cnn', (obj) => {
    const theta = Float64Array.from(obj.vars.flatMap((v) => Array.from(v.dataSync())));
    const reference = hessian64((t) => tinyCnnLoss64(t, cnnExamples).loss, theta, 1e-5);
    const exactTrace = reference.reduce((s, r, i) => s + r[i], 0);
    const tr = hessianTrace(obj, { seed: 9, samples: 200 });
    assert.equal(tr.method, 'double-backprop');
    // Hutchinson is unbiased: within 4 standard errors of the true trace.
    assert.ok(Math.abs(tr.value - exactTrace) < 4 * tr.stdError + 1e-6, `trace ${tr.value} ± ${tr.stdError} vs ${exactTrace}`);
  });
});

test("max pooling with 'same' padding and odd sizes: exact products match small-step central differences", async () => {
  for (const backend of ['cpu', 'wasm'] as const) {
    await initBackend({ backend });
    for (const padding of ['same', 'valid'] as const) {
      // 7x7 input → 5x5 conv output: 'same' pads the last row/column, 'valid' drops it.
      const model = tf.sequential();
      model.add(
        tf.layers.conv2d({
          filters: 2,
          kernelSize: 3,
          inputShape: [7, 7, 1],
          activation: 'relu',
          kernelInitializer: tf.initializers.glorotNormal({ seed: 1 }),
          biasInitializer: tf.initializers.constant({ value: 0.05 }),
        }),
      );
      model.add(tf.layers.maxPooling2d({ poolSize: 2, padding }));
      model.add(tf.layers.flatten());
      model.add(tf.layers.dense({ units: 2, activation: 'softmax', kernelInitializer: tf.initializers.glorotNormal({ seed: 2 }) }));
      const ex = examples(3, [7, 7, 1], 2, 13);
      const { x, y } = exampleTensors(ex, 2);
      const obj = modelObjective(model, x, y);
      const before = tf.memory().numTensors;
      const rng = new Rng(5);
      for (let k = 0; k < 2; k++) {
        const v = obj.vars.map((w) =>
          tf.tensor(
            Array.from({ length: w.size }, () => rng.normal()),
            w.shape,
          ),
        );
        const exact = hessianVectorProduct(obj, v);
        // A small step, so that (with 3 examples) no ReLU or pooling kink is crossed.
        const fd = hessianVectorProduct(obj, v, { method: 'finite-difference', fdRelativeStep: 1e-4 });
        const rel = tf.tidy(() => {
          const d = tf.addN(exact.product.map((p, i) => tf.sum(tf.square(tf.sub(p, fd.product[i])))));
          const s = tf.addN(exact.product.map((p) => tf.sum(tf.square(p))));
          return Math.sqrt(d.dataSync()[0] / s.dataSync()[0]);
        });
        assert.equal(exact.method, 'double-backprop');
        assert.ok(rel < 1e-2, `${backend} ${padding}: |Hv - fd| / |Hv| = ${rel}`);
        tf.dispose([v, exact.product, fd.product]);
      }
      assert.equal(tf.memory().numTensors, before, 'tensors leaked');
      model.dispose();
      tf.dispose([x, y]);
    }
  }
});
