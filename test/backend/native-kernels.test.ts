/**
 * Each native kernel agrees with the cpu backend, on values and on gradients through tf.grads, over
 * the same grid of shapes, strides, paddings and channel counts as the wasm kernels
 * (kernel-grid.ts), convolutions in both of oneDNN's layouts; and the kernels really run on the
 * addon (its calls are counted) wherever they cover the case. Skipped where the addon is not built.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/backend/index.js';
import {
  registerNativeKernels,
  resetNativeSizeLimits,
  setNativeConvLayout,
  setNativeSizeLimits,
  type NativeConvLayout,
} from '../../src/backend/native-kernels.js';
import { RELU_GRAD_KERNEL } from '../../src/backend/kernels/elementwise.js';
import { assertClose, runOn, sizeOf, uniform } from './helpers.js';
import {
  COL2IM_SHAPES,
  COL2IM_STRIDES,
  CONV_SHAPES,
  MATMUL_SHAPES,
  PADS,
  POOL_CONFIGS,
  POOL_INPUTS,
  STRIDES,
  type Pad,
} from './kernel-grid.js';
import { SKIP_NATIVE, builtAddon, countingAddon, requireNativeWhereAsked, type CallCounts } from './native-helpers.js';

requireNativeWhereAsked();

let calls: CallCounts = {};

before(async () => {
  if (SKIP_NATIVE) return;
  const info = await initBackend({ backend: 'native', threads: 1 });
  assert.equal(info.name, 'native');
  const counting = countingAddon(builtAddon());
  registerNativeKernels(counting.addon);
  calls = counting.calls;
});

after(() => setNativeConvLayout('auto'));

/**
 * Runs `fn` on wasm with the native kernels and on cpu and compares every output; asserts that each
 * addon function in `expectNative` was called (the kernel did not take its wasm fallback).
 */
async function assertNativeMatchesCpu(fn: () => tf.Tensor[], what: string, expectNative: string[], tol?: number): Promise<void> {
  const before = { ...calls };
  const native = await runOn('wasm', fn);
  for (const name of expectNative) assert.ok(calls[name]! > before[name]!, `${what}: ${name} did not run on the addon`);
  const cpu = await runOn('cpu', fn);
  assert.equal(native.length, cpu.length);
  native.forEach((arr, i) => assertClose(arr, cpu[i]!, `${what} [output ${i}]`, tol));
}

/**
 * Whether the native convolutions take a case: oneDNN accepts a bottom/right pad down to 1 - stride
 * (tfjs's sizing of numeric pads can leave more unused rows than that; those go to the wasm kernel).
 */
function nativeCovers(xs: number[], ws: number[], strides: number | [number, number], pad: Pad): boolean {
  const info = tf.backend_util.computeConv2DInfo(
    xs as [number, number, number, number],
    ws as [number, number, number, number],
    strides,
    1,
    pad,
    undefined,
    false,
    'channelsLast',
  );
  const bottom = (info.outHeight - 1) * info.strideHeight + info.filterHeight - info.inHeight - info.padInfo.top;
  const right = (info.outWidth - 1) * info.strideWidth + info.filterWidth - info.inWidth - info.padInfo.left;
  return bottom > -info.strideHeight && right > -info.strideWidth;
}

const LAYOUTS: NativeConvLayout[] = ['plain', 'blocked'];

/** Conv shapes with enough channels for oneDNN's blocked kernels (16 per block on AVX-512, 8 on AVX2), the report CNN's conv2 among them. */
const WIDE_CONV_SHAPES: [number, number, number, number, number, number, number][] = [
  [2, 13, 13, 32, 3, 3, 64],
  [2, 9, 8, 16, 3, 2, 24],
  [1, 7, 7, 20, 1, 1, 17],
];

describe('native Conv2D / Conv2DBackpropInput / Conv2DBackpropFilter', { skip: SKIP_NATIVE }, () => {
  for (const layout of LAYOUTS) {
    for (const [n, h, w, ci, kh, kw, co] of [...CONV_SHAPES, ...WIDE_CONV_SHAPES]) {
      for (const strides of STRIDES) {
        for (const pad of PADS) {
          const name = `${layout}: x[${n},${h},${w},${ci}] k${kh}x${kw}->${co} stride ${JSON.stringify(strides)} pad ${JSON.stringify(pad)}`;
          test(name, async () => {
            setNativeConvLayout(layout);
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
            const expect = nativeCovers(xs, ws, strides, pad) ? ['conv2d', 'conv2dBackpropInput', 'conv2dBackpropFilter'] : [];
            await assertNativeMatchesCpu(fn, name, expect);
          });
        }
      }
    }
  }

  test("the grid mostly runs natively (few cases beyond oneDNN's pad limit)", () => {
    let covered = 0;
    let total = 0;
    for (const [n, h, w, ci, kh, kw, co] of CONV_SHAPES) {
      for (const strides of STRIDES) {
        for (const pad of PADS) {
          total++;
          if (nativeCovers([n, h, w, ci], [kh, kw, ci, co], strides, pad)) covered++;
        }
      }
    }
    assert.ok(covered >= 0.9 * total, `${covered} of ${total} grid cases run natively`);
  });

  for (const layout of LAYOUTS) {
    test(`${layout}: forward FusedConv2D with bias and relu, 'same' padding and stride > kernel`, async () => {
      setNativeConvLayout(layout);
      const xv = uniform(2 * 8 * 8 * 16, 30);
      const wv = uniform(1 * 2 * 16 * 16, 31);
      const bv = uniform(16, 32);
      const fn = (): tf.Tensor[] => {
        const x = tf.tensor4d(xv, [2, 8, 8, 16]);
        const filter = tf.tensor4d(wv, [1, 2, 16, 16]);
        const bias = tf.tensor1d(bv);
        return [
          tf.fused.conv2d({ x, filter, strides: 3, pad: 'same', bias, activation: 'relu' }),
          tf.fused.conv2d({ x, filter, strides: 1, pad: 'valid', bias, activation: 'linear' }),
          tf.fused.conv2d({ x, filter, strides: 2, pad: 1, activation: 'relu' }),
        ];
      };
      await assertNativeMatchesCpu(fn, `fused conv (${layout})`, ['conv2d']);
    });

    test(`${layout}: forward Conv2D with dilation 2, same and explicit padding`, async () => {
      setNativeConvLayout(layout);
      const xv = uniform(2 * 9 * 9 * 3, 32);
      const wv = uniform(3 * 3 * 3 * 4, 33);
      const fn = (): tf.Tensor[] => {
        const x = tf.tensor4d(xv, [2, 9, 9, 3]);
        const f = tf.tensor4d(wv, [3, 3, 3, 4]);
        return [
          tf.conv2d(x, f, 1, 'same', 'NHWC', 2),
          tf.conv2d(
            x,
            f,
            1,
            [
              [0, 0],
              [1, 3],
              [2, 0],
              [0, 0],
            ],
            'NHWC',
            [2, 1],
          ),
        ];
      };
      await assertNativeMatchesCpu(fn, `dilated conv (${layout})`, ['conv2d']);
    });
  }

  test('activations the addon does not fuse (elu, prelu) and NCHW data go to the wasm kernels, still right', async () => {
    setNativeConvLayout('auto');
    const xv = uniform(2 * 6 * 6 * 3, 34);
    const wv = uniform(3 * 3 * 3 * 4, 35);
    const fn = (): tf.Tensor[] => {
      const x = tf.tensor4d(xv, [2, 6, 6, 3]);
      const filter = tf.tensor4d(wv, [3, 3, 3, 4]);
      const alpha = tf.tensor1d([0.1, 0.2, 0.3, 0.4]);
      return [
        tf.fused.conv2d({ x, filter, strides: 1, pad: 'same', activation: 'elu' }),
        tf.fused.conv2d({ x, filter, strides: 1, pad: 'same', activation: 'prelu', preluActivationWeights: alpha }),
      ];
    };
    const before = calls.conv2d;
    await assertNativeMatchesCpu(fn, 'unfused activations', []);
    assert.equal(calls.conv2d, before, 'elu / prelu must not run on the addon');
    const dyShape: [number, number, number, number] = [2, 4, 4, 4]; // NCHW
    const inputShape = [2, 3, 9, 9];
    const dyv = uniform(sizeOf(dyShape), 4);
    const attrs = { strides: [2, 2], pad: 'valid', dataFormat: 'NCHW', dimRoundingMode: undefined };
    const nchw = (): tf.Tensor[] => {
      const dy = tf.tensor4d(dyv, dyShape);
      const f = tf.tensor4d(wv, [3, 3, 3, 4]);
      const x = tf.tensor4d(uniform(sizeOf(inputShape), 6), inputShape as [number, number, number, number]);
      const dx = tf.engine().runKernel('Conv2DBackpropInput', { dy, filter: f }, { ...attrs, inputShape } as never) as tf.Tensor;
      const dw = tf.engine().runKernel('Conv2DBackpropFilter', { x, dy }, { ...attrs, filterShape: [3, 3, 3, 4] } as never) as tf.Tensor;
      return [dx, dw];
    };
    await assertNativeMatchesCpu(nchw, 'NCHW', []);
  });
});

describe('native Conv2DBackpropInput on the GEMM + col2im grid of the wasm kernels', { skip: SKIP_NATIVE }, () => {
  for (const [n, h, w, ci, kh, kw, co] of COL2IM_SHAPES) {
    for (const strides of COL2IM_STRIDES) {
      for (const pad of PADS) {
        const name = `x[${n},${h},${w},${ci}] k${kh}x${kw}->${co} stride ${JSON.stringify(strides)} pad ${JSON.stringify(pad)}`;
        test(name, async () => {
          setNativeConvLayout('auto');
          const xs = [n, h, w, ci] as [number, number, number, number];
          const ws = [kh, kw, ci, co] as [number, number, number, number];
          const wv = uniform(sizeOf(ws), 32);
          await tf.setBackend('cpu');
          const yShape = tf.tidy(() => tf.conv2d(tf.zeros(xs) as tf.Tensor4D, tf.zeros(ws) as tf.Tensor4D, strides, pad).shape);
          const dyv = uniform(sizeOf(yShape), 33);
          const fn = (): tf.Tensor[] => {
            const f = tf.tensor4d(wv, ws);
            const dy = tf.tensor(dyv, yShape);
            return [tf.grad((a: tf.Tensor) => tf.sum(tf.mul(tf.conv2d(a as tf.Tensor4D, f, strides, pad), dy)))(tf.zeros(xs))];
          };
          await assertNativeMatchesCpu(fn, name, nativeCovers(xs, ws, strides, pad) ? ['conv2dBackpropInput'] : []);
        });
      }
    }
  }
});

describe('native MaxPool / MaxPoolGrad', { skip: SKIP_NATIVE }, () => {
  for (const [xs, filterSize, strides, pad] of POOL_CONFIGS) {
    for (const [kind, gen] of Object.entries(POOL_INPUTS)) {
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
        await assertNativeMatchesCpu(fn, name, ['maxPool', 'maxPoolGrad'], 1e-6);
      });
    }
  }

  test('-inf and NaN values, windows of only -inf / NaN pass nothing on, like cpu (overlapping and not)', async () => {
    for (const [xs, size, stride] of [
      [[2, 6, 6, 4], 2, 2],
      [[1, 7, 8, 8], 3, 3],
      [[1, 7, 8, 5], 3, 2],
    ] as [[number, number, number, number], number, number][]) {
      const xv = uniform(sizeOf(xs), 41);
      const rv = uniform(sizeOf(xs), 42);
      for (let i = 0; i < xv.length; i++) {
        if (rv[i]! > 0.6) xv[i] = -Infinity;
        else if (rv[i]! < -0.8) xv[i] = NaN;
      }
      // The first window of every image holds only -inf and NaN.
      for (let b = 0; b < xs[0]; b++)
        for (let r = 0; r < size; r++)
          for (let q = 0; q < size; q++)
            for (let c = 0; c < xs[3]; c++) xv[((b * xs[1] + r) * xs[2] + q) * xs[3] + c] = (r + q + c) % 2 ? NaN : -Infinity;
      const fn = (): tf.Tensor[] => {
        const x = tf.tensor4d(xv, xs);
        const y = tf.maxPool(x, size, stride, 'valid');
        const r = tf.tensor(uniform(y.size, 43), y.shape);
        return [y, tf.grad((a: tf.Tensor) => tf.sum(tf.mul(tf.maxPool(a as tf.Tensor4D, size, stride, 'valid'), r)))(x)];
      };
      await assertNativeMatchesCpu(fn, `x[${xs}] pool ${size} stride ${stride} with -inf/NaN`, ['maxPool', 'maxPoolGrad'], 1e-6);
    }
  });

  test('the report CNN pooling shapes (26x26x32 and 11x11x64, 2x2 windows)', async () => {
    for (const xs of [
      [2, 26, 26, 32],
      [2, 11, 11, 64],
    ] as [number, number, number, number][]) {
      const xv = uniform(sizeOf(xs), 44);
      const fn = (): tf.Tensor[] => {
        const x = tf.tensor4d(xv, xs);
        const y = tf.maxPool(x, 2, 2, 'valid');
        const r = tf.tensor(uniform(y.size, 45), y.shape);
        return [y, tf.grad((a: tf.Tensor) => tf.sum(tf.mul(tf.maxPool(a as tf.Tensor4D, 2, 2, 'valid'), r)))(x)];
      };
      await assertNativeMatchesCpu(fn, `pool x[${xs}]`, ['maxPool', 'maxPoolGrad'], 1e-6);
    }
  });
});

describe('native BatchMatMul / _FusedMatMul', { skip: SKIP_NATIVE }, () => {
  // Every size on the addon here (by default the MLP's small products stay on the wasm kernel; the
  // last test checks that split).
  before(() => setNativeSizeLimits({ matMulMinMacs: 0 }));
  after(resetNativeSizeLimits);
  const shapes: [number[], number[], boolean, boolean][] = [
    ...MATMUL_SHAPES,
    [[64, 1600], [1600, 128], false, false], // the report CNN's dense layer
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
      await assertNativeMatchesCpu(fn, name, ['matMul']);
    });
  }

  // Values only: tfjs 4.22's BatchMatMul gradient does not sum over broadcast batch dims (its
  // gradient has the broadcast shape and the tape rejects it, on every backend).
  test('broadcast batches: a shared matrix on one side natively, both sides broadcast through the wasm kernel', async () => {
    const fn = (): tf.Tensor[] => [
      tf.matMul(tf.tensor(uniform(3 * 4 * 6, 16), [3, 4, 6]), tf.tensor(uniform(6 * 5, 17), [6, 5])),
      tf.matMul(tf.tensor(uniform(6 * 5, 18), [6, 5]), tf.tensor(uniform(2 * 3 * 5 * 4, 19), [2, 3, 5, 4])),
    ];
    await assertNativeMatchesCpu(fn, 'one-sided broadcast', ['matMul']);
    const before = calls.matMul;
    const twoSided = (): tf.Tensor[] => [
      tf.matMul(tf.tensor(uniform(3 * 7 * 5, 20), [3, 1, 7, 5]), tf.tensor(uniform(4 * 7 * 6, 21), [1, 4, 7, 6]), true, false),
    ];
    await assertNativeMatchesCpu(twoSided, 'two-sided broadcast', []);
    assert.equal(calls.matMul, before, 'a two-sided broadcast must not run on the addon');
  });

  test('fused matMul with transposes, per-column and scalar bias, relu and linear; elu falls back', async () => {
    const av = uniform(6 * 4, 13);
    const bv = uniform(5 * 6, 14);
    const biasv = uniform(5, 15);
    const fn = (): tf.Tensor[] => {
      const a = tf.tensor2d(av, [6, 4]);
      const b = tf.tensor2d(bv, [5, 6]);
      const bias = tf.tensor1d(biasv);
      return [
        tf.fused.matMul({ a, b, transposeA: true, transposeB: true, bias, activation: 'relu' }),
        tf.fused.matMul({ a, b, transposeA: true, transposeB: true, bias: tf.scalar(0.25), activation: 'linear' }),
        tf.fused.matMul({ a, b, transposeA: true, transposeB: true, bias: tf.tensor2d(biasv, [1, 5]), activation: 'relu' }),
        tf.fused.matMul({ a, b, transposeA: true, transposeB: true, bias, activation: 'elu' }),
      ];
    };
    await assertNativeMatchesCpu(fn, 'fused', ['matMul']);
  });

  test('by default MLP-sized products stay on the wasm kernel and larger ones run natively', async () => {
    resetNativeSizeLimits();
    try {
      const before = calls.matMul!;
      await assertNativeMatchesCpu(
        () => [tf.matMul(tf.tensor2d(uniform(64 * 32, 61), [64, 32]), tf.tensor2d(uniform(32 * 32, 62), [32, 32]))],
        'm64 k32 n32',
        [],
      );
      assert.equal(calls.matMul, before, 'a 64x32x32 product ran on the addon');
      await assertNativeMatchesCpu(
        () => [tf.matMul(tf.tensor2d(uniform(64 * 64, 63), [64, 64]), tf.tensor2d(uniform(64 * 32, 64), [64, 32]))],
        'm64 k64 n32',
        ['matMul'],
      );
    } finally {
      setNativeSizeLimits({ matMulMinMacs: 0 });
    }
  });

  test('empty products: k = 0 gives zeros (plus the bias), m = 0 an empty result', async () => {
    const fn = (): tf.Tensor[] => [
      tf.matMul(tf.zeros([3, 0]), tf.zeros([0, 4])),
      tf.fused.matMul({ a: tf.zeros([2, 0]), b: tf.zeros([0, 3]), bias: tf.tensor1d([1, 2, 3]) }),
      tf.matMul(tf.zeros([0, 5]), tf.ones([5, 2])),
    ];
    const [zeros, biased, empty] = await runOn('wasm', fn);
    assert.deepEqual(Array.from(zeros!), new Array(12).fill(0));
    assert.deepEqual(Array.from(biased!), [1, 2, 3, 1, 2, 3]);
    assert.equal(empty!.length, 0);
  });
});

describe('native element-wise kernels (large activations)', { skip: SKIP_NATIVE }, () => {
  // Above NATIVE_ELEMENTWISE_MIN elements, with NaN and infinities among the values.
  const shape: [number, number, number, number] = [4, 26, 26, 32];
  const special = (seed: number): Float32Array => {
    const v = uniform(sizeOf(shape), seed, -2, 2);
    v[5] = NaN;
    v[77] = Infinity;
    v[300] = -Infinity;
    v[1001] = 0;
    return v;
  };

  test('Relu, Step (alpha 0 and 0.3), and the ReLU gradient through tf.grad', async () => {
    const xv = special(50);
    const rv = uniform(sizeOf(shape), 51);
    const fn = (): tf.Tensor[] => {
      const x = tf.tensor4d(xv, shape);
      const r = tf.tensor4d(rv, shape);
      return [tf.relu(x), tf.step(x), tf.step(x, 0.3), tf.grad((a: tf.Tensor) => tf.sum(tf.mul(tf.relu(a), r)))(x)];
    };
    // (The gradient's product dy * step(x) has operands of one shape: it runs on the wasm routines.)
    await assertNativeMatchesCpu(fn, 'relu/step', ['relu', 'step'], 0);
  });

  test('FlatminimaReluGrad: dy * step(y) bit for bit as Multiply(dy, Step(y)) on cpu', async () => {
    const yv = special(52);
    const dv = special(53);
    const before = calls.reluGrad!;
    const native = await runOn('wasm', () => [
      tf.engine().runKernel(RELU_GRAD_KERNEL, { dy: tf.tensor4d(dv, shape), y: tf.tensor4d(yv, shape) }) as tf.Tensor,
    ]);
    assert.ok(calls.reluGrad! > before, 'reluGrad did not run on the addon');
    const cpu = await runOn('cpu', () => [tf.mul(tf.tensor4d(dv, shape), tf.step(tf.tensor4d(yv, shape)))]);
    assert.deepEqual(Array.from(native[0]!), Array.from(cpu[0]!));
  });

  test('Add and Multiply: same shapes, a bias row on either side, a [1,1,1,C] bias', async () => {
    const av = special(52);
    const bv = uniform(sizeOf(shape), 53);
    const biasv = uniform(32, 54);
    const fn = (): tf.Tensor[] => {
      const a = tf.tensor4d(av, shape);
      const b = tf.tensor4d(bv, shape);
      const bias = tf.tensor1d(biasv);
      return [
        tf.add(a, b), // (same shapes: on the wasm routines)
        tf.mul(a, b),
        tf.add(a, bias),
        tf.add(bias, a),
        tf.mul(bias.reshape([1, 1, 1, 32]), a),
        tf.add(a, tf.tensor2d(uniform(26 * 32, 55), [26, 32])),
      ];
    };
    // One rounding per element: equal to cpu exactly.
    await assertNativeMatchesCpu(fn, 'add/mul', ['binary'], 0);
  });

  test('Sum over leading axes (bias gradients), keepDims; other reductions on the wasm kernel', async () => {
    const xv = uniform(sizeOf(shape), 56);
    const fn = (): tf.Tensor[] => {
      const x = tf.tensor4d(xv, shape);
      return [tf.sum(x, [0, 1, 2]), tf.sum(x, [0, 1, 2], true), tf.sum(x, [1, 0]), tf.sum(x, -4), tf.sum(x), tf.sum(x, [1, 2])];
    };
    await assertNativeMatchesCpu(fn, 'sum', ['columnSums']);
    // Columns holding NaN or an infinity sum to NaN / that infinity, the others as before.
    const nan = special(57);
    const sums = (): tf.Tensor[] => [tf.sum(tf.tensor4d(nan, shape), [0, 1, 2])];
    const [native] = await runOn('wasm', sums);
    const [cpu] = await runOn('cpu', sums);
    assert.deepEqual([native![5], native![13], native![12]], [NaN, Infinity, -Infinity]);
    const finite = (v: Float32Array): Float32Array => v.filter((_, c) => c !== 5 && c !== 12 && c !== 13);
    assertClose(finite(native!), finite(cpu!), 'finite column sums');
    assert.deepEqual(Array.from(native!).map(Number.isFinite), Array.from(cpu!).map(Number.isFinite));
  });

  test('small tensors, other broadcasts, same shapes and scalar factors stay on the wasm kernels', async () => {
    const before = { ...calls };
    const fn = (): tf.Tensor[] => {
      const small = tf.tensor2d(uniform(64 * 32, 58), [64, 32]);
      const big = tf.tensor4d(uniform(sizeOf(shape), 59), shape);
      const other = tf.tensor4d(uniform(sizeOf(shape), 61), shape);
      // Same shapes and scalars: the wasm SIMD routines are faster there (see native-kernels.ts).
      return [
        tf.relu(small),
        tf.add(small, small),
        tf.sum(small, 0),
        tf.add(big, tf.tensor4d(uniform(4 * 26, 60), [4, 26, 1, 1])),
        tf.add(big, other),
        tf.mul(big, other),
        tf.mul(big, tf.scalar(0.3)),
        tf.add(tf.scalar(-2), big),
      ];
    };
    await assertNativeMatchesCpu(fn, 'wasm element-wise', []);
    for (const f of ['relu', 'binary', 'columnSums']) assert.equal(calls[f], before[f], `${f} ran on the addon`);
  });
});

describe('the addon rejects bad arguments before touching memory', { skip: SKIP_NATIVE }, () => {
  test('heap type, offsets outside the heap or misaligned, bad geometry, bad thread counts', () => {
    const addon = builtAddon();
    const memory = new WebAssembly.Memory({ initial: 1 }); // 64 KiB
    const heap = new Uint8Array(memory.buffer);
    // 8 x 8 x 8 floats = 2 KiB per [1,8,8,8] tensor; pool 2x2 -> [1,4,4,8].
    const pool = [1, 8, 8, 8, 4, 4, 2, 2, 2, 2, 0, 0];
    assert.throws(() => addon.maxPool(new Float32Array(memory.buffer) as unknown as Uint8Array, 0, 4096, ...pool), TypeError);
    assert.throws(() => addon.maxPool(heap, 65536 - 1024, 0, ...pool), /run past the heap/);
    assert.throws(() => addon.maxPool(heap, 2, 4096, ...pool), /multiple of 4/);
    assert.throws(() => addon.maxPool(heap, -4, 4096, ...pool), RangeError);
    assert.throws(() => addon.maxPool(heap, 0, 4096, 1, 8, 8, 8, 4, 4, 0, 2, 2, 2, 0, 0), /fh must be >= 1/);
    assert.throws(() => addon.maxPool(heap, 0, 4096, 1.5, 8, 8, 8, 4, 4, 2, 2, 2, 2, 0, 0), /n must be an integer/);
    assert.throws(() => addon.matMul(heap, 0, 0, 0, -1, 3, 0, 2, 2, 2, 1, 0, 0, 0, 0), /biasMode must be 0, 1 or 2/);
    assert.throws(() => addon.setThreads(0), /threads must be >= 1/);
    // The same call within bounds runs: the max of a window of zeros is 0.
    addon.maxPool(heap, 0, 4096, ...pool);
    assert.deepEqual(Array.from(new Float32Array(memory.buffer, 4096, 4 * 4 * 8)), new Array(128).fill(0));
  });
});
