/**
 * Our MaxPool / AvgPool / Cast kernels on wasm agree with the cpu backend where the stock wasm kernels
 * are wrong: pools with a numeric or explicit pad (non-square windows or strides, dimRoundingMode,
 * windows wholly in the padding: the stock kernels overrun their output buffer or give other values),
 * casts to bool (the stock kernel truncates modulo 256 where cpu gives x != 0), and GatherV2 (slow,
 * and wrong with batchDims, in the stock kernel).
 */
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/backend/index.js';
import { runOn, sizeOf, uniform } from './helpers.js';

before(async () => {
  const info = await initBackend({ backend: 'wasm', threads: 1 });
  assert.equal(info.name, 'wasm');
});

/** Like assertClose, but a NaN must meet a NaN (an average over no element is 0/0 on cpu). */
function assertCloseOrBothNaN(a: Float32Array, b: Float32Array, what: string, tol: number): void {
  assert.equal(a.length, b.length, `${what}: length ${a.length} vs ${b.length}`);
  let scale = 0;
  for (const v of b) if (Number.isFinite(v)) scale = Math.max(scale, Math.abs(v));
  const bound = tol * (1 + scale);
  for (let i = 0; i < a.length; i++) {
    const [p, q] = [a[i]!, b[i]!];
    if (Number.isNaN(q) ? Number.isNaN(p) : p === q || Math.abs(p - q) <= bound) continue;
    assert.fail(`${what}: element ${i}: wasm ${p} vs cpu ${q}`);
  }
}

async function assertSameOnBoth(fn: () => tf.Tensor[], what: string, tol = 1e-6): Promise<void> {
  const w = await runOn('wasm', fn);
  const c = await runOn('cpu', fn);
  assert.equal(w.length, c.length);
  w.forEach((arr, i) => assertCloseOrBothNaN(arr, c[i]!, `${what} [output ${i}]`, tol));
}

type Pad = 'same' | 'valid' | number | [[number, number], [number, number], [number, number], [number, number]];
type Rounding = 'floor' | 'round' | 'ceil' | undefined;
type PoolCase = [xs: [number, number, number, number], window: [number, number], strides: [number, number], pad: Pad, rounding: Rounding];

const EXPLICIT: Pad = [
  [0, 0],
  [1, 0],
  [2, 1],
  [0, 0],
];

// Cases the stock kernels got wrong (found by a grid against cpu), and the fast-path ones around them.
const POOL_CASES: PoolCase[] = [
  // Numeric pad with a non-square window: the stock kernel overran its output ("memory access out of bounds").
  [[2, 7, 6, 3], [3, 2], [1, 1], 1, undefined],
  [[1, 8, 9, 4], [2, 3], [2, 1], 0, undefined],
  [[2, 7, 6, 1], [3, 2], [1, 2], 1, 'floor'],
  [[1, 8, 9, 8], [1, 3], [1, 1], 2, undefined],
  // Square window, non-square strides (tfjs sizes the width from the stride height).
  [[2, 7, 6, 4], [2, 2], [2, 1], 1, undefined],
  [[1, 8, 9, 3], [3, 3], [1, 2], 0, 'ceil'],
  // Square windows and strides: 'round'/'ceil' leave rows past the padded input; pad >= window
  // gives windows wholly in the padding (-Infinity for max, NaN for avg on cpu).
  [[2, 7, 6, 3], [2, 2], [2, 2], 1, 'ceil'],
  [[1, 8, 9, 4], [2, 2], [3, 3], 1, 'round'],
  [[2, 7, 6, 8], [2, 2], [1, 1], 2, undefined],
  [[1, 8, 9, 1], [3, 3], [2, 2], 2, 'floor'],
  // Explicit pads.
  [[2, 7, 6, 3], [2, 2], [1, 2], EXPLICIT, undefined],
  [[1, 8, 9, 4], [3, 2], [3, 3], EXPLICIT, 'ceil'],
  // The case of kernels.test.ts's MaxPoolGrad grid (8 channels: the SIMD gradient).
  [[2, 7, 9, 8], [3, 2], [1, 2], 1, undefined],
  // A 1x1 window whose output keeps the input's shape: cpu returns the input itself.
  [[2, 7, 6, 4], [1, 1], [1, 2], 0, undefined],
  // Fast path (stock kernel): 'valid' and 'same', non-square windows and strides, stride > window.
  [[2, 7, 6, 3], [3, 2], [2, 1], 'valid', undefined],
  [[1, 8, 9, 4], [2, 3], [1, 2], 'same', undefined],
  [[2, 8, 7, 8], [2, 2], [3, 3], 'same', undefined],
  [[2, 7, 6, 1], [1, 1], [2, 3], 'same', undefined],
];

/**
 * Whether the stock AvgPoolGrad can take the case: tfjs's pool gradients drop dimRoundingMode
 * (tfjs-core 4.22 MaxPool_grad / AvgPool_grad), so where the rounding changes the output shape the
 * gradient kernel sees a dy whose shape differs from the geometry it computes.
 */
function gradientKeepsShape([xs, window, strides, pad, rounding]: PoolCase): boolean {
  const shape = (r: Rounding): number[] => tf.backend_util.computePool2DInfo(xs, window, strides, 1, pad as never, r).outShape;
  return tf.util.arraysEqual(shape(rounding), shape(undefined));
}

const INPUTS: Record<string, (size: number, seed: number) => Float32Array> = {
  'both signs': (s, seed) => uniform(s, seed),
  'all negative': (s, seed) => uniform(s, seed, -2, -1),
};

function describeCase([xs, window, strides, pad, rounding]: PoolCase): string {
  return `x[${xs}] window ${window} stride ${strides} pad ${JSON.stringify(pad)} ${rounding ?? ''}`;
}

describe('MaxPool (values and gradients through tf.grad)', () => {
  for (const c of POOL_CASES) {
    const [xs, window, strides, pad, rounding] = c;
    for (const [kind, gen] of Object.entries(INPUTS)) {
      const name = `${describeCase(c)}, ${kind}`;
      test(name, async () => {
        const xv = gen(sizeOf(xs), 11);
        const pool = (a: tf.Tensor): tf.Tensor4D => tf.maxPool(a as tf.Tensor4D, window, strides, pad as never, rounding);
        const fn = (): tf.Tensor[] => {
          const x = tf.tensor4d(xv, xs);
          const y = pool(x);
          // Also where the rounding changes the output shape: MaxPoolGrad reads dy by its own shape.
          const r = tf.tensor(uniform(y.size, 12), y.shape);
          return [y, tf.grad((a: tf.Tensor) => tf.sum(tf.mul(pool(a), r)))(x)];
        };
        // A max is exact, and its gradient a sum of at most a few dy values.
        await assertSameOnBoth(fn, name);
      });
    }
  }

  test("gradient where 'ceil' changes the output shape (cpu indexes dy by its own shape)", async () => {
    const xv = uniform(2 * 7 * 6 * 3, 14);
    const pool = (a: tf.Tensor): tf.Tensor4D => tf.maxPool(a as tf.Tensor4D, 2, 2, 1, 'ceil');
    await assertSameOnBoth(() => {
      const x = tf.tensor4d(xv, [2, 7, 6, 3]);
      const r = tf.tensor(uniform(2 * 5 * 4 * 3, 15), [2, 5, 4, 3]);
      return [tf.grad((a: tf.Tensor) => tf.sum(tf.mul(pool(a), r)))(x)];
    }, 'ceil gradient');
  });

  test('a window wholly in the padding is -Infinity; the others are their maxima (hand-computed)', async () => {
    // x = [[1, -2], [-3, 4]] (one image, one channel), window 2x2, stride 2, pad 2: a 3x3 output
    // whose only window touching x is the middle one.
    const [y] = await runOn('wasm', () => [tf.maxPool(tf.tensor4d([1, -2, -3, 4], [1, 2, 2, 1]), 2, 2, 2)]);
    const m = -Infinity;
    assert.deepEqual(Array.from(y!), [m, m, m, m, 4, m, m, m, m]);
  });

  test('a former heap overrun case leaves later results right and tensors balanced', async () => {
    const xv = uniform(2 * 9 * 9 * 3, 13);
    for (let i = 0; i < 5; i++) {
      await assertSameOnBoth(() => {
        const x = tf.tensor4d(xv, [2, 9, 9, 3]);
        return [tf.maxPool(x, [3, 2], [1, 1], 1), tf.maxPool(x, 2, 2, 'valid')];
      }, `repeat ${i}`);
    }
  });
});

describe('AvgPool (values and gradients through tf.grad)', () => {
  for (const c of POOL_CASES) {
    const [xs, window, strides, pad, rounding] = c;
    const name = `${describeCase(c)}, both signs`;
    test(name, async () => {
      const xv = uniform(sizeOf(xs), 21);
      const pool = (a: tf.Tensor): tf.Tensor4D => tf.avgPool(a as tf.Tensor4D, window, strides, pad as never, rounding);
      const fn = (): tf.Tensor[] => {
        const x = tf.tensor4d(xv, xs);
        const y = pool(x);
        if (!gradientKeepsShape(c)) return [y];
        const r = tf.tensor(uniform(y.size, 22), y.shape);
        return [y, tf.grad((a: tf.Tensor) => tf.sum(tf.mul(pool(a), r)))(x)];
      };
      await assertSameOnBoth(fn, name, 2e-6);
    });
  }

  test('padding is left out of the average; an all-padding window is NaN (hand-computed)', async () => {
    // x = [[1, -2], [-3, 4]], window 2x2, stride 1, pad 1: corners see one element, edges two.
    const [y] = await runOn('wasm', () => [tf.avgPool(tf.tensor4d([1, -2, -3, 4], [1, 2, 2, 1]), 2, 1, 1)]);
    assert.deepEqual(Array.from(y!), [1, -0.5, -2, -1, 0, 1, -3, 0.5, 4]);
    const [z] = await runOn('wasm', () => [tf.avgPool(tf.tensor4d([1, -2, -3, 4], [1, 2, 2, 1]), 2, 2, 2)]);
    assert.equal(z!.length, 9);
    z!.forEach((v, i) => (i === 4 ? assert.equal(v, 0) : assert.ok(Number.isNaN(v), `element ${i}: ${v}`)));
  });

  test("gradients through tf.grad for the fixed cases whose stock AvgPoolGrad is right ('valid'-equivalent)", async () => {
    const xv = uniform(2 * 7 * 6 * 3, 22);
    const fn = (): tf.Tensor[] => {
      const x = tf.tensor4d(xv, [2, 7, 6, 3]);
      const pool = (a: tf.Tensor): tf.Tensor4D => tf.avgPool(a as tf.Tensor4D, [3, 2], [1, 1], 1);
      const y = pool(x);
      const r = tf.tensor(uniform(y.size, 23), y.shape);
      return [y, tf.grad((a: tf.Tensor) => tf.sum(tf.mul(pool(a), r)))(x)];
    };
    await assertSameOnBoth(fn, 'avgPool grad', 2e-6);
  });
});

test('the padded paths free every intermediate on the wasm heap', async () => {
  assert.ok(await tf.setBackend('wasm'));
  const backend = tf.backend() as unknown as { numDataIds(): number };
  const xv = uniform(2 * 7 * 6 * 3, 41);
  const run = (): void =>
    tf.dispose(
      tf.tidy(() => {
        const x = tf.tensor4d(xv, [2, 7, 6, 3]);
        // Explicit-pad, -Infinity-pad, crop, and masked-average paths.
        return [tf.maxPool(x, [3, 2], 1, 1), tf.maxPool(x, 2, 2, 2), tf.maxPool(x, 2, 3, 0), tf.avgPool(x, 2, 2, 2), tf.cast(x, 'bool')];
      }),
    );
  run();
  const before = backend.numDataIds();
  for (let i = 0; i < 3; i++) run();
  assert.equal(backend.numDataIds(), before);
});

describe('Cast', () => {
  test('float32 -> bool is x != 0 (NaN true, -0 false, subnormals and infinities true)', async () => {
    const values = [0.5, -0.5, -1, 256, NaN, -0, 0, 1e-45, -1e-40, Infinity, -Infinity, 3e9];
    const expected = values.map((v) => (v !== 0 ? 1 : 0));
    const fn = (): tf.Tensor[] => [tf.cast(tf.tensor1d(values), 'bool')];
    const [w] = await runOn('wasm', fn);
    assert.deepEqual(Array.from(w!), expected);
    assert.deepEqual(Array.from((await runOn('cpu', fn))[0]!), expected);
  });

  test('int32 -> bool is x != 0 (multiples of 256 and negatives included)', async () => {
    const values = [0, 1, -1, 256, 512, -256, 2147483647, -2147483648, 7];
    const expected = values.map((v) => (v !== 0 ? 1 : 0));
    const fn = (): tf.Tensor[] => [tf.cast(tf.tensor1d(values, 'int32'), 'bool')];
    assert.deepEqual(Array.from((await runOn('wasm', fn))[0]!), expected);
    assert.deepEqual(Array.from((await runOn('cpu', fn))[0]!), expected);
  });

  test('bool -> float32 / int32, float32 -> int32 and int32 -> float32 agree with cpu', async () => {
    const values = [1.5, -1.5, -0.7, 0.7, NaN, 3e9, -3e9, 2.5, -2.5, 0, 1e-40, 16777217];
    const fn = (): tf.Tensor[] => {
      const x = tf.tensor1d(values);
      const b = tf.cast(x, 'bool');
      const i = tf.cast(x, 'int32');
      return [
        tf.cast(b, 'float32'),
        tf.cast(b, 'int32'),
        i,
        tf.cast(i, 'float32'),
        tf.cast(tf.tensor1d([true, false, true], 'bool'), 'float32'),
      ];
    };
    const w = await runOn('wasm', fn);
    const c = await runOn('cpu', fn);
    w.forEach((arr, k) => assert.deepEqual(Array.from(arr), Array.from(c[k]!), `output ${k}`));
    // Hand-computed: truncation toward zero, NaN -> 0, wrap modulo 2^32 (3e9 - 2^32).
    assert.deepEqual(Array.from(w[2]!).slice(0, 6), [1, -1, 0, 0, 0, 3e9 - 2 ** 32]);
    assert.deepEqual(
      Array.from(w[0]!),
      values.map((v) => (v !== 0 ? 1 : 0)),
    );
  });

  test('a bool result feeds on: logicalAnd / where on wasm match cpu', async () => {
    const xv = uniform(40, 31, -1, 1).map((v, i) => (i % 5 === 0 ? 0 : v * 0.9));
    const fn = (): tf.Tensor[] => {
      const x = tf.tensor1d(xv);
      const mask = tf.cast(x, 'bool');
      return [tf.cast(tf.logicalAnd(mask, tf.greater(x, -0.5)), 'float32'), tf.where(mask, x, tf.onesLike(x))];
    };
    await assertSameOnBoth(fn, 'bool mask', 0);
  });
});

describe('GatherV2 (blocks of whole rows: any axis, batch dimensions)', () => {
  const shape = [7, 3, 4, 2];
  const xv = uniform(sizeOf(shape), 41, -5, 5);
  test('rows in any order, repeated, from 1-D and 2-D indices, along any axis, with batchDims, of float32 and int32, equal cpu exactly', async () => {
    const fn = (): tf.Tensor[] => {
      const x = tf.tensor4d(xv, shape as [number, number, number, number]);
      const xi = tf.tensor2d(
        Int32Array.from({ length: 35 }, (_, i) => i * 3 - 50),
        [7, 5],
        'int32',
      );
      const one = tf.tensor1d([6, 0, 0, 3], 'int32');
      return [
        tf.gather(x, one),
        tf.gather(x, tf.tensor2d([1, 2, 2, 1, 6, 5], [2, 3], 'int32')),
        tf.gather(x, tf.tensor1d([], 'int32')),
        tf.gather(xi, one),
        tf.gather(x, one, -4),
        // Other axes, and batch dimensions (where the stock kernel gave other rows and garbage).
        tf.gather(x, tf.tensor1d([2, 0], 'int32'), 2),
        tf.gather(x, tf.tensor2d([1, 0, 1, 1], [2, 2], 'int32'), -1),
        tf.gather(tf.tensor2d(xv.slice(0, 12), [3, 4]), tf.tensor2d([1, 0, 3, 3, 2, 0], [3, 2], 'int32'), 1, 1),
        tf.gather(
          x,
          tf.tensor2d(
            Int32Array.from({ length: 14 }, (_, i) => (i * 5) % 3),
            [7, 2],
            'int32',
          ),
          1,
          1,
        ),
        tf.gather(
          x,
          tf.tensor2d(
            Int32Array.from({ length: 21 }, (_, i) => (i * 7) % 4),
            [7, 3],
            'int32',
          ),
          2,
          1,
        ),
      ];
    };
    const w = await runOn('wasm', fn);
    const c = await runOn('cpu', fn);
    w.forEach((arr, k) => assert.deepEqual(Array.from(arr), Array.from(c[k]!), `output ${k}`));
    // Hand-computed: the first output is rows 6, 0, 0, 3.
    const row = 3 * 4 * 2;
    const rows = [6, 0, 0, 3].flatMap((r) => Array.from(xv.slice(r * row, (r + 1) * row)));
    assert.deepEqual(Array.from(w[0]!), rows);
  });
});
