import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { SharpnessRecordSchema } from '../../src/experiments/schema.js';
import {
  filterNormalizedDirection,
  hessianTopEigenvalue,
  hessianVectorProduct,
  hessianTrace,
  lossLandscape1D,
  lossLandscape2D,
  measureSharpness,
  modelObjective,
} from '../../src/sharpness/index.js';
import { lossValue, valueAndGradient } from '../../src/sharpness/objective.js';
import { Rng } from '../../src/util/random.js';
import { dominantEigenvalue, fingerprint, jacobiEigenvalues, relErr, type Matrix } from './helpers.js';

tf.setBackend('cpu');

/** A 2-3-2 ReLU/softmax MLP with seeded weights and 7 labelled points. */
function tinyMlp(): { model: tf.Sequential; x: tf.Tensor2D; y: tf.Tensor2D; dispose: () => void } {
  const model = tf.sequential();
  model.add(
    tf.layers.dense({
      units: 3,
      inputShape: [2],
      activation: 'relu',
      kernelInitializer: tf.initializers.glorotNormal({ seed: 11 }),
      biasInitializer: tf.initializers.constant({ value: 0.1 }),
    }),
  );
  model.add(tf.layers.dense({ units: 2, activation: 'softmax', kernelInitializer: tf.initializers.glorotNormal({ seed: 12 }) }));
  const x = tf.tensor2d([
    [0.5, 1.0],
    [-1.2, 0.3],
    [0.8, -0.7],
    [1.5, 1.1],
    [-0.4, -1.3],
    [0.1, 0.9],
    [-1.0, -0.2],
  ]);
  const y = tf.tensor2d([
    [1, 0],
    [0, 1],
    [1, 0],
    [0, 1],
    [0, 1],
    [1, 0],
    [0, 1],
  ]);
  return {
    model,
    x,
    y,
    dispose: () => {
      model.dispose();
      tf.dispose([x, y]);
    },
  };
}

/** The Keras categorical cross-entropy, written here independently of src/sharpness. */
function referenceLoss(model: tf.LayersModel, x: tf.Tensor, y: tf.Tensor): tf.Scalar {
  return tf.tidy(() => tf.mean(tf.metrics.categoricalCrossentropy(y, model.apply(x) as tf.Tensor)) as tf.Scalar);
}

function flatGradient(model: tf.LayersModel, x: tf.Tensor, y: tf.Tensor, vars: tf.Variable[]): number[] {
  return tf.tidy(() => {
    const { grads } = tf.variableGrads(() => referenceLoss(model, x, y), vars);
    return vars.flatMap((v) => Array.from(grads[v.name].dataSync()));
  });
}

/** Full Hessian by central differences of gradients, coordinate by coordinate, then symmetrised. */
function finiteDifferenceHessian(model: tf.LayersModel, x: tf.Tensor, y: tf.Tensor, vars: tf.Variable[], h: number): Matrix {
  const original = fingerprint(vars);
  const sizes = vars.map((v) => v.size);
  const n = sizes.reduce((a, b) => a + b, 0);
  const setCoordinate = (j: number, delta: number): void => {
    let k = j;
    let vi = 0;
    while (k >= sizes[vi]) k -= sizes[vi++];
    const data = Float32Array.from(original[vi]);
    data[k] += delta;
    vars[vi].assign(tf.tensor(data, vars[vi].shape));
  };
  const restore = (): void => vars.forEach((v, i) => v.assign(tf.tensor(original[i], v.shape)));
  const cols: number[][] = [];
  for (let j = 0; j < n; j++) {
    tf.tidy(() => setCoordinate(j, h));
    const gp = flatGradient(model, x, y, vars);
    tf.tidy(() => {
      restore();
      setCoordinate(j, -h);
    });
    const gm = flatGradient(model, x, y, vars);
    tf.tidy(restore);
    cols.push(gp.map((g, i) => (g - gm[i]) / (2 * h)));
  }
  return Array.from({ length: n }, (_, i) => Array.from({ length: n }, (_, j) => 0.5 * (cols[j][i] + cols[i][j])));
}

test('modelObjective: mean cross-entropy over all examples, chunked, with chunked gradients', () => {
  const m = tinyMlp();
  const before = tf.memory().numTensors;
  const vars = m.model.trainableWeights.map((w) => w.read() as tf.Variable);
  const ref = referenceLoss(m.model, m.x, m.y);
  const refValue = ref.dataSync()[0];
  ref.dispose();
  const refGrad = flatGradient(m.model, m.x, m.y, vars);
  for (const chunkSize of [1, 3, 7, 100]) {
    const obj = modelObjective(m.model, m.x, m.y, { chunkSize });
    assert.equal(obj.examples, 7);
    assert.equal(obj.chunks?.length, Math.ceil(7 / chunkSize));
    assert.deepEqual(obj.vars, vars);
    assert.ok(Math.abs(lossValue(obj) - refValue) < 1e-6, `chunkSize ${chunkSize}: ${lossValue(obj)} vs ${refValue}`);
    const { value, grads } = valueAndGradient(obj);
    assert.ok(Math.abs(value - refValue) < 1e-6);
    const flat = grads.flatMap((g) => Array.from(g.dataSync()));
    tf.dispose(grads);
    flat.forEach((g, i) => assert.ok(Math.abs(g - refGrad[i]) < 1e-6, `chunkSize ${chunkSize}, grad[${i}]: ${g} vs ${refGrad[i]}`));
  }
  assert.equal(tf.memory().numTensors, before);
  assert.throws(() => modelObjective(m.model, m.x, m.y, { chunkSize: 0 }), /chunkSize must be an integer >= 1, got 0/);
  assert.throws(() => modelObjective(m.model, m.x, tf.tensor1d([1])), /y must be a one-hot tensor/);
  m.dispose();
});

test('tiny MLP: Hessian-vector products, top eigenvalue and trace match a finite-difference Hessian', () => {
  const m = tinyMlp();
  const obj = modelObjective(m.model, m.x, m.y, { chunkSize: 3 });
  // With 7 examples and h = 2e-3 no ReLU kink is crossed, so this is the Hessian of the linear piece.
  const hessian = finiteDifferenceHessian(m.model, m.x, m.y, obj.vars, 2e-3);
  const want = dominantEigenvalue(hessian);
  const trace = hessian.reduce((s, row, i) => s + row[i], 0);
  const before = tf.memory().numTensors;
  const weights = fingerprint(obj.vars);

  // H v against the matrix, for both methods.
  const rng = new Rng(5);
  const vFlat = hessian.map(() => rng.normal());
  const hvWant = hessian.map((row) => row.reduce((s, hij, j) => s + hij * vFlat[j], 0));
  const hvScale = Math.hypot(...hvWant);
  let offset = 0;
  const v = obj.vars.map((w) => {
    const t = tf.tensor(vFlat.slice(offset, offset + w.size), w.shape);
    offset += w.size;
    return t;
  });
  for (const method of ['auto', 'finite-difference'] as const) {
    const { product, method: used, methodReason } = hessianVectorProduct(obj, v, { method });
    // The logits cross-entropy is twice differentiable in tfjs: 'auto' picks double back-propagation.
    if (method === 'auto') assert.equal(used, 'double-backprop', methodReason);
    const got = product.flatMap((t) => Array.from(t.dataSync()));
    tf.dispose(product);
    got.forEach((g, i) => assert.ok(Math.abs(g - hvWant[i]) < 1e-3 * hvScale, `${used} (Hv)[${i}] = ${g} vs ${hvWant[i]}`));
  }
  tf.dispose(v);

  const top = hessianTopEigenvalue(obj, { tol: 1e-6, maxIterations: 500, seed: 1 });
  assert.equal(top.method, 'double-backprop');
  assert.ok(top.converged, `not converged after ${top.iterations}`);
  assert.ok(
    relErr(top.value, want) < 2e-3,
    `sigma_max ${top.value} vs ${want}; spectrum ${jacobiEigenvalues(hessian).map((l) => l.toFixed(4))}`,
  );
  const topFd = hessianTopEigenvalue(obj, { tol: 1e-6, maxIterations: 500, seed: 1, method: 'finite-difference' });
  assert.ok(relErr(topFd.value, want) < 2e-3, `finite-difference sigma_max ${topFd.value} vs ${want}`);

  const samples = 400;
  const tr = hessianTrace(obj, { samples, seed: 2 });
  let offSq = 0;
  hessian.forEach((row, i) =>
    row.forEach((hij, j) => {
      if (i !== j) offSq += hij * hij;
    }),
  );
  const se = Math.sqrt((2 * offSq) / samples);
  assert.ok(Math.abs(tr.value - trace) < 4 * se, `trace ${tr.value} vs ${trace} (SE ${se})`);

  assert.equal(tf.memory().numTensors, before);
  assert.deepEqual(fingerprint(obj.vars), weights);
  m.dispose();
});

test("lossFrom 'probabilities': same loss, Softmax detected, central differences still match", () => {
  const m = tinyMlp();
  const logits = modelObjective(m.model, m.x, m.y);
  const probs = modelObjective(m.model, m.x, m.y, { lossFrom: 'probabilities' });
  assert.ok(Math.abs(lossValue(logits) - lossValue(probs)) < 1e-6);
  const before = tf.memory().numTensors;
  const a = hessianTopEigenvalue(logits, { tol: 1e-6, maxIterations: 500 });
  const b = hessianTopEigenvalue(probs, { tol: 1e-6, maxIterations: 500 });
  assert.equal(b.method, 'finite-difference');
  assert.match(b.methodReason, /Softmax/);
  assert.ok(relErr(b.value, a.value) < 2e-3, `${b.value} vs ${a.value}`);
  assert.equal(tf.memory().numTensors, before);
  assert.throws(() => modelObjective(m.model, m.x, m.y, { lossFrom: 'logit' as never }), /lossFrom must be one of/);
  const noSoftmax = tf.sequential({ layers: [tf.layers.dense({ units: 2, inputShape: [2] })] });
  assert.throws(() => modelObjective(noSoftmax, m.x, m.y, { lossFrom: 'logits' }), /lossFrom 'logits' needs/);
  noSoftmax.dispose();
  m.dispose();
});

test('filter-normalised directions: each output unit / channel has the norm of its weights', () => {
  const m = tinyMlp();
  const conv = tf.variable(tf.randomNormal([3, 3, 2, 4], 0, 1, 'float32', 5));
  const vars = [...(m.model.trainableWeights.map((w) => w.read()) as tf.Variable[]), conv];
  const before = tf.memory().numTensors;
  const columnNorms = (t: tf.Tensor): number[] =>
    tf.tidy(() => Array.from(tf.norm(tf.reshape(t, [-1, t.shape[t.rank - 1]]), 'euclidean', 0).dataSync()));
  for (const vectors of ['zero', 'whole'] as const) {
    const d = filterNormalizedDirection(vars, new Rng(3), vectors);
    vars.forEach((v, i) => {
      assert.deepEqual(d[i].shape, v.shape);
      if (v.rank >= 2) {
        const want = columnNorms(v);
        columnNorms(d[i]).forEach((n, c) => assert.ok(relErr(n, want[c]) < 1e-5, `var ${i} filter ${c}: ${n} vs ${want[c]}`));
      } else if (vectors === 'zero') {
        assert.ok(d[i].dataSync().every((x) => x === 0));
      } else {
        const nd = tf.tidy(() => tf.norm(d[i]).dataSync()[0]);
        const nw = tf.tidy(() => tf.norm(v).dataSync()[0]);
        assert.ok(relErr(nd, nw) < 1e-5);
      }
    });
    tf.dispose(d);
  }
  assert.equal(tf.memory().numTensors, before);
  conv.dispose();
  m.dispose();
});

test('landscape slices: L(w) at the origin, even grids, weights unchanged, no leak', () => {
  const m = tinyMlp();
  const obj = modelObjective(m.model, m.x, m.y);
  const l0 = lossValue(obj);
  const before = tf.memory().numTensors;
  const weights = fingerprint(obj.vars);
  const s1 = lossLandscape1D(obj, { points: 9, range: 0.5, seed: 4 });
  assert.deepEqual(s1.alphas, [-0.5, -0.375, -0.25, -0.125, 0, 0.125, 0.25, 0.375, 0.5]);
  assert.equal(s1.losses[4], l0);
  assert.ok(s1.losses.every(Number.isFinite));
  assert.ok(
    s1.losses.some((l) => Math.abs(l - l0) > 1e-4),
    'the slice moved the weights',
  );
  const s2 = lossLandscape2D(obj, { points: 5, seed: 4 });
  assert.equal(s2.losses.length, 5);
  assert.ok(s2.losses.every((row) => row.length === 5 && row.every(Number.isFinite)));
  assert.equal(s2.losses[2][2], l0);
  // Same seed: the 2-D slice's first direction is the 1-D slice's direction (at beta = 0).
  const s1b = lossLandscape1D(obj, { points: 5, seed: 4 });
  s1b.losses.forEach((l, i) => assert.ok(Math.abs(l - s2.losses[i][2]) < 1e-6));
  assert.equal(tf.memory().numTensors, before);
  assert.deepEqual(fingerprint(obj.vars), weights);
  assert.throws(() => lossLandscape1D(obj, { points: 1 }), /points must be an integer >= 2/);
  assert.throws(() => lossLandscape2D(obj, { range: -1 }), /range must be a finite number > 0/);
  assert.throws(() => lossLandscape1D(obj, { vectors: 'all' as never }), /vectors must be one of 'zero', 'whole'/);
  m.dispose();
});

test('measureSharpness returns a valid SharpnessRecord consistent with the single measures', () => {
  const m = tinyMlp();
  const obj = modelObjective(m.model, m.x, m.y, { chunkSize: 4 });
  const before = tf.memory().numTensors;
  const weights = fingerprint(obj.vars);
  const rec = measureSharpness(obj, { rho: 0.05, seed: 9, landscape: true, traceSamples: 4, landscapePoints1D: 5, landscapePoints2D: 3 });
  assert.equal(tf.memory().numTensors, before);
  assert.deepEqual(fingerprint(obj.vars), weights);
  SharpnessRecordSchema.parse(rec);
  assert.equal(rec.examples, 7);
  assert.equal(rec.rho, 0.05);
  const top = hessianTopEigenvalue(obj, { seed: 9 });
  assert.equal(rec.sigmaMax, top.value);
  assert.equal(rec.sigmaMaxIterations, top.iterations);
  assert.equal(rec.hessianMethod, top.method);
  assert.ok(relErr(rec.lemma3SigmaMax, (2 * rec.surrogateGap) / 0.05 ** 2) < 1e-12);
  assert.equal(rec.landscape1D?.losses.length, 5);
  assert.equal(rec.landscape2D?.losses.length, 3);
  assert.equal(measureSharpness(obj, { rho: 0.05, traceSamples: 2 }).landscape1D, undefined);
  assert.throws(() => measureSharpness(obj, { rho: 0 }), /rho must be a finite number > 0/);
  assert.throws(() => measureSharpness(obj, { rho: 0.1, traceSamples: 1 }), /measureSharpness: traceSamples must be an integer >= 2/);
  assert.throws(() => measureSharpness(obj, { rho: 0.1, landscape: 'yes' as never }), /landscape must be a boolean/);
  assert.throws(() => measureSharpness({ vars: obj.vars, loss: obj.loss }, { rho: 0.1 }), /examples must be an integer >= 1/);
  m.dispose();
});

test('a CNN (MaxPool, Conv2D) gets exact products; overlapping pooling windows fall back to central differences; no leak', () => {
  for (const pool of [{ poolSize: 2 }, { poolSize: 3, strides: 1 }]) {
    const model = tf.sequential();
    model.add(
      tf.layers.conv2d({
        filters: 2,
        kernelSize: 3,
        inputShape: [6, 6, 1],
        activation: 'relu',
        kernelInitializer: tf.initializers.glorotNormal({ seed: 1 }),
      }),
    );
    model.add(tf.layers.maxPooling2d(pool));
    model.add(tf.layers.flatten());
    model.add(tf.layers.dense({ units: 2, activation: 'softmax', kernelInitializer: tf.initializers.glorotNormal({ seed: 2 }) }));
    const x = tf.randomNormal([4, 6, 6, 1], 0, 1, 'float32', 3);
    const y = tf.tensor2d([
      [1, 0],
      [0, 1],
      [0, 1],
      [1, 0],
    ]);
    const obj = modelObjective(model, x, y, { chunkSize: 3 });
    const before = tf.memory().numTensors;
    const weights = fingerprint(obj.vars);
    const top = hessianTopEigenvalue(obj, { maxIterations: 20 });
    if (pool.poolSize === 2) {
      assert.equal(top.method, 'double-backprop', top.methodReason);
    } else {
      assert.equal(top.method, 'finite-difference');
      assert.match(top.methodReason, /non-overlapping windows/);
    }
    assert.ok(Number.isFinite(top.value));
    assert.equal(tf.memory().numTensors, before);
    assert.deepEqual(fingerprint(obj.vars), weights);
    model.dispose();
    tf.dispose([x, y]);
  }
});
