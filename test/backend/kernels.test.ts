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
import { COL2IM_MAX_FLOATS, flippedSwappedFilter, geometry, inputGradCol2im, useCol2im } from '../../src/backend/kernels/conv-grads.js';
import { col2imFor, col2imSimdError } from '../../src/backend/kernels/col2im-simd.js';
import { wasmMemoryOf } from '../../src/backend/wasm-internals.js';
import { WasmOps } from '../../src/backend/kernels/ops.js';
import { assertSameOnBoth, runOn, assertClose, sizeOf, uniform } from './helpers.js';
import { COL2IM_SHAPES, COL2IM_STRIDES, CONV_SHAPES, MATMUL_SHAPES, PADS, POOL_CONFIGS, POOL_INPUTS, STRIDES } from './kernel-grid.js';

before(async () => {
  const info = await initBackend({ backend: 'wasm', threads: 1 });
  assert.equal(info.name, 'wasm');
});

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
        await assertSameOnBoth(fn, name, 1e-6);
      });
    }
  }

  test('channel counts divisible by 4 ran through the WebAssembly SIMD routine', () => {
    assert.equal(maxPoolGradSimdError(), null);
    const b = tf.engine().findBackend('wasm') as unknown as {
      wasm: { asm?: { memory?: WebAssembly.Memory }; wasmMemory?: WebAssembly.Memory };
    };
    assert.ok(maxPoolGradFor((b.wasm.wasmMemory ?? b.wasm.asm!.memory)!) != null);
  });

  test('non-overlapping windows: -inf and NaN values, windows of only -inf / NaN pass nothing on, like cpu', async () => {
    for (const [xs, size, stride] of [
      [[2, 6, 6, 4], 2, 2],
      [[1, 7, 8, 8], 3, 3],
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
        return [tf.grad((a: tf.Tensor) => tf.sum(tf.mul(tf.maxPool(a as tf.Tensor4D, size, stride, 'valid'), r)))(x)];
      };
      await assertSameOnBoth(fn, `x[${xs}] pool ${size} stride ${stride} with -inf/NaN`, 1e-6);
    }
  });

  test('all-negative windows get their gradient (the stock wasm kernel drops it)', async () => {
    const xv = uniform(2 * 4 * 4 * 3, 9, -3, -1);
    const fn = (): tf.Tensor[] => {
      const x = tf.tensor4d(xv, [2, 4, 4, 3]);
      return [tf.grad((a: tf.Tensor) => tf.sum(tf.maxPool(a as tf.Tensor4D, 2, 2, 'valid')))(x)];
    };
    const [dx] = await runOn('wasm', fn);
    // Each 2x2 window passes exactly 1 to one element: 2*2*2*3 windows.
    assert.equal(
      dx!.reduce((a, b) => a + b, 0),
      2 * 2 * 2 * 3,
    );
  });
});

describe('BatchMatMul / _FusedMatMul', () => {
  for (const [as, bs, ta, tb] of MATMUL_SHAPES) {
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
      return [tf.sum(x, [0, 1, 2]), tf.sum(x, [0, 1, 2], true), tf.sum(x, [2, 0, -3]), tf.sum(x, [1, 2]), tf.sum(x, -1), tf.sum(x)];
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

describe('filter flip for Conv2DBackpropInput', () => {
  // [kh, kw, Ci, Co]: square and non-square kernels, 1x1, channel counts 1..7, Ci != Co.
  const SHAPES: [number, number, number, number][] = [
    [3, 3, 4, 6],
    [2, 3, 5, 1],
    [1, 1, 3, 7],
    [3, 2, 1, 2],
  ];
  for (const shape of SHAPES) {
    test(`flippedSwappedFilter ${JSON.stringify(shape)} equals reverse + transpose`, async () => {
      const wv = uniform(sizeOf(shape), 21);
      const fn = (): tf.Tensor[] => {
        const f = tf.tensor4d(wv, shape);
        return [tf.transpose(tf.reverse(f, [0, 1]), [0, 1, 3, 2])];
      };
      const [expected] = await runOn('cpu', fn);
      await tf.setBackend('wasm');
      const before = tf.memory().numTensors;
      const f = tf.tensor4d(wv, shape);
      const ops = new WasmOps(tf.backend());
      const info = flippedSwappedFilter(ops, { dataId: f.dataId, shape: f.shape, dtype: f.dtype });
      assert.deepEqual(info.shape, [shape[0], shape[1], shape[3], shape[2]]);
      const got = Float32Array.from(ops.view(info));
      ops.free(info);
      f.dispose();
      assert.equal(tf.memory().numTensors, before);
      // A permutation of the same floats: exact equality.
      assert.deepEqual(got, expected);
    });
  }
});

describe('Cast', () => {
  test('same-dtype casts share values, real conversions convert, both agree with cpu', async () => {
    const xv = uniform(2 * 3 * 4, 22, -3, 3);
    const fn = (): tf.Tensor[] => {
      const x = tf.tensor3d(xv, [2, 3, 4]);
      const i = tf.cast(x, 'int32');
      return [tf.cast(x, 'float32'), tf.cast(i, 'float32'), tf.cast(tf.cast(i, 'int32'), 'float32')];
    };
    await assertSameOnBoth(fn, 'cast', 0);
  });

  test('a shared cast outlives its source and the ReLU gradient (step mask cast) matches cpu', async () => {
    await tf.setBackend('wasm');
    const before = tf.memory().numTensors;
    const x = tf.tensor1d([1.5, -2, 0, 3]);
    const y = tf.cast(x, 'float32');
    x.dispose();
    assert.deepEqual(Array.from(y.dataSync()), [1.5, -2, 0, 3]);
    y.dispose();
    assert.equal(tf.memory().numTensors, before);
    const xv = uniform(2 * 5 * 5 * 3, 23);
    const fn = (): tf.Tensor[] => {
      const x = tf.tensor4d(xv, [2, 5, 5, 3]);
      return [tf.grad((a: tf.Tensor) => tf.sum(tf.mul(tf.relu(a), a)))(x)];
    };
    await assertSameOnBoth(fn, 'relu grad');
  });
});

describe('Conv2DBackpropInput as GEMM + col2im (Ci % 4 == 0)', () => {
  test('the col2im SIMD routine compiled and scatter-adds as specified on a hand-sized case', async () => {
    await tf.setBackend('wasm');
    const ops = new WasmOps(tf.backend());
    const col2im = col2imFor(wasmMemoryOf(ops.backend));
    assert.ok(col2im != null, `col2im SIMD routine unavailable: ${col2imSimdError()}`);
    // n=1, oh=ow=2, kh=kw=2, c=4, h=w=3, stride 1, no pad: dx[r,q] = sum over (oy,ox,i,j) with oy+i=r, ox+j=q.
    const colsV = uniform(2 * 2 * 2 * 2 * 4, 31);
    const cols = ops.fromValues([2 * 2 * 2 * 2 * 4], colsV);
    const dx = ops.empty([3 * 3 * 4]);
    ops.view(dx).fill(0);
    const at = (t: tf.TensorInfo): number => ops.backend.dataIdMap.get(t.dataId)!.memoryOffset;
    col2im(at(cols), at(dx), 1, 2, 2, 2, 2, 4, 3, 3, 1, 1, 0, 0);
    const got = Float32Array.from(ops.view(dx));
    ops.free(cols, dx);
    const want = new Float32Array(3 * 3 * 4);
    for (let oy = 0; oy < 2; oy++)
      for (let ox = 0; ox < 2; ox++)
        for (let i = 0; i < 2; i++)
          for (let j = 0; j < 2; j++)
            for (let c = 0; c < 4; c++) want[((oy + i) * 3 + ox + j) * 4 + c]! += colsV[(((oy * 2 + ox) * 2 + i) * 2 + j) * 4 + c]!;
    assertClose(got, want, 'col2im', 1e-6);
  });

  for (const [n, h, w, ci, kh, kw, co] of COL2IM_SHAPES) {
    for (const strides of COL2IM_STRIDES) {
      for (const pad of PADS) {
        const name = `x[${n},${h},${w},${ci}] k${kh}x${kw}->${co} stride ${JSON.stringify(strides)} pad ${JSON.stringify(pad)}`;
        test(name, async () => {
          const xs = [n, h, w, ci] as [number, number, number, number];
          const ws = [kh, kw, ci, co] as [number, number, number, number];
          const wv = uniform(sizeOf(ws), 32);
          await tf.setBackend('cpu');
          const yShape = tf.tidy(() => tf.conv2d(tf.zeros(xs) as tf.Tensor4D, tf.zeros(ws) as tf.Tensor4D, strides, pad).shape);
          const dyv = uniform(sizeOf(yShape), 33);
          // Through the registered kernel (tf.grad with respect to x only).
          const viaKernel = (): tf.Tensor[] => {
            const f = tf.tensor4d(wv, ws);
            const dy = tf.tensor(dyv, yShape);
            return [tf.grad((a: tf.Tensor) => tf.sum(tf.mul(tf.conv2d(a as tf.Tensor4D, f, strides, pad), dy)))(tf.zeros(xs))];
          };
          await assertSameOnBoth(viaKernel, name);
          const [expected] = await runOn('cpu', viaKernel);
          // The GEMM + col2im formulation called directly (also where the heuristic keeps the full conv).
          await tf.setBackend('wasm');
          const before = tf.memory().numTensors;
          const f = tf.tensor4d(wv, ws);
          const dy = tf.tensor(dyv, yShape);
          const ops = new WasmOps(tf.backend());
          const g = geometry(xs, ws, { strides, pad });
          const info = (t: tf.Tensor): tf.TensorInfo => ({ dataId: t.dataId, shape: t.shape, dtype: t.dtype });
          const dx = inputGradCol2im(ops, info(dy), info(f), g);
          assert.ok(dx != null);
          assert.deepEqual(dx.shape, xs);
          const got = Float32Array.from(ops.view(dx));
          ops.free(dx);
          tf.dispose([f, dy]);
          assert.equal(tf.memory().numTensors, before);
          assertClose(got, expected!, `${name} (direct)`);
        });
      }
    }
  }

  test('the report CNN conv2 backward takes the col2im path, first layers and Ci % 4 != 0 do not', () => {
    const conv2 = geometry([64, 13, 13, 32], [3, 3, 32, 64], { strides: 1, pad: 'valid' });
    assert.equal(useCol2im(conv2, 'float32'), true);
    assert.equal(useCol2im(conv2, 'int32'), false);
    assert.equal(useCol2im(geometry([2, 9, 9, 3], [3, 3, 3, 4], { strides: 2, pad: 'valid' }), 'float32'), false);
    assert.equal(useCol2im(geometry([2, 9, 9, 4], [3, 3, 4, 4], { strides: 1, pad: 'same' }), 'float32'), false);
    assert.equal(useCol2im(geometry([2, 9, 9, 4], [3, 3, 4, 4], { strides: 2, pad: 'same' }), 'float32'), true);
    // A column buffer above COL2IM_MAX_FLOATS keeps the full convolution.
    const big = geometry([1024, 64, 64, 64], [3, 3, 64, 8], { strides: 1, pad: 'valid' });
    assert.ok(big.n * big.oh * big.ow * 9 * 64 > COL2IM_MAX_FLOATS);
    assert.equal(useCol2im(big, 'float32'), false);
  });
});
