/**
 * Dense and convolution layers fused under a first-order tape (src/backend/training-fusion.ts): the
 * same values and gradients as tfjs's unfused ops (and as cpu) over transposes, bias shapes, strides,
 * paddings and both activations; fewer kernels; tfjs's own op for the cases not covered and for
 * higher-order gradients (bit for bit); SGD steps of the report's models as before; nothing leaked.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/backend/index.js';
import { setTrainingFusion } from '../../src/backend/training-fusion.js';
import { createCnn, createMlp } from '../../src/models/index.js';
import { assertClose, uniform } from './helpers.js';

before(async () => {
  const info = await initBackend({ backend: 'wasm', threads: 1 });
  assert.equal(info.name, 'wasm');
});
after(() => setTrainingFusion(true));

/** Values and gradients of `f` with respect to `xs`, with the fused path on or off; kernel names run. */
async function gradsWith(
  fused: boolean,
  make: () => tf.Tensor[],
  f: (...xs: tf.Tensor[]) => tf.Scalar,
): Promise<{ value: number; grads: Float32Array[]; kernels: string[] }> {
  const was = setTrainingFusion(fused);
  try {
    const before = tf.memory().numTensors;
    const xs = make();
    let out: { value: tf.Scalar; grads: tf.Tensor[] } | null = null;
    const profile = await tf.profile(() => {
      out = tf.valueAndGrads(f)(xs);
      return [out.value, ...out.grads];
    });
    const { value, grads } = out!;
    const result = {
      value: value.dataSync()[0]!,
      grads: grads.map((g) => Float32Array.from(g.dataSync())),
      kernels: profile.kernels.map((k) => k.name),
    };
    tf.dispose([value, ...grads, ...xs]);
    assert.equal(tf.memory().numTensors, before, 'tensors leaked');
    return result;
  } finally {
    setTrainingFusion(was);
  }
}

/** Asserts that the fused and the unfused path agree and that the fused one ran `expect` kernels. */
async function assertFusedMatches(
  make: () => tf.Tensor[],
  f: (...xs: tf.Tensor[]) => tf.Scalar,
  expect: string[],
  what: string,
): Promise<void> {
  const on = await gradsWith(true, make, f);
  const off = await gradsWith(false, make, f);
  assertClose(Float32Array.of(on.value), Float32Array.of(off.value), `${what}: value`, 1e-5);
  on.grads.forEach((g, i) => assertClose(g, off.grads[i]!, `${what}: gradient ${i}`, 1e-5));
  assert.ok(
    on.grads.every((g) => g.some((v) => v !== 0)),
    `${what}: every gradient is non-zero`,
  );
  for (const k of expect) assert.ok(on.kernels.includes(k), `${what}: ${k} ran (${on.kernels.join(' ')})`);
  assert.ok(on.kernels.length < off.kernels.length, `${what}: ${on.kernels.length} kernels fused vs ${off.kernels.length} unfused`);
}

const t = (shape: number[], seed: number): tf.Tensor =>
  tf.tensor(
    uniform(
      shape.reduce((p, d) => p * d, 1),
      seed,
      -1,
      1,
    ),
    shape,
  );

describe('fused dense under a first-order tape', () => {
  const [m, k, n] = [6, 5, 4];
  for (const transposeA of [false, true])
    for (const transposeB of [false, true])
      for (const bias of ['none', '[n]', '[1,n]'] as const)
        for (const activation of ['linear', 'relu'] as const) {
          const what = `transposeA ${transposeA}, transposeB ${transposeB}, bias ${bias}, ${activation}`;
          test(what, async () => {
            const make = (): tf.Tensor[] => {
              const xs = [t(transposeA ? [k, m] : [m, k], 1), t(transposeB ? [n, k] : [k, n], 2), t([m, n], 3)];
              if (bias !== 'none') xs.push(t(bias === '[n]' ? [n] : [1, n], 4));
              return xs;
            };
            // A weighted sum of the outputs, so that dy differs per element.
            const f = (a: tf.Tensor, b: tf.Tensor, r: tf.Tensor, c?: tf.Tensor): tf.Scalar =>
              tf.sum(tf.mul(tf.fused.matMul({ a, b, transposeA, transposeB, bias: c, activation }), r));
            const expect = ['_FusedMatMul', 'BatchMatMul', ...(activation === 'relu' ? ['FlatminimaReluGrad'] : [])];
            await assertFusedMatches(make, f, expect, what);
          });
        }

  test('the gradient equals the cpu backend (unfused there)', async () => {
    const xv = uniform(6 * 5, 11);
    const wv = uniform(5 * 4, 12);
    const bv = uniform(4, 13);
    const rv = uniform(6 * 4, 14);
    const fn = (): tf.Tensor[] => {
      const [x, w, b, r] = [tf.tensor2d(xv, [6, 5]), tf.tensor2d(wv, [5, 4]), tf.tensor1d(bv), tf.tensor2d(rv, [6, 4])];
      const f = (w: tf.Tensor, b: tf.Tensor): tf.Scalar => tf.sum(tf.mul(tf.fused.matMul({ a: x, b: w, bias: b, activation: 'relu' }), r));
      return tf.grads(f)([w, b]);
    };
    await tf.setBackend('wasm');
    const wasm = tf.tidy(fn).map((g) => Float32Array.from(g.dataSync()));
    await tf.setBackend('cpu');
    const cpu = tf.tidy(fn).map((g) => Float32Array.from(g.dataSync()));
    await tf.setBackend('wasm');
    wasm.forEach((g, i) => assertClose(g, cpu[i]!, `gradient ${i}`, 1e-5));
  });

  test('other activations and ranks run tfjs own op, with the same results', async () => {
    const make = (): tf.Tensor[] => [t([6, 5], 1), t([5, 4], 2)];
    for (const activation of ['elu', 'relu6', 'sigmoid'] as const) {
      const f = (a: tf.Tensor, b: tf.Tensor): tf.Scalar => tf.sum(tf.fused.matMul({ a, b, activation }));
      const on = await gradsWith(true, make, f);
      const off = await gradsWith(false, make, f);
      assert.deepEqual(on.kernels, off.kernels, activation);
      assert.deepEqual(on.grads, off.grads, activation);
    }
    const batched = (): tf.Tensor[] => [t([2, 6, 5], 5), t([2, 5, 4], 6)];
    const f3 = (a: tf.Tensor, b: tf.Tensor): tf.Scalar => tf.sum(tf.fused.matMul({ a, b, activation: 'relu' }));
    const on = await gradsWith(true, batched, f3);
    const off = await gradsWith(false, batched, f3);
    assert.deepEqual(on.kernels, off.kernels, 'rank 3');
    assert.deepEqual(on.grads, off.grads, 'rank 3');
  });

  test('mismatched inner dimensions still get tfjs error message', () => {
    assert.throws(
      () => tf.grad((a: tf.Tensor) => tf.sum(tf.fused.matMul({ a, b: tf.ones([4, 3]) })))(tf.ones([2, 5])),
      /inner shapes \(5\) and \(4\)/,
    );
  });
});

describe('fused conv2d under a first-order tape', () => {
  const cases: { strides: [number, number] | number; pad: 'same' | 'valid' | number }[] = [
    { strides: 1, pad: 'valid' },
    { strides: 1, pad: 'same' },
    { strides: [2, 2], pad: 'same' },
    { strides: [2, 1], pad: 'valid' },
    { strides: 1, pad: 1 },
  ];
  for (const { strides, pad } of cases)
    for (const withBias of [false, true])
      for (const activation of ['linear', 'relu'] as const) {
        const what = `strides ${JSON.stringify(strides)}, pad ${pad}, ${withBias ? 'bias' : 'no bias'}, ${activation}`;
        test(what, async () => {
          const outShape = tf.backend_util.computeConv2DInfo([2, 7, 6, 3], [3, 3, 3, 4], strides, 1, pad).outShape;
          const make = (): tf.Tensor[] => {
            const xs = [t([2, 7, 6, 3], 1), t([3, 3, 3, 4], 2), t(outShape, 3)];
            if (withBias) xs.push(t([4], 4));
            return xs;
          };
          const f = (x: tf.Tensor, filter: tf.Tensor, r: tf.Tensor, bias?: tf.Tensor): tf.Scalar =>
            tf.sum(tf.mul(tf.fused.conv2d({ x: x as tf.Tensor4D, filter: filter as tf.Tensor4D, strides, pad, bias, activation }), r));
          const expect = [
            'FusedConv2D',
            'Conv2DBackpropInput',
            'Conv2DBackpropFilter',
            ...(activation === 'relu' ? ['FlatminimaReluGrad'] : []),
          ];
          await assertFusedMatches(make, f, expect, what);
        });
      }

  test('cases not covered (a dilation, a rounding mode) run tfjs own op', async () => {
    const make = (): tf.Tensor[] => [t([1, 8, 8, 2], 1), t([3, 3, 2, 3], 2)];
    const variants: Partial<Parameters<typeof tf.fused.conv2d>[0]>[] = [
      { dilations: 2, pad: 'same' },
      { pad: 1, dimRoundingMode: 'floor' },
    ];
    for (const extra of variants) {
      const f = (x: tf.Tensor, filter: tf.Tensor): tf.Scalar =>
        tf.sum(
          tf.fused.conv2d({ x: x as tf.Tensor4D, filter: filter as tf.Tensor4D, strides: 1, pad: 'valid', activation: 'relu', ...extra }),
        );
      if (extra.dilations != null) {
        // tfjs has no gradient for dilated convolutions: the forward pass must simply be tfjs's.
        const on = tf.tidy(() => {
          setTrainingFusion(true);
          const [x, filter] = make();
          return Float32Array.from(f(x!, filter!).dataSync());
        });
        const off = tf.tidy(() => {
          setTrainingFusion(false);
          const [x, filter] = make();
          return Float32Array.from(f(x!, filter!).dataSync());
        });
        setTrainingFusion(true);
        assert.deepEqual(on, off);
        continue;
      }
      const on = await gradsWith(true, make, f);
      const off = await gradsWith(false, make, f);
      assert.deepEqual(on.kernels, off.kernels, JSON.stringify(extra));
      assert.deepEqual(on.grads, off.grads, JSON.stringify(extra));
    }
  });
});

describe('models and higher-order gradients', () => {
  /** One SGD step of `model` on a fixed batch, with the fused path on or off: the new weights and the kernel count. */
  async function sgdStep(fused: boolean, build: () => tf.LayersModel, x: () => tf.Tensor, classes: number) {
    const was = setTrainingFusion(fused);
    try {
      const model = build();
      const xs = tf.tidy(x);
      const ys = tf.tidy(() => tf.oneHot(tf.tensor1d([0, 1, classes - 1, 1], 'int32'), classes).toFloat());
      const opt = tf.train.sgd(0.1);
      const loss = (): tf.Scalar => tf.mean(tf.metrics.categoricalCrossentropy(ys, model.apply(xs) as tf.Tensor)) as tf.Scalar;
      const profile = await tf.profile(() => opt.minimize(loss, true)!);
      const weights = model.getWeights().map((w) => Float32Array.from(w.dataSync()));
      tf.dispose([xs, ys, profile.result as tf.Tensor]);
      opt.dispose();
      model.dispose();
      return { weights, kernels: profile.kernels.length };
    } finally {
      setTrainingFusion(was);
    }
  }

  test('an SGD step of the report MLP and CNN gives the weights of the unfused path, in fewer kernels', async () => {
    const mlp = (): tf.LayersModel => createMlp({ seed: 3 });
    const cnn = (): tf.LayersModel => createCnn({ seed: 3, inputShape: [12, 12, 1] });
    for (const [name, build, x, classes, fewer] of [
      ['MLP', mlp, () => t([4, 2], 7), 2, 20],
      ['CNN', cnn, () => tf.abs(t([4, 12, 12, 1], 8)), 10, 15],
    ] as const) {
      const before = tf.memory().numTensors;
      const on = await sgdStep(true, build, x, classes);
      const off = await sgdStep(false, build, x, classes);
      assert.equal(tf.memory().numTensors, before, `${name}: tensors leaked`);
      on.weights.forEach((w, i) => assertClose(w, off.weights[i]!, `${name} weight ${i}`, 1e-5));
      assert.ok(on.kernels <= off.kernels - fewer, `${name}: ${on.kernels} kernels fused vs ${off.kernels}`);
    }
  });

  test('Hessian-vector products (depth-2 tapes) run tfjs own ops: bit for bit the same', async () => {
    const make = (): tf.Tensor[] => [t([5, 3], 1), t([3, 4], 2), t([4], 3), t([4, 2], 4), t([3, 4], 5)];
    const hvp = (fused: boolean): Float32Array => {
      const was = setTrainingFusion(fused);
      try {
        return tf.tidy(() => {
          const [x, w1, b1, w2, v] = make();
          const loss = (w: tf.Tensor): tf.Scalar => {
            const h = tf.fused.matMul({ a: x!, b: w, bias: b1, activation: 'relu' });
            return tf.sum(tf.square(tf.fused.matMul({ a: h, b: w2! })));
          };
          const h = tf.grad((w: tf.Tensor) => tf.sum(tf.mul(tf.grad(loss)(w), v!)))(w1!);
          return Float32Array.from(h.dataSync());
        });
      } finally {
        setTrainingFusion(was);
      }
    };
    const on = hvp(true);
    const off = hvp(false);
    assert.ok(
      on.some((v) => v !== 0),
      'non-zero Hessian-vector product',
    );
    assert.deepEqual(on, off);
  });

  test('no tensor left after 300 fused gradients of the MLP', () => {
    const model = createMlp({ seed: 1 });
    const x = t([16, 2], 9);
    const y = tf.tidy(() =>
      tf
        .oneHot(
          tf.tensor1d(
            Array.from({ length: 16 }, (_, i) => i % 2),
            'int32',
          ),
          2,
        )
        .toFloat(),
    );
    const vars = model.trainableWeights.map((w) => (w as unknown as { val: tf.Variable }).val);
    const before = tf.memory().numTensors;
    for (let i = 0; i < 300; i++) {
      const { value, grads } = tf.variableGrads(
        () => tf.mean(tf.metrics.categoricalCrossentropy(y, model.apply(x) as tf.Tensor)) as tf.Scalar,
        vars,
      );
      tf.dispose([value, ...Object.values(grads)]);
    }
    assert.equal(tf.memory().numTensors, before);
    tf.dispose([x, y]);
    model.dispose();
  });
});
