/**
 * The spectrum measures on small networks (a 2-8-8-2 MLP and a conv/ReLU/max-pool CNN of 38
 * weights), against their full Hessian, built column by column from Hessian-vector products and
 * eigen-decomposed in float64 by Jacobi rotations (helpers.ts), and for the CNN against a float64
 * finite-difference Hessian written without tfjs (tinyModels.ts): top-k, the density's Ritz values,
 * the per-layer blocks; chunked products over a data set, with bounded memory; cpu and wasm agree;
 * measureSharpness records the spectrum when asked and nothing else changes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/backend/index.js';
import { SharpnessRecordSchema } from '../../src/experiments/schema.js';
import {
  hessianLayerSharpness,
  hessianSpectralDensity,
  hessianTopEigenvalues,
  hessianVectorProduct,
  measureSharpness,
  modelObjective,
  type Objective,
} from '../../src/sharpness/index.js';
import { Rng } from '../../src/util/random.js';
import { fingerprint, jacobiEigenvalues, relErr } from './helpers.js';
import { diagonalBlocks, hessianByProducts, integral, trace } from './spectrumHelpers.js';
import { examples, exampleTensors, hessian64, smallMlp, tinyCnn, tinyCnnLoss64 } from './tinyModels.js';

const cnnExamples = examples(5, [6, 6, 1], 2, 7);
const mlpExamples = examples(24, [2], 2, 8);
const descending = (xs: number[]): number[] => [...xs].sort((a, b) => b - a);

/** Runs `fn` on a fresh tiny model on `backend`, asserting it left no tensor and the weights as they were. */
async function withModel<T>(backend: 'cpu' | 'wasm', kind: 'cnn' | 'mlp', fn: (obj: Objective) => T, chunkSize?: number): Promise<T> {
  await initBackend({ backend });
  const model = kind === 'cnn' ? tinyCnn(3) : smallMlp(5);
  const { x, y } = kind === 'cnn' ? exampleTensors(cnnExamples, 2) : exampleTensors(mlpExamples, 2);
  try {
    const obj = modelObjective(model, x, y, { chunkSize });
    const before = tf.memory().numTensors;
    const weights = fingerprint(obj.vars);
    const out = fn(obj);
    assert.equal(tf.memory().numTensors, before, `tensors leaked on ${backend}`);
    assert.deepEqual(fingerprint(obj.vars), weights, 'weights changed');
    return out;
  } finally {
    model.dispose();
    tf.dispose([x, y]);
  }
}

const hessians = new Map<string, number[][]>();
/** The full Hessian of a model kind on cpu (the same seeded weights every time), computed once. */
function fullHessian(kind: 'cnn' | 'mlp', obj: Objective): number[][] {
  if (!hessians.has(kind)) hessians.set(kind, hessianByProducts(obj));
  return hessians.get(kind)!;
}

/** Clean-check of one measure call inside a model run. */
function measured<T>(obj: Objective, call: () => T): T {
  const before = tf.memory().numTensors;
  const weights = fingerprint(obj.vars);
  const out = call();
  assert.equal(tf.memory().numTensors, before, 'tensors leaked');
  assert.deepEqual(fingerprint(obj.vars), weights, 'weights changed');
  return out;
}

test('top-5 of a small MLP and the tiny CNN match the eigenvalues of the full Hessian within 1e-4 relative', async () => {
  for (const kind of ['mlp', 'cnn'] as const) {
    await withModel(
      'cpu',
      kind,
      (obj) => {
        const want = descending(jacobiEigenvalues(fullHessian(kind, obj)));
        const r = measured(obj, () => hessianTopEigenvalues(obj, { k: 5, seed: 1 }));
        assert.equal(r.method, 'double-backprop');
        assert.deepEqual(r.converged, [true, true, true, true, true]);
        r.values.forEach((v, i) => assert.ok(relErr(v, want[i]) < 1e-4, `${kind} λ${i + 1}: ${v} vs ${want[i]}`));
        // The spectrum has negative eigenvalues too: top-k is not a largest-magnitude search.
        assert.ok(want[want.length - 1] < 0);
      },
      7,
    );
  }
});

test('tiny CNN: top-5 against a float64 finite-difference Hessian computed without tfjs', async () => {
  await withModel('cpu', 'cnn', (obj) => {
    const theta = Float64Array.from(obj.vars.flatMap((v) => Array.from(v.dataSync())));
    const reference = descending(jacobiEigenvalues(hessian64((t) => tinyCnnLoss64(t, cnnExamples).loss, theta, 1e-5)));
    const r = measured(obj, () => hessianTopEigenvalues(obj, { k: 5 }));
    // Finite differences in float64 carry errors of ~1e-5 of the largest entry; Weyl bounds the
    // eigenvalues' shift by the error's norm.
    r.values.forEach((v, i) => assert.ok(Math.abs(v - reference[i]) < 1e-3 * reference[0], `λ${i + 1}: ${v} vs ${reference[i]}`));
  });
});

test('tiny CNN density: every Ritz value is an eigenvalue of the full Hessian, the weights sum to 1, the density integrates to 1', async () => {
  await withModel('cpu', 'cnn', (obj) => {
    const spectrum = jacobiEigenvalues(fullHessian('cnn', obj));
    const scale = Math.max(...spectrum.map(Math.abs));
    const d = measured(obj, () => hessianSpectralDensity(obj, { runs: 3, iterations: 38, seed: 2 }));
    for (const run of d.runs) {
      assert.ok(run.iterations <= 38);
      for (const theta of run.ritzValues) {
        const nearest = Math.min(...spectrum.map((l) => Math.abs(l - theta)));
        assert.ok(nearest < 1e-4 * scale, `Ritz value ${theta} is ${nearest} from the nearest eigenvalue`);
      }
      assert.ok(Math.abs(run.weights.reduce((s, w) => s + w, 0) - 1) < 1e-9);
      // The largest eigenvalue is reached by every run (a random start has a part along it).
      assert.ok(relErr(Math.max(...run.ritzValues), Math.max(...spectrum)) < 1e-4);
    }
    assert.ok(Math.abs(integral(d.grid, d.density) - 1) < 1e-6);
  });
});

test('per-layer sharpness: each variable’s top eigenvalue and trace are those of its diagonal block of the full Hessian', async () => {
  for (const kind of ['mlp', 'cnn'] as const) {
    await withModel('cpu', kind, (obj) => {
      const blocks = diagonalBlocks(fullHessian(kind, obj), obj.vars);
      const samples = 20;
      const r = measured(obj, () => hessianLayerSharpness(obj, { samples, seed: 4 }));
      assert.deepEqual(
        r.layers.map((l) => l.name),
        obj.vars.map((v) => v.name),
      );
      r.layers.forEach((l, i) => {
        const block = blocks[i];
        assert.equal(l.size, block.length);
        assert.deepEqual(l.shape, obj.vars[i].shape);
        const top = Math.max(...jacobiEigenvalues(block));
        assert.ok(relErr(l.topEigenvalue, top) < 1e-4, `${kind} ${l.name}: top ${l.topEigenvalue} vs ${top}`);
        assert.ok(l.topEigenvalueConverged);
        if (l.size <= samples) {
          assert.equal(l.traceMethod, 'exact');
          assert.ok(
            Math.abs(l.trace - trace(block)) < 1e-5 * Math.max(1, Math.abs(trace(block))),
            `${kind} ${l.name}: trace ${l.trace} vs ${trace(block)}`,
          );
          assert.equal(l.traceStdError, 0);
        } else {
          // Hutchinson: unbiased with per-probe variance 2 Σ_{i≠j} B_ij², so within 4 standard errors.
          assert.equal(l.traceMethod, 'hutchinson');
          let offSq = 0;
          block.forEach((row, a) =>
            row.forEach((x, b) => {
              if (a !== b) offSq += x * x;
            }),
          );
          const se = Math.sqrt((2 * offSq) / samples);
          assert.ok(Math.abs(l.trace - trace(block)) < 4 * se, `${kind} ${l.name}: trace ${l.trace} vs ${trace(block)} (SE ${se})`);
        }
      });
      if (kind === 'mlp')
        assert.ok(
          r.layers.some((l) => l.traceMethod === 'hutchinson'),
          'the 8x8 kernel is estimated',
        );
      assert.equal(
        r.products,
        r.layers.reduce((s, l) => s + l.products, 0),
      );
    });
  }
});

test('products over a data set in chunks: any chunk size gives the same spectrum; an example source gives bit-identical results', async () => {
  await initBackend({ backend: 'cpu' });
  const model = smallMlp(5);
  const { x, y } = exampleTensors(mlpExamples, 2);
  const whole = modelObjective(model, x, y, { chunkSize: 24 });
  const before = tf.memory().numTensors;
  const want = hessianTopEigenvalues(whole, { k: 3, seed: 3 }).values;
  for (const chunkSize of [1, 5, 7]) {
    const got = hessianTopEigenvalues(modelObjective(model, x, y, { chunkSize }), { k: 3, seed: 3 }).values;
    got.forEach((v, i) => assert.ok(relErr(v, want[i]) < 1e-5, `chunk ${chunkSize}: λ${i + 1} ${v} vs ${want[i]}`));
  }
  // The same chunks, made on demand by a source (as for a data set too large for one tensor).
  let made = 0;
  const source = {
    size: 24,
    chunk: (start: number, count: number) => {
      made++;
      return { x: tf.slice(x, [start], [count]), y: tf.slice(y, [start], [count]) };
    },
  };
  const fromTensors = hessianSpectralDensity(modelObjective(model, x, y, { chunkSize: 5 }), { runs: 1, iterations: 8 });
  const fromSource = hessianSpectralDensity(modelObjective(model, source, { chunkSize: 5 }), { runs: 1, iterations: 8 });
  assert.deepEqual(fromSource, fromTensors);
  assert.ok(made >= 8 * 5, `the source made ${made} chunks`);
  assert.equal(tf.memory().numTensors, before, 'chunks made on demand are freed');
  model.dispose();
  tf.dispose([x, y]);
});

test('memory of a product is bounded by the chunk, not by the data set', async () => {
  await initBackend({ backend: 'cpu' });
  const model = tinyCnn(3);
  const ex = examples(256, [6, 6, 1], 2, 11);
  const { x, y } = exampleTensors(ex, 2);
  const peak = async (chunkSize: number): Promise<number> => {
    const obj = modelObjective(model, x, y, { chunkSize });
    const v = obj.vars.map((w) => tf.onesLike(w));
    const bytes = tf.memory().numBytes;
    const info = await tf.profile(() => tf.dispose(hessianVectorProduct(obj, v).product));
    tf.dispose(v);
    return info.peakBytes - bytes;
  };
  const small = await peak(16);
  const large = await peak(256);
  assert.ok(small * 4 < large, `extra peak bytes: chunk 16 ${small}, chunk 256 ${large}`);
  model.dispose();
  tf.dispose([x, y]);
});

test('cpu and wasm agree on top-3 and on the density’s Ritz values (tiny CNN, same weights and examples)', async () => {
  const results: Record<string, { top: number[]; ritz: number[] }> = {};
  for (const backend of ['cpu', 'wasm'] as const) {
    results[backend] = await withModel(backend, 'cnn', (obj) => {
      const top = hessianTopEigenvalues(obj, { k: 3, seed: 6 });
      assert.equal(top.method, 'double-backprop', backend);
      const d = hessianSpectralDensity(obj, { runs: 1, iterations: 6, seed: 6 });
      return { top: top.values, ritz: d.runs[0].ritzValues };
    });
  }
  results.wasm.top.forEach((v, i) => assert.ok(relErr(v, results.cpu.top[i]) < 1e-4, `λ${i + 1}: wasm ${v} vs cpu ${results.cpu.top[i]}`));
  const scale = Math.max(...results.cpu.ritz.map(Math.abs));
  results.wasm.ritz.forEach((v, i) =>
    assert.ok(Math.abs(v - results.cpu.ritz[i]) < 1e-4 * scale, `Ritz ${i}: wasm ${v} vs cpu ${results.cpu.ritz[i]}`),
  );
});

test('measureSharpness records the spectrum when asked, from the same computations, and nothing else changes', async () => {
  await withModel('cpu', 'mlp', (obj) => {
    const plain = measureSharpness(obj, { rho: 0.05, seed: 9, traceSamples: 4 });
    assert.equal(plain.topEigenvalues, undefined);
    assert.equal(plain.density, undefined);
    assert.equal(plain.layers, undefined);
    const rec = measured(obj, () =>
      measureSharpness(obj, {
        rho: 0.05,
        seed: 9,
        traceSamples: 4,
        topK: 3,
        density: { runs: 2, iterations: 10, gridPoints: 64 },
        layers: { samples: 4 },
      }),
    );
    SharpnessRecordSchema.parse(rec);
    const { topEigenvalues, topEigenvaluesConverged, topEigenvaluesIterations, density, layers, ...base } = rec;
    assert.deepEqual(base, plain, 'the measures of a record without the spectrum are unchanged');
    const top = hessianTopEigenvalues(obj, { k: 3, seed: 11 });
    assert.deepEqual(topEigenvalues, top.values);
    assert.deepEqual(topEigenvaluesConverged, top.converged);
    assert.equal(topEigenvaluesIterations, top.iterations);
    const d = hessianSpectralDensity(obj, { runs: 2, iterations: 10, gridPoints: 64, seed: 12 });
    assert.deepEqual(density, {
      grid: d.grid,
      density: d.density,
      sigma: d.sigma,
      runs: d.runs.map((r) => ({ ritzValues: r.ritzValues, weights: r.weights })),
    });
    const l = hessianLayerSharpness(obj, { samples: 4, seed: 13 });
    assert.deepEqual(
      layers,
      l.layers.map((b) => ({ name: b.name, shape: b.shape, size: b.size, topEigenvalue: b.topEigenvalue, trace: b.trace })),
    );
    // A record round-trips through JSON and the schema.
    assert.deepEqual(SharpnessRecordSchema.parse(JSON.parse(JSON.stringify(rec))), rec);
  });
});

test('whatever the seed, the Lanczos start reaches the top eigenvalue', async () => {
  await withModel('cpu', 'mlp', (obj) => {
    const want = Math.max(...jacobiEigenvalues(fullHessian('mlp', obj)));
    const rng = new Rng(1);
    for (let s = 0; s < 3; s++) {
      const seed = rng.int(1000);
      const r = hessianTopEigenvalues(obj, { k: 1, seed });
      assert.ok(relErr(r.values[0], want) < 1e-4, `seed ${seed}: ${r.values[0]} vs ${want}`);
    }
  });
});
