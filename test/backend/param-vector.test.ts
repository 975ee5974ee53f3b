/**
 * The parameter-space kernels of src/backend/kernels/param-vector.ts (globalDot, axpy and scale of
 * src/util/paramVector.ts as ONE kernel call for a whole list of tensors): on wasm, equal bit for
 * bit to the composition of stock ops they replace, close to the cpu backend's values, the same
 * gradients through tf.grads, one kernel call for any number of variables, and no tensor left.
 */
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/backend/index.js';
import { AXPY_KERNEL, axpy, GLOBAL_DOT_KERNEL, globalDot, scale } from '../../src/util/paramVector.js';
import { assertClose, runOn, sizeOf, uniform } from './helpers.js';

before(async () => {
  const info = await initBackend({ backend: 'wasm', threads: 1 });
  assert.equal(info.name, 'wasm');
});

// Lengths below, at and above the vector width and the 1024-element summation block, a kernel of
// the report's CNN ([1600, 128]: many blocks), and special values in one tensor.
const SHAPES: number[][] = [[1], [3], [4], [17], [3, 3, 1, 32], [1023], [1024], [1025], [1600, 128], [64, 7]];

function lists(seed: number): { xs: tf.Tensor[]; ys: tf.Tensor[] } {
  const xs = SHAPES.map((s, i) => tf.tensor(uniform(sizeOf(s), seed + i, -3, 3), s));
  const ys = SHAPES.map((s, i) => tf.tensor(uniform(sizeOf(s), seed + 100 + i, -2, 2), s));
  return { xs, ys };
}

/** The compositions of stock ops the kernels replace (what paramVector did before them). */
const composedDot = (xs: tf.Tensor[], ys: tf.Tensor[]): tf.Tensor => tf.addN(xs.map((x, i) => tf.sum(tf.mul(x, ys[i]))));
const composedAxpy = (xs: tf.Tensor[], ys: tf.Tensor[], s: number | tf.Tensor): tf.Tensor[] =>
  xs.map((x, i) => tf.add(x, tf.mul(s, ys[i])));

function bits(t: tf.Tensor): number[] {
  return Array.from(new Uint32Array(Float32Array.from(t.dataSync()).buffer));
}

/** The names of the kernels `fn` ran (tf.profile). */
async function kernelsOf(fn: () => tf.Tensor | tf.Tensor[]): Promise<string[]> {
  const info = await tf.profile(() => fn());
  tf.dispose(info.result as tf.Tensor | tf.Tensor[]);
  return info.kernels.map((k) => k.name);
}

describe('on wasm', () => {
  test('the kernels are registered and run once for a whole list', async () => {
    await tf.setBackend('wasm');
    assert.ok(tf.getKernel(GLOBAL_DOT_KERNEL, 'wasm') != null && tf.getKernel(AXPY_KERNEL, 'wasm') != null);
    const { xs, ys } = lists(1);
    assert.deepEqual(await kernelsOf(() => globalDot(xs, ys)), [GLOBAL_DOT_KERNEL]);
    assert.deepEqual(await kernelsOf(() => axpy(xs, ys, 0.5)), [AXPY_KERNEL]);
    const s = tf.scalar(-1.25);
    assert.deepEqual(await kernelsOf(() => scale(ys, s)), [AXPY_KERNEL]);
    tf.dispose([...xs, ...ys, s]);
  });

  test('globalDot equals Sum of Multiply added by AddN, bit for bit, and the cpu backend to rounding', async () => {
    await tf.setBackend('wasm');
    const { xs, ys } = lists(2);
    const fused = globalDot(xs, ys);
    const composed = composedDot(xs, ys);
    assert.deepEqual(bits(fused), bits(composed));
    // A norm (the same list twice) too.
    assert.deepEqual(bits(globalDot(ys, ys)), bits(composedDot(ys, ys)));
    const exact = xs.reduce((acc, x, i) => {
      const a = Float32Array.from(x.dataSync());
      const b = Float32Array.from(ys[i].dataSync());
      return acc + a.reduce((s, v, j) => s + v * b[j]!, 0);
    }, 0);
    assert.ok(Math.abs(fused.dataSync()[0]! - exact) < 1e-4 * Math.abs(exact) + 1e-3, `dot ${fused.dataSync()[0]} vs float64 ${exact}`);
    tf.dispose([...xs, ...ys, fused, composed]);
    const [cpu] = await runOn('cpu', () => {
      const l = lists(2);
      return [globalDot(l.xs, l.ys)];
    });
    const [wasm] = await runOn('wasm', () => {
      const l = lists(2);
      return [globalDot(l.xs, l.ys)];
    });
    assertClose(wasm!, cpu!, 'globalDot wasm vs cpu', 1e-5);
  });

  test('axpy and scale equal Add of Multiply and Multiply, bit for bit, with a number or a scalar tensor; NaN and infinities pass through', async () => {
    await tf.setBackend('wasm');
    const { xs, ys } = lists(3);
    const special = tf.tensor1d([NaN, Infinity, -Infinity, 0, -0, 1e-45, 3.4e38]);
    const xs2 = [...xs, special];
    const ys2 = [...ys, tf.tensor1d([1, 2, 3, 4, 5, 6, 7])];
    for (const s of [0.37, -2, 0, tf.scalar(-0.3), tf.scalar(1e30)]) {
      const fused = axpy(xs2, ys2, s as number | tf.Scalar);
      const composed = composedAxpy(xs2, ys2, s);
      fused.forEach((t, i) => {
        assert.deepEqual(t.shape, xs2[i].shape);
        assert.deepEqual(bits(t), bits(composed[i]), `axpy tensor ${i}, s = ${String(s)}`);
      });
      const scaled = scale(ys2, s as number | tf.Scalar);
      scaled.forEach((t, i) => assert.deepEqual(bits(t), bits(tf.mul(ys2[i], s)), `scale tensor ${i}`));
      tf.dispose([...fused, ...composed, ...scaled]);
    }
  });

  test('gradients through tf.grads match those of the compositions (the scalar of axpy included)', async () => {
    await tf.setBackend('wasm');
    const { xs, ys } = lists(4);
    const w = tf.tensor1d(uniform(3, 9));
    const n = 3;
    const pick = (ts: tf.Tensor[]) => ts.slice(0, n);
    const s = tf.scalar(0.7);
    // f = <xs, ys> * <axpy(xs, ys, s), ys> + sum(scale(ys, s)[0] * w): every input gets a gradient.
    const f =
      (dot: typeof globalDot, ax: typeof axpy, sc: typeof scale) =>
      (...args: tf.Tensor[]) => {
        const a = args.slice(0, n);
        const b = args.slice(n, 2 * n);
        const t = args[2 * n] as tf.Scalar;
        return tf.add(tf.mul(dot(a, b), dot(ax(a, b, t), b)), tf.sum(tf.mul(sc(b, t)[0], w))) as tf.Scalar;
      };
    const composedScale = (a: readonly tf.Tensor[], t: number | tf.Scalar) => a.map((x) => tf.mul(x, t));
    const inputs = [...pick(xs.slice(1)), ...pick(ys.slice(1)), s];
    // Shapes of the first three entries after [1]: [3], [4], [17]; w matches [3].
    const fused = tf.grads(f(globalDot, axpy, scale))(inputs);
    const composed = tf.grads(f(composedDot as typeof globalDot, composedAxpy as typeof axpy, composedScale as typeof scale))(inputs);
    fused.forEach((g, i) => assertClose(g.dataSync() as Float32Array, composed[i].dataSync() as Float32Array, `gradient ${i}`, 1e-5));
    tf.dispose([...xs, ...ys, w, s, ...fused, ...composed]);
  });

  test('no tensor left over many calls, and lists of mismatched lengths are refused', async () => {
    await tf.setBackend('wasm');
    const { xs, ys } = lists(5);
    const s = tf.scalar(2);
    const before = tf.memory().numTensors;
    for (let i = 0; i < 200; i++) {
      globalDot(xs, ys).dispose();
      tf.dispose(axpy(xs, ys, s));
      tf.dispose(scale(xs, 0.5));
    }
    assert.equal(tf.memory().numTensors, before);
    assert.throws(() => globalDot(xs, ys.slice(1)), /globalDot: lists differ in length/);
    assert.throws(() => axpy(xs, ys.slice(1), 1), /axpy: lists differ in length/);
    // A multi-element s would broadcast in the composition: refused, naming s.
    const wide = tf.tensor1d([1, 2]);
    assert.throws(
      () => axpy(xs, ys, wide as unknown as tf.Scalar),
      /axpy: s must be a number or a scalar tensor \(one element\), got a tensor of shape \[2\]/,
    );
    assert.throws(() => scale(xs, wide as unknown as tf.Scalar), /scale: s must be a number or a scalar tensor/);
    assert.equal(tf.memory().numTensors, before + 1);
    tf.dispose([...xs, ...ys, s, wide]);
  });
});

test('on cpu (no such kernels) the same functions compose stock ops, with the same values', async () => {
  const cpuValues = await runOn('cpu', () => {
    assert.equal(tf.getKernel(GLOBAL_DOT_KERNEL, 'cpu'), undefined);
    const { xs, ys } = lists(6);
    return [globalDot(xs, ys), ...axpy(xs, ys, -0.5), ...scale(ys, 3)];
  });
  const wasmValues = await runOn('wasm', () => {
    const { xs, ys } = lists(6);
    return [globalDot(xs, ys), ...axpy(xs, ys, -0.5), ...scale(ys, 3)];
  });
  cpuValues.forEach((v, i) => assertClose(wasmValues[i]!, v, `output ${i}`, 1e-5));
});
