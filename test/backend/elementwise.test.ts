/**
 * The SIMD element-wise kernels (Add, Sub, Multiply, RealDiv, Relu, Step, Sum, and our ReLU
 * gradient dy * step(y)) agree with the cpu
 * backend over every broadcast layout they take and those they hand back to the stock kernel, on
 * values and on gradients through tf.grads, with inputs of both signs, lengths that are not
 * multiples of the vector width, and NaN / infinities.
 */
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/backend/index.js';
import { elementwiseFor, elementwiseSimdError } from '../../src/backend/kernels/elementwise-simd.js';
import { RELU_GRAD_KERNEL } from '../../src/backend/kernels/elementwise.js';
import { wasmMemoryOf, asWasmBackend } from '../../src/backend/wasm-internals.js';
import { assertSameOnBoth, runOn, uniform, sizeOf } from './helpers.js';

before(async () => {
  const info = await initBackend({ backend: 'wasm', threads: 1 });
  assert.equal(info.name, 'wasm');
});

test('the SIMD routines build on this runtime', async () => {
  await tf.setBackend('wasm');
  const routines = elementwiseFor(wasmMemoryOf(asWasmBackend(tf.backend())));
  assert.ok(routines != null, `elementwise SIMD routines failed to build: ${elementwiseSimdError()}`);
});

const OPS = ['add', 'sub', 'mul', 'div'] as const;
// [a shape, b shape]: same shapes (lengths 1, 3, 4, 17, 64 and > 64 for the unrolled loop), trailing
// blocks (bias), leading blocks ([N,1] against [N,K]), scalars on either side, operands swapped (the
// `_rev` routines), ones inside shapes, and two-sided / interleaved broadcasts (stock fallback).
const SHAPES: [number[], number[]][] = [
  [[1], [1]],
  [[3], [3]],
  [[4], [4]],
  [[17], [17]],
  [
    [5, 27],
    [5, 27],
  ],
  [[64, 32], [32]],
  [[32], [64, 32]],
  [[2, 5, 5, 7], [7]],
  [
    [2, 5, 5, 7],
    [5, 7],
  ],
  [
    [64, 2],
    [64, 1],
  ],
  [
    [64, 1],
    [64, 2],
  ],
  [
    [3, 4, 5],
    [3, 1, 1],
  ],
  [
    [3, 1, 1],
    [3, 4, 5],
  ],
  [[], [6, 7]],
  [[6, 7], []],
  [[1, 9], [9]],
  [
    [4, 1],
    [1, 4],
  ],
  [
    [2, 3, 5],
    [3, 1],
  ],
  [
    [2, 3, 5],
    [2, 1, 5],
  ],
];

describe('binary ops against cpu', () => {
  for (const op of OPS) {
    for (const [sa, sb] of SHAPES) {
      test(`${op} [${sa}] with [${sb}], values and gradients`, async () => {
        const av = uniform(sizeOf(sa), 1, -2, 2);
        // Divisors kept away from 0 so that gradients stay finite; signs still mixed.
        const bv = uniform(sizeOf(sb), 2, -2, 2).map((v) => (op === 'div' ? Math.sign(v || 1) * (0.5 + Math.abs(v)) : v));
        const fn = (): tf.Tensor[] => {
          const a = tf.tensor(av, sa);
          const b = tf.tensor(bv, sb);
          const f = (x: tf.Tensor, y: tf.Tensor): tf.Tensor => tf[op](x, y);
          const w = tf.tensor(uniform(sizeOf(tf.broadcast_util.assertAndGetBroadcastShape(sa, sb)), 3), f(a, b).shape);
          const [ga, gb] = tf.grads((x: tf.Tensor, y: tf.Tensor) => tf.sum(tf.mul(f(x, y), w)))([a, b]);
          return [f(a, b), ga!, gb!];
        };
        await assertSameOnBoth(fn, `${op} [${sa}] [${sb}]`, 1e-6);
      });
    }
  }

  test('int32 operands and zero-sized tensors go to the stock kernels', async () => {
    const fn = (): tf.Tensor[] => [
      tf.add(tf.tensor([1, -2, 3], [3], 'int32'), tf.tensor([4], [1], 'int32')).toFloat(),
      tf.mul(tf.zeros([0, 3]), tf.ones([3])),
    ];
    await assertSameOnBoth(fn, 'stock fallbacks');
  });
});

describe('special values', () => {
  const special = [NaN, Infinity, -Infinity, 0, -0, 1e-40, -1e-40, 3, -3];
  test('binary ops, Relu and Step propagate NaN and infinities like cpu', async () => {
    const fn = (): tf.Tensor[] => {
      const x = tf.tensor(special);
      const outs: tf.Tensor[] = [tf.relu(x), tf.step(x), tf.step(x, 0.25)];
      for (const op of OPS) for (const s of special) outs.push(tf[op](x, tf.scalar(s)), tf[op](tf.scalar(s), x));
      return outs;
    };
    const w = await runOn('wasm', fn);
    const c = await runOn('cpu', fn);
    w.forEach((arr, i) => assert.deepEqual(Array.from(arr), Array.from(c[i]!), `output ${i}`));
  });
});

describe('Relu / Step', () => {
  for (const n of [1, 5, 16, 63, 64, 65, 1000]) {
    test(`length ${n}: relu, step(alpha) and relu's gradient`, async () => {
      const xv = uniform(n, 4, -1, 1);
      const fn = (): tf.Tensor[] => {
        const x = tf.tensor(xv);
        return [tf.relu(x), tf.step(x, 0.1), tf.grad((y: tf.Tensor) => tf.sum(tf.mul(tf.relu(y), y)))(x)];
      };
      await assertSameOnBoth(fn, `relu/step ${n}`, 0);
    });
  }
});

describe('FlatminimaReluGrad (dy * step(y) in one pass)', () => {
  // On wasm the kernel; on cpu, which lacks it, the two ops it replaces.
  const reluGrad = (dy: tf.Tensor, y: tf.Tensor): tf.Tensor =>
    tf.getBackend() === 'wasm' ? (tf.engine().runKernel(RELU_GRAD_KERNEL, { dy, y }) as tf.Tensor) : tf.mul(dy, tf.step(y));
  for (const n of [1, 3, 4, 17, 63, 64, 65, 1000]) {
    test(`length ${n}: bit for bit Multiply(dy, Step(y)) on cpu`, async () => {
      const yv = uniform(n, 40 + n, -1, 1);
      const dv = uniform(n, 80 + n, -2, 2);
      const fn = (): tf.Tensor[] => [reluGrad(tf.tensor(dv), tf.tensor(yv))];
      const w = await runOn('wasm', fn);
      const c = await runOn('cpu', fn);
      assert.deepEqual(Array.from(w[0]!), Array.from(c[0]!));
      if (n >= 3) assert.ok(w[0]!.some((v) => v !== 0) && w[0]!.some((v) => v === 0), 'both branches taken');
    });
  }
  test('NaN, infinities and signed zeros in y and dy come out as in Multiply(dy, Step(y))', async () => {
    const special = [NaN, Infinity, -Infinity, 0, -0, 1e-40, -1e-40, 3, -3];
    const y = special.flatMap((a) => special.map(() => a));
    const dy = special.flatMap(() => special);
    const fn = (): tf.Tensor[] => [reluGrad(tf.tensor(dy), tf.tensor(y))];
    const w = await runOn('wasm', fn);
    const c = await runOn('cpu', fn);
    assert.deepEqual(Array.from(w[0]!), Array.from(c[0]!));
  });
  test('int32 operands and different shapes go to the stock Step and Multiply', async () => {
    const fn = (): tf.Tensor[] => [
      reluGrad(tf.tensor([1, -2, 3], [3], 'int32'), tf.tensor([2, 0, -1], [3], 'int32')),
      reluGrad(tf.tensor([[1, 2, 3]]), tf.tensor([0.5, -1, 2])),
    ];
    const w = await runOn('wasm', fn);
    assert.deepEqual(Array.from(w[0]!), [1, 0, 0]);
    assert.deepEqual(Array.from(w[1]!), [1, 0, 3]);
  });
});

describe('Sum', () => {
  const CASES: [number[], number | number[] | null, boolean][] = [
    [[64, 32], 0, false],
    [[64, 2], 1, true],
    [[3, 5, 6, 7], [0, 1, 2], false],
    [[3, 5, 6, 7], [0, 1, 2], true],
    [[3, 5, 6, 7], [2, 0, -3], false],
    [[3, 5, 6, 7], [1, 2], false],
    [[3, 5, 6, 7], -1, false],
    [[3, 5, 6, 7], [0, 2], false],
    [[3, 5, 6, 7], null, false],
    [[130, 9], 0, false],
    [[2, 2500], 1, false],
    [[7], 0, true],
  ];
  for (const [shape, axis, keepDims] of CASES) {
    test(`[${shape}] over ${JSON.stringify(axis)}${keepDims ? ' keepDims' : ''}`, async () => {
      const xv = uniform(sizeOf(shape), 5, -1, 1);
      const fn = (): tf.Tensor[] => [tf.sum(tf.tensor(xv, shape), axis ?? undefined, keepDims)];
      const [w] = await runOn('wasm', fn);
      const [c] = await runOn('cpu', fn);
      assert.equal(w!.length, c!.length);
      // Summation order differs from cpu's (float64) running sum: bound by the terms' magnitude.
      const terms = sizeOf(shape) / c!.length;
      for (let i = 0; i < c!.length; i++) assert.ok(Math.abs(w![i]! - c![i]!) <= 1e-6 * terms, `element ${i}: ${w![i]} vs ${c![i]}`);
    });
  }

  test('a long reduction keeps float32 accuracy (blocked partial sums)', async () => {
    // 1e6 values of 0.1: a plain float32 running sum drifts by ~1e-3 relative; blocks keep it ~1e-6.
    const fn = (): tf.Tensor[] => [tf.sum(tf.fill([1_000_000], 0.1)), tf.sum(tf.fill([40_000, 4], 0.1), 0)];
    const [full, cols] = await runOn('wasm', fn);
    assert.ok(Math.abs(full![0]! - 100_000) / 100_000 < 1e-5, `full sum ${full![0]}`);
    for (const v of cols!) assert.ok(Math.abs(v - 4000) / 4000 < 1e-5, `column sum ${v}`);
  });
});

test('no tensor or heap growth over many calls', async () => {
  await tf.setBackend('wasm');
  const a = tf.randomNormal([64, 32]);
  const b = tf.randomNormal([32]);
  const run = (): void => {
    tf.tidy(() => {
      const y = tf.relu(tf.add(a, b));
      tf.sum(tf.div(tf.sub(y, tf.scalar(1)), tf.step(y).add(1)), 0).dataSync();
    });
  };
  for (let i = 0; i < 50; i++) run();
  const tensors = tf.memory().numTensors;
  const heap = (tf.backend() as unknown as { wasm: { HEAPU8: Uint8Array } }).wasm.HEAPU8.length;
  for (let i = 0; i < 500; i++) run();
  assert.equal(tf.memory().numTensors, tensors);
  assert.equal((tf.backend() as unknown as { wasm: { HEAPU8: Uint8Array } }).wasm.HEAPU8.length, heap);
  tf.dispose([a, b]);
});

describe('Softmax', () => {
  for (const shape of [[64, 10], [3, 1], [2, 3, 5], [7], [4, 33]]) {
    test(`[${shape}]: values and gradient equal cpu's`, async () => {
      const xv = uniform(sizeOf(shape), 6, -30, 30);
      const fn = (): tf.Tensor[] => {
        const x = tf.tensor(xv, shape);
        const w = tf.tensor(uniform(sizeOf(shape), 7), shape);
        return [tf.softmax(x), tf.grad((y: tf.Tensor) => tf.sum(tf.mul(tf.softmax(y), w)))(x)];
      };
      await assertSameOnBoth(fn, `softmax [${shape}]`, 1e-7);
    });
  }

  test('rows with NaN, infinities and huge logits behave like cpu', async () => {
    const rows = [
      [NaN, 1, 2],
      [-Infinity, -Infinity, -Infinity],
      [Infinity, 0, 1],
      [-Infinity, 0, 1],
      [1e30, -1e30, 0],
      [0, 0, 0],
    ];
    const fn = (): tf.Tensor[] => [tf.softmax(tf.tensor2d(rows))];
    const [w] = await runOn('wasm', fn);
    const [c] = await runOn('cpu', fn);
    assert.deepEqual(Array.from(w!), Array.from(c!));
  });
});
