/**
 * The norm-scaled parameter-vector kernels (src/backend/kernels/param-vector.ts): SAM's and MSAM's
 * move to w + e (`normalizedAxpy`), LookSAM's reuse (`selfScaledAxpy`) and its stored direction
 * (`rejection`), each one kernel call for a whole list on wasm. Each must equal the float32
 * composition it replaces bit for bit, fall back to that composition on cpu and under a tape, and
 * leave no tensor behind; the optimisers' steps through them must equal the unfused steps bit for bit.
 */
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/backend/index.js';
import { normalizedAxpy, NORMALIZED_AXPY_KERNEL, rejection, REJECTION_KERNEL, selfScaledAxpy } from '../../src/util/paramVector.js';
import {
  euclideanAscent,
  momentumAscent,
  perturbedDescent,
  lookSamDescent,
  sharpnessAwareStep,
  disposeStepResult,
  stochasticAscent,
} from '../../src/index.js';
import { assertClose, runOn, sizeOf, uniform } from './helpers.js';

before(async () => {
  const info = await initBackend({ backend: 'wasm', threads: 1 });
  assert.equal(info.name, 'wasm');
});

// Below, at and above the SIMD width and the 1024-element summation block, and a conv kernel.
const SHAPES: number[][] = [[1], [3], [4], [17], [1023], [1025], [3, 3, 1, 32], [64, 7]];

function lists(seed: number, scaleY = 1): { xs: tf.Tensor[]; ys: tf.Tensor[] } {
  const xs = SHAPES.map((s, i) => tf.tensor(uniform(sizeOf(s), seed + i, -3, 3), s));
  const ys = SHAPES.map((s, i) => tf.tensor(uniform(sizeOf(s), seed + 50 + i, -2 * scaleY, 2 * scaleY), s));
  return { xs, ys };
}

/** The stock-op compositions (what the optimisers computed before the kernels). */
const dotOf = (a: tf.Tensor[], b: tf.Tensor[]): tf.Tensor => tf.addN(a.map((x, i) => tf.sum(tf.mul(x, b[i]))));
const normOf = (a: tf.Tensor[]): tf.Tensor => tf.sqrt(dotOf(a, a));
const axpyOf = (xs: tf.Tensor[], ys: tf.Tensor[], s: tf.Tensor): tf.Tensor[] => xs.map((x, i) => tf.add(x, tf.mul(s, ys[i])));

function bits(t: tf.Tensor): number[] {
  return Array.from(new Uint32Array(Float32Array.from(t.dataSync()).buffer));
}

async function kernelsOf(fn: () => tf.Tensor[]): Promise<string[]> {
  const info = await tf.profile(() => fn());
  tf.dispose(info.result as tf.Tensor[]);
  return info.kernels.map((k) => k.name);
}

function assertSameBits(got: tf.Tensor[], want: tf.Tensor[], what: string): void {
  assert.equal(got.length, want.length, `${what}: list length`);
  got.forEach((t, i) => {
    assert.deepEqual(t.shape, want[i].shape, `${what}: shape ${i}`);
    assert.deepEqual(bits(t), bits(want[i]), `${what}: tensor ${i}`);
  });
}

describe('on wasm', () => {
  test('each runs one kernel for a whole list', async () => {
    await tf.setBackend('wasm');
    const { xs, ys } = lists(1);
    const d = tf.scalar(2.5);
    assert.deepEqual(await kernelsOf(() => normalizedAxpy(xs, ys, 0.05, 1e-12)), [NORMALIZED_AXPY_KERNEL]);
    assert.deepEqual(await kernelsOf(() => selfScaledAxpy(xs, ys, 0.7, d, 1e-12)), [NORMALIZED_AXPY_KERNEL]);
    assert.deepEqual(
      await kernelsOf(() => {
        const r = rejection(ys, xs, 1e-12);
        return [...r.values, r.norm];
      }),
      [REJECTION_KERNEL],
    );
    tf.dispose([...xs, ...ys, d]);
  });

  test('normalizedAxpy is x + (a / (‖y‖ + eps)) y of the float32 ops, bit for bit (zero y, negative a, large eps)', async () => {
    await tf.setBackend('wasm');
    for (const [seed, a, eps, zeroY] of [
      [2, 0.05, 1e-12, false],
      [3, -0.5, 1e-12, false],
      [4, 2, 0.1, false],
      [5, 0.05, 1e-12, true],
    ] as const) {
      const { xs, ys: y0 } = lists(seed);
      const ys = zeroY ? y0.map((y) => tf.zerosLike(y)) : y0;
      const fused = normalizedAxpy(xs, ys, a, eps);
      const composed = tf.tidy(() => axpyOf(xs, ys, tf.div(a, tf.add(normOf(ys), eps))));
      assertSameBits(fused, composed, `a ${a}, eps ${eps}${zeroY ? ', y = 0' : ''}`);
      if (zeroY) assertSameBits(fused, xs, 'y = 0 leaves x');
      tf.dispose([...xs, ...y0, ...ys, ...fused, ...composed]);
    }
  });

  test("with a mask, normalizedAxpy is ESAM's x + s (m ⊙ y) of the float32 ops, bit for bit, signed zeros included", async () => {
    await tf.setBackend('wasm');
    const { xs, ys } = lists(13);
    // Zero weights of both signs where the mask is 0 and y has either sign: x + (-0 or +0).
    const x0 = tf.tensor1d([-0, 0, -0, 0, 1.5]);
    const y0 = tf.tensor1d([2, -2, -3, 3, 1]);
    const allX = [...xs, x0];
    const allY = [...ys, y0];
    const total = allY.reduce((n, y) => n + y.size, 0);
    const draws = uniform(total, 14, 0, 1);
    const mask = Float32Array.from(draws, (u, i) => (i >= total - 5 ? (i === total - 1 ? 1 : 0) : u < 0.5 ? 1 : 0));
    const fused = normalizedAxpy(allX, allY, 0.05 / 0.5, 1e-12, mask);
    const composed = tf.tidy(() => {
      const s = tf.div(0.05 / 0.5, tf.add(normOf(allY), 1e-12));
      let at = 0;
      const e = allY.map((y) => tf.mul(tf.mul(y, tf.tensor(mask.subarray(at, (at += y.size)), y.shape)), s));
      return allX.map((x, i) => tf.add(x, tf.mul(1, e[i]!)));
    });
    assertSameBits(fused, composed, 'masked move');
    assert.deepEqual(
      Array.from(fused[fused.length - 1]!.dataSync().slice(0, 4)).map((v) => Object.is(v, -0)),
      [false, false, true, false],
      'signed zeros as the ops give them',
    );
    assert.throws(
      () => normalizedAxpy(allX, allY, 1, 0, mask.subarray(1)),
      /normalizedAxpy: mask must be a Float32Array of \d+ elements \(one per element of ys\), got \d+ elements/,
    );
    tf.dispose([...xs, ...ys, x0, y0, ...fused, ...composed]);
  });

  test('the scale is rounded as the float32 ops round it, over many random a, eps and d', async () => {
    await tf.setBackend('wasm');
    // Every intermediate (the norm, norm + eps, the product and the quotient) must be rounded to
    // float32 where the ops round it; one rounding missed changes the last bit of s in some draws.
    const draws = uniform(4 * 300, 31, 0, 1);
    for (let k = 0; k < 300; k++) {
      const [u1, u2, u3, u4] = [draws[4 * k]!, draws[4 * k + 1]!, draws[4 * k + 2]!, draws[4 * k + 3]!];
      const a = (u1 - 0.5) * 10 ** (4 * u2 - 2);
      const eps = 10 ** (6 * u3 - 4);
      const x = tf.tensor1d(uniform(5, 100 + k, -1, 1));
      const y = tf.tensor1d(uniform(5, 500 + k, -u4 * 100, u4 * 100));
      const d = tf.scalar(u4 * 7);
      const got = [...normalizedAxpy([x], [y], a, eps), ...selfScaledAxpy([x], [y], a, d, eps)];
      const want = tf.tidy(() => [
        ...axpyOf([x], [y], tf.div(a, tf.add(normOf([y]), eps))),
        ...axpyOf([x], [y], tf.div(tf.mul(a, normOf([x])), tf.add(d, eps))),
      ]);
      assertSameBits(got, want, `draw ${k}: a ${a}, eps ${eps}`);
      tf.dispose([x, y, d, ...got, ...want]);
    }
  });

  test('selfScaledAxpy is x + (a ‖x‖ / (d + eps)) y of the float32 ops, bit for bit', async () => {
    await tf.setBackend('wasm');
    for (const [seed, a, dValue, eps] of [
      [6, 0.7, 3.25, 1e-12],
      [7, 0, 1, 1e-12],
      [8, 1.5, 0, 0.25],
    ] as const) {
      const { xs, ys } = lists(seed);
      const d = tf.scalar(dValue);
      const fused = selfScaledAxpy(xs, ys, a, d, eps);
      const composed = tf.tidy(() => axpyOf(xs, ys, tf.div(tf.mul(a, normOf(xs)), tf.add(d, eps))));
      assertSameBits(fused, composed, `a ${a}, d ${dValue}, eps ${eps}`);
      tf.dispose([...xs, ...ys, d, ...fused, ...composed]);
    }
  });

  test('rejection is y - (<y, x> / (‖x‖² + eps)) x and its norm, bit for bit, and orthogonal to x', async () => {
    await tf.setBackend('wasm');
    for (const [seed, eps] of [
      [9, 1e-12],
      [10, 0.5],
    ] as const) {
      const { xs, ys } = lists(seed);
      const { values, norm } = rejection(ys, xs, eps);
      const composed = tf.tidy(() => {
        const s = tf.div(dotOf(ys, xs), tf.add(tf.square(normOf(xs)), eps));
        const r = axpyOf(ys, xs, tf.neg(s));
        return [...r, normOf(r)];
      });
      assertSameBits([...values, norm], composed, `eps ${eps}`);
      if (eps === 1e-12) {
        // <r, x> ≈ 0 relative to ‖r‖ ‖x‖.
        const rx = tf.tidy(() => dotOf(values, xs).dataSync()[0]!);
        const scale = norm.dataSync()[0]! * tf.tidy(() => normOf(xs).dataSync()[0]!);
        assert.ok(Math.abs(rx) < 1e-4 * scale, `<r, x> = ${rx}, ‖r‖‖x‖ = ${scale}`);
      }
      tf.dispose([...xs, ...ys, ...values, norm, ...composed]);
    }
  });

  test('under a tape the compositions run, so gradients flow through them', async () => {
    await tf.setBackend('wasm');
    const y = tf.tensor1d([3, -4]);
    const x = tf.tensor1d([1, 2]);
    // d/dx sum(x + (a / ‖y‖) y) = 1; d/dy sum(x + a y / ‖y‖) = a (1/‖y‖ - y (Σy) / ‖y‖³).
    const [gx, gy] = tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(normalizedAxpy([a], [b], 0.5, 0)[0]))([x, y]);
    assert.deepEqual(Array.from(gx.dataSync()), [1, 1]);
    const expected = [3, -4].map((yi) => 0.5 * (1 / 5 - (yi * -1) / 125));
    assertClose(gy.dataSync() as Float32Array, Float32Array.from(expected), 'd/dy', 1e-6);
    // d/dx sum(x + a ‖x‖ y / d) = 1 + a (Σy / d) x / ‖x‖.
    const d = tf.scalar(2);
    const [gx2] = tf.grads((a: tf.Tensor) => tf.sum(selfScaledAxpy([a], [y], 0.5, d, 0)[0]))([x]);
    const expected2 = [1, 2].map((xi) => 1 + 0.5 * (-1 / 2) * (xi / Math.sqrt(5)));
    assertClose(gx2.dataSync() as Float32Array, Float32Array.from(expected2), 'selfScaled d/dx', 1e-6);
    tf.dispose([x, y, d, gx, gy, gx2]);
  });

  test('no tensor left over many calls; mismatched lists and a wide d are refused, naming them', async () => {
    await tf.setBackend('wasm');
    const { xs, ys } = lists(11);
    const d = tf.scalar(1.5);
    const before = tf.memory().numTensors;
    for (let i = 0; i < 200; i++) {
      tf.dispose(normalizedAxpy(xs, ys, 0.05, 1e-12));
      tf.dispose(selfScaledAxpy(xs, ys, 0.5, d, 1e-12));
      const r = rejection(ys, xs, 1e-12);
      tf.dispose([...r.values, r.norm]);
    }
    assert.equal(tf.memory().numTensors, before);
    assert.throws(() => normalizedAxpy(xs, ys.slice(1), 1, 0), /normalizedAxpy: lists differ in length \(8 vs 7\)/);
    assert.throws(() => selfScaledAxpy(xs.slice(2), ys, 1, d, 0), /selfScaledAxpy: lists differ in length \(6 vs 8\)/);
    assert.throws(() => rejection(ys, xs.slice(1), 0), /rejection: lists differ in length \(8 vs 7\)/);
    const wide = tf.tensor1d([1, 2]);
    assert.throws(
      () => selfScaledAxpy(xs, ys, 1, wide as unknown as tf.Scalar, 0),
      /selfScaledAxpy: s must be a number or a scalar tensor/,
    );
    tf.dispose([...xs, ...ys, d, wide]);
  });
});

test('on cpu (no such kernels) the compositions run, with the values of wasm to rounding', async () => {
  const run = (): tf.Tensor[] => {
    const { xs, ys } = lists(12);
    const d = tf.scalar(4);
    const r = rejection(ys, xs, 1e-12);
    return [...normalizedAxpy(xs, ys, 0.05, 1e-12), ...selfScaledAxpy(xs, ys, 0.5, d, 1e-12), ...r.values, r.norm];
  };
  const cpu = await runOn('cpu', () => {
    assert.equal(tf.getKernel(NORMALIZED_AXPY_KERNEL, 'cpu'), undefined);
    return run();
  });
  const wasm = await runOn('wasm', run);
  cpu.forEach((v, i) => assertClose(wasm[i]!, v, `output ${i}`, 1e-5));
});

describe('the steps through the fused moves equal the unfused steps bit for bit', () => {
  // A small least-squares model: loss = mean((X w1 + b) · w2 - t)², so every variable gets a gradient.
  const X = (): tf.Tensor2D => tf.tensor2d(uniform(40, 21, -1, 1), [10, 4]);
  const T = (): tf.Tensor2D => tf.tensor2d(uniform(10, 22, -1, 1), [10, 1]);
  const makeVars = (): tf.Variable[] => [
    tf.variable(tf.tensor2d(uniform(12, 23, -1, 1), [4, 3])),
    tf.variable(tf.tensor1d(uniform(3, 24, -1, 1))),
    tf.variable(tf.tensor2d(uniform(3, 25, -1, 1), [3, 1])),
  ];
  const lossOf = (vars: tf.Variable[], x: tf.Tensor2D, t: tf.Tensor2D) => (): tf.Scalar =>
    tf.tidy(() => tf.mean(tf.square(tf.sub(tf.matMul(tf.add(tf.matMul(x, vars[0]!), vars[1]!), vars[2]!), t))) as tf.Scalar);

  /**
   * Five steps of plain SGD along the directions of `config` (LookSAM climbing on steps 0, 2, 4);
   * returns the final weights and every step's directions. `momentum[0]`, when given, is set to
   * each step's direction (what MSAM's climb reads next step).
   */
  function run(
    config: Omit<Parameters<typeof sharpnessAwareStep>[2], 'rho'>,
    momentum?: tf.Tensor[][],
  ): { weights: tf.Tensor[]; directions: tf.Tensor[] } {
    const x = X();
    const t = T();
    const vars = makeVars();
    const f = lossOf(vars, x, t);
    const directions: tf.Tensor[] = [];
    for (let k = 0; k < 5; k++) {
      const r = sharpnessAwareStep(f, vars, { ...config, rho: 0.05, climb: k % 2 === 0 || config.descent.name !== 'looksam' });
      directions.push(...r.gradients.map((g) => g.clone()));
      tf.tidy(() => vars.forEach((v, i) => v.assign(tf.sub(v, tf.mul(0.1, r.gradients[i]!)))));
      if (momentum !== undefined) {
        tf.dispose(momentum[0]);
        momentum[0] = r.gradients.map((g) => g.clone());
      }
      disposeStepResult(r);
    }
    const weights = vars.map((v) => v.clone());
    tf.dispose([x, t, ...vars]);
    return { weights, directions };
  }

  const unfused = <T extends object>(rule: T): T => ({ ...rule, shiftedWeights: undefined });

  test('SAM (euclidean climb) on wasm', async () => {
    await tf.setBackend('wasm');
    const a = run({ ascent: euclideanAscent(), descent: perturbedDescent() });
    const b = run({ ascent: unfused(euclideanAscent()), descent: perturbedDescent() });
    assertSameBits(a.weights, b.weights, 'weights');
    assertSameBits(a.directions, b.directions, 'directions');
    tf.dispose([...a.weights, ...a.directions, ...b.weights, ...b.directions]);
  });

  test("ESAM's stochastic climb on wasm (the same draws, the same bits)", async () => {
    await tf.setBackend('wasm');
    const a = run({ ascent: stochasticAscent({ beta: 0.5, seed: 3 }), descent: perturbedDescent() });
    const b = run({ ascent: unfused(stochasticAscent({ beta: 0.5, seed: 3 })), descent: perturbedDescent() });
    assertSameBits(a.weights, b.weights, 'weights');
    assertSameBits(a.directions, b.directions, 'directions');
    tf.dispose([...a.weights, ...a.directions, ...b.weights, ...b.directions]);
  });

  test("MSAM's climb along a momentum on wasm", async () => {
    await tf.setBackend('wasm');
    // The "momentum" is the previous step's direction (none before the first: e = 0 there).
    const runWith = (fused: boolean) => {
      const momentum: tf.Tensor[][] = [[]];
      const ascent = momentumAscent((_v, i) => momentum[0]![i] ?? null);
      const out = run({ ascent: fused ? ascent : unfused(ascent), descent: perturbedDescent() }, momentum);
      tf.dispose(momentum[0]);
      return out;
    };
    const a = runWith(true);
    const b = runWith(false);
    assertSameBits(a.weights, b.weights, 'weights');
    assertSameBits(a.directions, b.directions, 'directions');
    tf.dispose([...a.weights, ...a.directions, ...b.weights, ...b.directions]);
  });

  test("LookSAM's stored direction and its reuse on wasm equal them composed on cpu to rounding", async () => {
    const onBackend = async (name: string) => {
      await tf.setBackend(name);
      const descent = lookSamDescent({ alpha: 0.7 });
      const out = run({ ascent: euclideanAscent(), descent });
      descent.state.dispose();
      const values = [...out.weights, ...out.directions].map((t) => Float32Array.from(t.dataSync()));
      tf.dispose([...out.weights, ...out.directions]);
      return values;
    };
    const cpu = await onBackend('cpu');
    const wasm = await onBackend('wasm');
    cpu.forEach((v, i) => assertClose(wasm[i]!, v, `output ${i}`, 1e-5));
  });
});
