/**
 * Each wasm training kernel agrees with the cpu backend, on values and on gradients through
 * tf.grads, over a grid of shapes, strides, paddings, channel counts and batch sizes, with inputs
 * of both signs (and all-negative / tied max-pool windows, where the stock wasm kernel is wrong).
 */
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/backend/index.js';
import { maxPoolGradFor, maxPoolGradSimdError } from '../../src/backend/kernels/max-pool-grad-simd.js';
import { assertSameOnBoth, runOn, assertClose, sizeOf, uniform } from './helpers.js';

before(async () => {
  const info = await initBackend({ backend: 'wasm', threads: 1 });
  assert.equal(info.name, 'wasm');
});

type Pad = 'same' | 'valid' | number | [[number, number], [number, number], [number, number], [number, number]];

const PADS: Pad[] = [
  'same',
  'valid',
  1,
  [
    [0, 0],
    [2, 1],
    [0, 3],
    [0, 0],
  ],
];
const STRIDES: (number | [number, number])[] = [1, 2, 3, [2, 1]];
// [batch, height, width, inChannels, kh, kw, outChannels]: im2col (kh*kw*Ci <= 27) and swapped-conv
// paths, 1x1 kernels (stride > kernel), non-square images and kernels.
const CONV_SHAPES: [number, number, number, number, number, number, number][] = [
  [2, 9, 9, 1, 3, 3, 4],
  [1, 10, 8, 3, 2, 3, 5],
  [3, 9, 10, 8, 3, 3, 4],
  [2, 7, 7, 5, 1, 1, 3],
];

describe('Conv2DBackpropFilter / Conv2DBackpropInput', () => {
  for (const [n, h, w, ci, kh, kw, co] of CONV_SHAPES) {
    for (const strides of STRIDES) {
      for (const pad of PADS) {
        const name = `x[${n},${h},${w},${ci}] k${kh}x${kw}->${co} stride ${JSON.stringify(strides)} pad ${JSON.stringify(pad)}`;
        test(name, async () => {
          const xs = [n, h, w, ci];
          const ws = [kh, kw, ci, co];
          const xv = uniform(sizeOf(xs), 1);
          const wv = uniform(sizeOf(ws), 2);
          const fn = (): tf.Tensor[] => {
            const x = tf.tensor4d(xv, xs as [number, number, number, number]);
            const f = tf.tensor4d(wv, ws as [number, number, number, number]);
            const y = tf.conv2d(x, f, strides, pad);
            const r = tf.tensor(uniform(y.size, 3), y.shape);
            const g = tf.grads((a: tf.Tensor, b: tf.Tensor) =>
              tf.sum(tf.mul(tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, strides, pad), r)),
            )([x, f]);
            return [y, ...g];
          };
          await assertSameOnBoth(fn, name);
        });
      }
    }
  }

  test("forward FusedConv2D with 'same' padding and stride > kernel (stock wasm is wrong there)", async () => {
    const xv = uniform(2 * 8 * 8 * 3, 30);
    const wv = uniform(1 * 2 * 3 * 4, 31);
    const fn = (): tf.Tensor[] => {
      const x = tf.tensor4d(xv, [2, 8, 8, 3]);
      const filter = tf.tensor4d(wv, [1, 2, 3, 4]);
      const bias = tf.tensor1d([0.1, -0.1, 0.2, 0]);
      return [tf.fused.conv2d({ x, filter, strides: 3, pad: 'same', bias, activation: 'relu' })];
    };
    await assertSameOnBoth(fn, 'fused conv');
  });

  test('forward Conv2D with dilation 2, same and explicit padding', async () => {
    const xv = uniform(2 * 9 * 9 * 3, 32);
    const wv = uniform(3 * 3 * 3 * 4, 33);
    const fn = (): tf.Tensor[] => {
      const x = tf.tensor4d(xv, [2, 9, 9, 3]);
      const f = tf.tensor4d(wv, [3, 3, 3, 4]);
      return [
        tf.conv2d(x, f, 1, 'same', 'NHWC', 2),
        tf.conv2d(x, f, 1, [[0, 0], [1, 3], [2, 0], [0, 0]], 'NHWC', [2, 1]),
      ];
    };
    await assertSameOnBoth(fn, 'dilated conv');
  });

  test('NCHW data goes through the transposing fallback', async () => {
    const dyShape: [number, number, number, number] = [2, 4, 4, 4]; // NCHW: 4 channels, 4x4
    const inputShape = [2, 3, 9, 9]; // NCHW
    const dyv = uniform(sizeOf(dyShape), 4);
    const wv = uniform(3 * 3 * 3 * 4, 5);
    const xv = uniform(sizeOf(inputShape), 6);
    const attrs = { strides: [2, 2], pad: 'valid', dataFormat: 'NCHW', dimRoundingMode: undefined };
    const fn = (): tf.Tensor[] => {
      const dy = tf.tensor4d(dyv, dyShape);
      const f = tf.tensor4d(wv, [3, 3, 3, 4]);
      const x = tf.tensor4d(xv, inputShape as [number, number, number, number]);
      const dx = tf.engine().runKernel('Conv2DBackpropInput', { dy, filter: f }, { ...attrs, inputShape } as never) as tf.Tensor;
      const dw = tf.engine().runKernel('Conv2DBackpropFilter', { x, dy }, { ...attrs, filterShape: [3, 3, 3, 4] } as never) as tf.Tensor;
      return [dx, dw];
    };
    await assertSameOnBoth(fn, 'NCHW');
  });
});

describe('MaxPoolGrad', () => {
  const inputs: Record<string, (size: number, seed: number) => Float32Array> = {
    'both signs': (s, seed) => uniform(s, seed),
    'all negative': (s, seed) => uniform(s, seed, -2, -1),
    'tiny negative (below FLT_MIN)': (s, seed) => uniform(s, seed, -1, -0.5).map((v) => v * 1e-39),
    // Values from {-1, 0, 1}: many ties; the gradient must go to the FIRST maximum like cpu.
    ties: (s, seed) => uniform(s, seed, -1.5, 1.5).map((v) => Math.round(v)),
  };
  const configs: [number[], number | [number, number], number | [number, number], 'same' | 'valid' | number][] = [
    [[2, 8, 8, 3], 2, 2, 'valid'],
    [[2, 9, 9, 4], 3, 2, 'same'],
    [[1, 9, 7, 5], 2, 3, 'same'],
    [[3, 6, 6, 2], 3, 1, 'valid'],
    [[2, 7, 9, 8], [3, 2], [1, 2], 1],
    [[2, 6, 6, 32], 2, 2, 'valid'],
  ];
  for (const [xs, filterSize, strides, pad] of configs) {
    for (const [kind, gen] of Object.entries(inputs)) {
      const name = `x[${xs}] pool ${JSON.stringify(filterSize)} stride ${JSON.stringify(strides)} pad ${pad}, ${kind}`;
      test(name, async () => {
        const xv = gen(sizeOf(xs), 7);
        const fn = (): tf.Tensor[] => {
          const x = tf.tensor4d(xv, xs as [number, number, number, number]);
          const y = tf.maxPool(x, filterSize, strides, pad);
          const r = tf.tensor(uniform(y.size, 8), y.shape);
          const dx = tf.grad((a: tf.Tensor) => tf.sum(tf.mul(tf.maxPool(a as tf.Tensor4D, filterSize, strides, pad), r)))(x);
          return [y, dx];
        };
        // A max-pool gradient is a selection and a sum of at most a few dy values: exact up to order.
        await assertSameOnBoth(fn, name, 1e-6);
      });
    }
  }

  test('channel counts divisible by 4 ran through the WebAssembly SIMD routine', () => {
    assert.equal(maxPoolGradSimdError(), null);
    const b = tf.engine().findBackend('wasm') as unknown as { wasm: { asm?: { memory?: WebAssembly.Memory }; wasmMemory?: WebAssembly.Memory } };
    assert.ok(maxPoolGradFor((b.wasm.wasmMemory ?? b.wasm.asm!.memory)!) != null);
  });

  test('all-negative windows get their gradient (the stock wasm kernel drops it)', async () => {
    const xv = uniform(2 * 4 * 4 * 3, 9, -3, -1);
    const fn = (): tf.Tensor[] => {
      const x = tf.tensor4d(xv, [2, 4, 4, 3]);
      return [tf.grad((a: tf.Tensor) => tf.sum(tf.maxPool(a as tf.Tensor4D, 2, 2, 'valid')))(x)];
    };
    const [dx] = await runOn('wasm', fn);
    // Each 2x2 window passes exactly 1 to one element: 2*2*2*3 windows.
    assert.equal(dx!.reduce((a, b) => a + b, 0), 2 * 2 * 2 * 3);
  });
});

describe('BatchMatMul / _FusedMatMul', () => {
  const shapes: [number[], number[], boolean, boolean][] = [
    [[5, 7], [7, 3], false, false],
    [[7, 5], [7, 3], true, false],
    [[5, 7], [3, 7], false, true],
    [[7, 5], [3, 7], true, true],
    [[64, 40], [64, 12], true, false], // dense dW: x^T dy
    [[64, 12], [40, 12], false, true], // dense dX: dy W^T
    [[64, 3], [64, 100], true, false], // picks the swapped form
    [[1, 7, 5], [1, 3, 7], true, true],
    [[2, 7, 5], [2, 7, 3], true, false], // batched: stock fallback
  ];
  for (const [as, bs, ta, tb] of shapes) {
    const name = `a[${as}]${ta ? 'ᵀ' : ''} b[${bs}]${tb ? 'ᵀ' : ''}`;
    test(name, async () => {
      const av = uniform(sizeOf(as), 10);
      const bv = uniform(sizeOf(bs), 11);
      const fn = (): tf.Tensor[] => {
        const a = tf.tensor(av, as);
        const b = tf.tensor(bv, bs);
        const c = tf.matMul(a, b, ta, tb);
        const r = tf.tensor(uniform(c.size, 12), c.shape);
        const g = tf.grads((p: tf.Tensor, q: tf.Tensor) => tf.sum(tf.mul(tf.matMul(p, q, ta, tb), r)))([a, b]);
        return [c, ...g];
      };
      await assertSameOnBoth(fn, name);
    });
  }

  test('fused matMul with transposes, bias and relu', async () => {
    const av = uniform(6 * 4, 13);
    const bv = uniform(5 * 6, 14);
    const biasv = uniform(5, 15);
    const fn = (): tf.Tensor[] => {
      const a = tf.tensor2d(av, [6, 4]);
      const b = tf.tensor2d(bv, [5, 6]);
      const bias = tf.tensor1d(biasv);
      return [tf.fused.matMul({ a, b, transposeA: true, transposeB: true, bias, activation: 'relu' })];
    };
    await assertSameOnBoth(fn, 'fused');
  });
});

describe('Sum', () => {
  test('bias-gradient sums and other reductions', async () => {
    const xv = uniform(3 * 5 * 6 * 7, 16);
    const fn = (): tf.Tensor[] => {
      const x = tf.tensor4d(xv, [3, 5, 6, 7]);
      return [
        tf.sum(x, [0, 1, 2]),
        tf.sum(x, [0, 1, 2], true),
        tf.sum(x, [2, 0, -3]),
        tf.sum(x, [1, 2]),
        tf.sum(x, -1),
        tf.sum(x),
      ];
    };
    await assertSameOnBoth(fn, 'sum');
  });

  test('conv bias gradient through tf.grad', async () => {
    const xv = uniform(2 * 6 * 6 * 3, 17);
    const fn = (): tf.Tensor[] => {
      const x = tf.tensor4d(xv, [2, 6, 6, 3]);
      const bias = tf.tensor1d([0.1, -0.2, 0.3]);
      return [tf.grad((b: tf.Tensor) => tf.sum(tf.square(tf.add(x, b))))(bias)];
    };
    const [w] = await runOn('wasm', fn);
    const [c] = await runOn('cpu', fn);
    assertClose(w!, c!, 'bias grad');
  });
});
