/**
 * The small-product SIMD matmul (BatchMatMul / _FusedMatMul below SMALL_MATMUL_MAX_MACS) agrees with
 * the cpu backend over a sampled grid of m, n, k with every transpose combination, fused bias and
 * ReLU, through tf.grad of a dense layer, and on NaN / Infinity inputs.
 */
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/backend/index.js';
import { SMALL_MATMUL_MAX_MACS, matMul2d, smallMatMul, useSmallMatMul } from '../../src/backend/kernels/matmul.js';
import {
  BIAS_PER_COLUMN,
  BIAS_SCALAR,
  smallMatMulFor,
  smallMatMulModuleBytes,
  smallMatMulSimdError,
  type SmallMatMulFns,
} from '../../src/backend/kernels/small-matmul-simd.js';
import { WasmOps } from '../../src/backend/kernels/ops.js';
import { wasmMemoryOf } from '../../src/backend/wasm-internals.js';
import { Rng } from '../../src/util/random.js';
import { assertClose, assertSameOnBoth, runOn, sizeOf, uniform } from './helpers.js';

before(async () => {
  const info = await initBackend({ backend: 'wasm', threads: 1 });
  assert.equal(info.name, 'wasm');
});

const SIZES = [1, 2, 3, 5, 8, 31, 32, 33, 64];
const FLAGS: [boolean, boolean][] = [
  [false, false],
  [true, false],
  [false, true],
  [true, true],
];

/** [m, k, n] triples: the MLP's shapes plus a seeded sample of SIZES^3 (every size appears). */
function sampledDims(): [number, number, number][] {
  const rng = new Rng(7);
  const pick = (): number => SIZES[Math.floor(rng.next() * SIZES.length)]!;
  const out: [number, number, number][] = [
    [64, 2, 32],
    [64, 32, 32],
    [64, 32, 2],
    [32, 64, 32],
    [2, 64, 32],
    [32, 64, 2],
  ];
  for (const s of SIZES) out.push([s, pick(), pick()], [pick(), s, pick()], [pick(), pick(), s]);
  return out;
}

describe('small SIMD matmul', () => {
  test('the SIMD module compiled and the MLP products are routed to it', async () => {
    await tf.setBackend('wasm');
    const ops = new WasmOps(tf.backend());
    assert.ok(smallMatMulFor(wasmMemoryOf(ops.backend)) != null, `small matmul SIMD unavailable: ${smallMatMulSimdError()}`);
    assert.equal(useSmallMatMul(64, 32, 32), true);
    assert.equal(useSmallMatMul(32, 64, 32), true);
    assert.equal(useSmallMatMul(64, 1600, 128), false);
    assert.equal(useSmallMatMul(0, 3, 3), false);
    assert.ok(SMALL_MATMUL_MAX_MACS >= 64 * 32 * 32);
  });

  test('direct call on a hand-computed 2x3 @ 3x2 with transposed operands, bias and relu', async () => {
    await tf.setBackend('wasm');
    const before = tf.memory().numTensors;
    const ops = new WasmOps(tf.backend());
    // A = [[1, 2, 3], [-4, 5, -6]] stored transposed [3, 2]; B = [[1, 0], [0, 1], [1, -1]] stored transposed [2, 3].
    const at = ops.fromValues([3, 2], new Float32Array([1, -4, 2, 5, 3, -6]));
    const bt = ops.fromValues([2, 3], new Float32Array([1, 0, 1, 0, 1, -1]));
    const bias = ops.fromValues([2], new Float32Array([0.5, -20]));
    // A B = [[4, -1], [-10, 11]]; + bias = [[4.5, -21], [-9.5, -9]]; relu = [[4.5, 0], [0, 0]].
    const plain = smallMatMul(ops, at, bt, true, true, [2, 2]);
    const fused = smallMatMul(ops, at, bt, true, true, [2, 2], { info: bias, mode: 1 }, true);
    assert.ok(plain != null && fused != null);
    assert.deepEqual(Array.from(ops.view(plain)), [4, -1, -10, 11]);
    assert.deepEqual(Array.from(ops.view(fused)), [4.5, 0, 0, 0]);
    ops.free(at, bt, bias, plain, fused);
    assert.equal(tf.memory().numTensors, before);
  });

  test('the shared-memory (threaded build) variant: smm (strided A, 4-row blocks, column tails, scalar bias) and smmDot (k tail, bias)', () => {
    const memory = new WebAssembly.Memory({ initial: 1, maximum: 65536, shared: true });
    const fns = new WebAssembly.Instance(new WebAssembly.Module(smallMatMulModuleBytes(true)), { env: { memory } })
      .exports as unknown as SmallMatMulFns;
    const [m, k, n] = [6, 3, 13];
    const f = new Float32Array(memory.buffer);
    // A stored transposed [k, m] at float 0; B [n, k] at float 100, transposed into float 200; bias at 300; C at 400.
    const av = uniform(k * m, 1400);
    const bv = uniform(n * k, 1401);
    f.set(av, 0);
    f.set(bv, 100);
    f[300] = -0.125;
    fns.transpose(100 * 4, 200 * 4, n, k);
    for (let j = 0; j < n; j++) for (let q = 0; q < k; q++) assert.equal(f[200 + q * n + j], bv[j * k + q]);
    fns.smm(0, 200 * 4, 400 * 4, 300 * 4, m, n, k, 1, m, BIAS_SCALAR, 1);
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < n; j++) {
        let sum = 0;
        for (let q = 0; q < k; q++) sum += av[q * m + i]! * bv[j * k + q]!;
        const want = Math.max(sum - 0.125, 0);
        assert.ok(Math.abs(f[400 + i * n + j]! - want) <= 1e-6, `C[${i},${j}] = ${f[400 + i * n + j]} vs ${want}`);
      }
    }
    assert.equal(f[400 + m * n], 0, 'nothing written past C');
    // smmDot: A [5, 7] at 0, B stored [6, 7] at 100, per-column bias at 300, no relu; C at 400.
    const [m2, k2, n2] = [5, 7, 6];
    const a2 = uniform(m2 * k2, 1402);
    const b2 = uniform(n2 * k2, 1403);
    const bias2 = uniform(n2, 1404);
    f.set(a2, 0);
    f.set(b2, 100);
    f.set(bias2, 300);
    f.fill(0, 400, 500);
    fns.smmDot(0, 100 * 4, 400 * 4, 300 * 4, m2, n2, k2, BIAS_PER_COLUMN, 0);
    for (let i = 0; i < m2; i++) {
      for (let j = 0; j < n2; j++) {
        let sum = bias2[j]!;
        for (let q = 0; q < k2; q++) sum += a2[i * k2 + q]! * b2[j * k2 + q]!;
        assert.ok(Math.abs(f[400 + i * n2 + j]! - sum) <= 1e-6, `dot C[${i},${j}] = ${f[400 + i * n2 + j]} vs ${sum}`);
      }
    }
    assert.equal(f[400 + m2 * n2], 0, 'nothing written past C');
  });

  for (const [ta, tb] of FLAGS) {
    test(`matMul values and gradients, transposeA=${ta} transposeB=${tb}, sampled m,k,n`, async () => {
      const cases = sampledDims();
      const fn = (): tf.Tensor[] => {
        const outs: tf.Tensor[] = [];
        cases.forEach(([m, k, n], i) => {
          const as = ta ? [k, m] : [m, k];
          const bs = tb ? [n, k] : [k, n];
          const a = tf.tensor(uniform(sizeOf(as), 100 + i), as);
          const b = tf.tensor(uniform(sizeOf(bs), 200 + i), bs);
          const r = tf.tensor(uniform(m * n, 300 + i), [m, n]);
          outs.push(tf.matMul(a, b, ta, tb));
          outs.push(...tf.grads((p: tf.Tensor, q: tf.Tensor) => tf.sum(tf.mul(tf.matMul(p, q, ta, tb), r)))([a, b]));
        });
        return outs;
      };
      await assertSameOnBoth(fn, `matMul tA=${ta} tB=${tb}`);
    });
  }

  test('fused matMul: no bias / [n] / [1, n] / scalar bias, linear and relu, all transposes', async () => {
    const cases = sampledDims().filter((_, i) => i % 2 === 0);
    const fn = (): tf.Tensor[] => {
      const outs: tf.Tensor[] = [];
      cases.forEach(([m, k, n], i) => {
        const [ta, tb] = FLAGS[i % 4]!;
        const a = tf.tensor(uniform(m * k, 400 + i), ta ? [k, m] : [m, k]);
        const b = tf.tensor(uniform(k * n, 500 + i), tb ? [n, k] : [k, n]);
        const biases = [undefined, tf.tensor1d(uniform(n, 600 + i)), tf.tensor2d(uniform(n, 700 + i), [1, n]), tf.scalar(0.25)];
        for (const bias of biases) {
          for (const activation of ['linear', 'relu'] as const) {
            outs.push(tf.fused.matMul({ a, b, transposeA: ta, transposeB: tb, bias, activation }));
          }
        }
      });
      return outs;
    };
    await assertSameOnBoth(fn, 'fused');
  });

  test('rank-3 batch-1 operands (and a rank-3 fused call) give the cpu result', async () => {
    const fn = (): tf.Tensor[] => {
      const a = tf.tensor(uniform(5 * 7, 800), [1, 5, 7]);
      const b = tf.tensor(uniform(7 * 3, 801), [1, 7, 3]);
      return [
        tf.matMul(a, b),
        tf.matMul(a, b, false, false).reshape([5, 3]),
        tf.fused.matMul({ a, b, bias: tf.tensor1d(uniform(3, 804)), activation: 'relu' }),
      ];
    };
    await assertSameOnBoth(fn, 'rank 3');
  });

  test('gradients of a small dense layer (fused bias + relu) through tf.grad', async () => {
    const xv = uniform(33 * 5, 900);
    const wv = uniform(5 * 31, 901);
    const bv = uniform(31, 902);
    const fn = (): tf.Tensor[] => {
      const x = tf.tensor2d(xv, [33, 5]);
      const w = tf.tensor2d(wv, [5, 31]);
      const b = tf.tensor1d(bv);
      const f = (xx: tf.Tensor, ww: tf.Tensor, bb: tf.Tensor): tf.Scalar =>
        tf.sum(tf.square(tf.fused.matMul({ a: xx as tf.Tensor2D, b: ww as tf.Tensor2D, bias: bb, activation: 'relu' })));
      return tf.grads(f)([x, w, b]);
    };
    await assertSameOnBoth(fn, 'dense grads');
    // A tfjs-layers Dense layer (the MLP's building block) on both backends from the same weights.
    const layerFn = (): tf.Tensor[] => {
      const model = tf.sequential({ layers: [tf.layers.dense({ units: 31, activation: 'relu', inputShape: [5] })] });
      model.setWeights([tf.tensor2d(wv, [5, 31]), tf.tensor1d(bv)]);
      const x = tf.tensor2d(xv, [33, 5]);
      const [kernel, bias] = model.trainableWeights.map((w) => w.read());
      const { grads } = tf.variableGrads(() => tf.sum(tf.square(model.apply(x) as tf.Tensor)) as tf.Scalar);
      const y = model.apply(x) as tf.Tensor;
      const out = [y, ...Object.values(grads), tf.clone(kernel!), tf.clone(bias!)];
      model.dispose();
      return out;
    };
    await assertSameOnBoth(layerFn, 'dense layer');
  });

  test('batched products: equal batch dims and one side broadcast, all transposes, values, gradients, fused', async () => {
    // [batch dims of A, of B, m, k, n]
    const cases: [number[], number[], number, number, number][] = [
      [[3], [3], 5, 7, 4],
      [[2, 3], [], 5, 6, 9],
      [[1], [4], 2, 33, 3],
      [[2, 1], [2, 1], 8, 5, 31],
      [[], [2, 2], 6, 4, 2],
    ];
    const fn = (): tf.Tensor[] => {
      const outs: tf.Tensor[] = [];
      cases.forEach(([ba, bb, m, k, n], i) => {
        for (const [ta, tb] of FLAGS) {
          const as = [...ba, ...(ta ? [k, m] : [m, k])];
          const bs = [...bb, ...(tb ? [n, k] : [k, n])];
          const a = tf.tensor(uniform(sizeOf(as), 1500 + i), as);
          const b = tf.tensor(uniform(sizeOf(bs), 1600 + i), bs);
          const c = tf.matMul(a, b, ta, tb);
          const r = tf.tensor(uniform(c.size, 1700 + i), c.shape);
          outs.push(c);
          // tfjs's BatchMatMul gradient does not reduce broadcast batch dims (on any backend).
          if (ba.join() === bb.join())
            outs.push(...tf.grads((p: tf.Tensor, q: tf.Tensor) => tf.sum(tf.mul(tf.matMul(p, q, ta, tb), r)))([a, b]));
          const bias = tf.tensor1d(uniform(n, 1800 + i));
          outs.push(tf.fused.matMul({ a, b, transposeA: ta, transposeB: tb, bias, activation: 'relu' }));
        }
      });
      return outs;
    };
    await assertSameOnBoth(fn, 'batched');
    // A two-sided broadcast ([2, 1] with [1, 3]) is left to the stock kernel.
    const twoSided = (): tf.Tensor[] => [
      tf.matMul(tf.tensor(uniform(2 * 5 * 7, 1900), [2, 1, 5, 7]), tf.tensor(uniform(3 * 7 * 4, 1901), [1, 3, 7, 4])),
    ];
    await assertSameOnBoth(twoSided, 'two-sided broadcast');
  });

  test('fused activations other than linear / relu (and prelu) keep the XNNPACK / stock path', async () => {
    const fn = (): tf.Tensor[] => {
      const outs: tf.Tensor[] = [];
      for (const [ta, tb] of FLAGS) {
        const a = tf.tensor(uniform(6 * 5, 2000), ta ? [5, 6] : [6, 5]);
        const b = tf.tensor(uniform(5 * 7, 2001), tb ? [7, 5] : [5, 7]);
        const bias = tf.tensor1d(uniform(7, 2002));
        outs.push(tf.fused.matMul({ a, b, transposeA: ta, transposeB: tb, bias, activation: 'elu' }));
        outs.push(tf.fused.matMul({ a, b, transposeA: ta, transposeB: tb, bias, activation: 'leakyrelu', leakyreluAlpha: 0.1 }));
        outs.push(
          tf.fused.matMul({
            a,
            b,
            transposeA: ta,
            transposeB: tb,
            activation: 'prelu',
            preluActivationWeights: tf.tensor1d(uniform(7, 2003)),
          }),
        );
      }
      return outs;
    };
    await assertSameOnBoth(fn, 'other activations');
  });

  test('products above the threshold (XNNPACK, or the small routine where packing dominates) and the XNNPACK path called directly', async () => {
    // 80 x 90 x 80 = 576000 > SMALL_MATMUL_MAX_MACS: on 1 thread NN / TN are packing-bound (few rows
    // or columns) and go to the small routine, NT / TT to XNNPACK; 200 x 30 x 160 goes to XNNPACK.
    assert.equal(useSmallMatMul(80, 90, 80), false);
    const product = (m: number, k: number, n: number, seed: number) => (): tf.Tensor[] =>
      FLAGS.map(([ta, tb]) =>
        tf.matMul(tf.tensor(uniform(m * k, seed), ta ? [k, m] : [m, k]), tf.tensor(uniform(k * n, seed + 1), tb ? [n, k] : [k, n]), ta, tb),
      );
    await assertSameOnBoth(product(80, 90, 80, 1100), 'above threshold');
    await assertSameOnBoth(product(200, 30, 160, 1110), 'XNNPACK-sized');
    // A dense layer's forward pass at batch 64 with a long input: packing-bound, fused bias + relu.
    const xv = uniform(64 * 700, 1120);
    const wv = uniform(700 * 40, 1121);
    const bv = uniform(40, 1122);
    await assertSameOnBoth(
      () => [tf.fused.matMul({ a: tf.tensor2d(xv, [64, 700]), b: tf.tensor2d(wv, [700, 40]), bias: tf.tensor1d(bv), activation: 'relu' })],
      'packing-bound dense',
    );
    // matMul2d directly, including the swapped form C = (op(B)^T op(A)^T)^T that [64,3]^T [64,100] picks.
    const shapes: [number[], number[], boolean, boolean][] = [
      [[64, 3], [64, 100], true, false],
      [[64, 12], [40, 12], false, true],
      [[7, 5], [3, 7], true, true],
      [[5, 7], [7, 3], false, false],
    ];
    const expected = await runOn('cpu', () =>
      shapes.map(([as, bs, ta, tb], i) =>
        tf.matMul(tf.tensor(uniform(sizeOf(as), 1200 + i), as), tf.tensor(uniform(sizeOf(bs), 1300 + i), bs), ta, tb),
      ),
    );
    await tf.setBackend('wasm');
    const ops = new WasmOps(tf.backend());
    shapes.forEach(([as, bs, ta, tb], i) => {
      const a = ops.fromValues(as, uniform(sizeOf(as), 1200 + i));
      const b = ops.fromValues(bs, uniform(sizeOf(bs), 1300 + i));
      const c = matMul2d(ops, a, b, ta, tb);
      assertClose(Float32Array.from(ops.view(c)), expected[i]!, `matMul2d ${as} ${bs}`);
      ops.free(a, b, c);
    });
  });

  test('NaN and Infinity propagate like cpu (0 * Infinity = NaN, no skipped terms)', async () => {
    const special = [NaN, Infinity, -Infinity, 0, 1, -2];
    const fn = (): tf.Tensor[] => {
      const outs: tf.Tensor[] = [];
      for (const [ta, tb] of FLAGS) {
        const av = uniform(9 * 6, 1000);
        const bv = uniform(6 * 10, 1001);
        av[3] = NaN;
        av[20] = Infinity;
        bv[7] = -Infinity;
        bv[40] = 0;
        av[41] = 0;
        bv[13] = Infinity;
        const a = tf.tensor(av, ta ? [6, 9] : [9, 6]);
        const b = tf.tensor(bv, tb ? [10, 6] : [6, 10]);
        outs.push(tf.matMul(a, b, ta, tb));
        outs.push(
          tf.fused.matMul({
            a,
            b,
            transposeA: ta,
            transposeB: tb,
            bias: tf.tensor1d(special.concat(special.slice(0, 4))),
            activation: 'relu',
          }),
        );
      }
      return outs;
    };
    const w = await runOn('wasm', fn);
    const c = await runOn('cpu', fn);
    w.forEach((arr, i) => {
      for (let j = 0; j < arr.length; j++) {
        const x = arr[j]!;
        const y = c[i]![j]!;
        if (Number.isNaN(y) || !Number.isFinite(y))
          assert.ok(Object.is(x, y) || (Number.isNaN(x) && Number.isNaN(y)), `output ${i}[${j}]: wasm ${x} vs cpu ${y}`);
        else assert.ok(Math.abs(x - y) <= 1e-4 * (1 + Math.abs(y)), `output ${i}[${j}]: wasm ${x} vs cpu ${y}`);
      }
    });
  });
});
