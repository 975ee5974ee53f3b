/**
 * First-order tape saves by reference (src/backend/tape-saves.ts): the same gradients bit for bit as
 * tfjs's own saves, fewer kernel calls, exact higher-order gradients (where tfjs's saves are kept),
 * and no tensor left behind.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/backend/index.js';
import { setSharedTapeSaves } from '../../src/backend/tape-saves.js';
import { softmaxCrossEntropyFromLogits } from '../../src/sharpness/crossEntropy.js';
import { uniform } from './helpers.js';

before(async () => {
  const info = await initBackend({ backend: 'wasm', threads: 1 });
  assert.equal(info.name, 'wasm');
});
after(() => setSharedTapeSaves(true));

/**
 * A 3-8-8-2 ReLU net's mean cross-entropy, as a function of its weights (built from kernels that
 * save tensors), in the form tfjs can differentiate twice.
 */
function netLoss(weights: tf.Tensor[], x: tf.Tensor, y: tf.Tensor): tf.Scalar {
  let h = x;
  for (let i = 0; i < weights.length; i += 2) {
    h = tf.add(tf.matMul(h, weights[i]), weights[i + 1]);
    if (i + 2 < weights.length) h = tf.relu(h);
  }
  return tf.mean(softmaxCrossEntropyFromLogits(y, h)) as tf.Scalar;
}

function problem(): { weights: tf.Variable[]; x: tf.Tensor; y: tf.Tensor } {
  const shapes = [[3, 8], [8], [8, 8], [8], [8, 2], [2]];
  const weights = shapes.map((s, i) =>
    tf.variable(
      tf.tensor(
        uniform(
          s.reduce((a, b) => a * b, 1),
          10 + i,
          -1,
          1,
        ),
        s,
      ),
    ),
  );
  const x = tf.tensor(uniform(16 * 3, 1, -2, 2), [16, 3]);
  const y = tf.oneHot(tf.tensor1d([0, 1, 1, 0, 1, 0, 0, 1, 1, 1, 0, 0, 1, 0, 1, 0], 'int32'), 2).toFloat();
  return { weights, x, y };
}

function bits(t: tf.Tensor): number[] {
  return Array.from(new Uint32Array(Float32Array.from(t.dataSync()).buffer));
}

/** The loss and gradients of the net, with the shortcut on or off. */
function gradients(p: ReturnType<typeof problem>, shared: boolean): { value: number[]; grads: number[][] } {
  const was = setSharedTapeSaves(shared);
  try {
    const { value, grads } = tf.variableGrads(() => netLoss(p.weights, p.x, p.y), p.weights);
    const out = { value: bits(value), grads: p.weights.map((w) => bits(grads[w.name])) };
    tf.dispose([value, ...Object.values(grads)]);
    return out;
  } finally {
    setSharedTapeSaves(was);
  }
}

describe('tape saves by reference', () => {
  test('the loss and every gradient are bit-identical to tfjs own saves', () => {
    const p = problem();
    assert.deepEqual(gradients(p, true), gradients(p, false));
    tf.dispose([...p.weights, p.x, p.y]);
  });

  test('a first-order gradient runs fewer kernels (no Identity per saved tensor)', async () => {
    const p = problem();
    const identities = async (shared: boolean): Promise<number> => {
      const was = setSharedTapeSaves(shared);
      try {
        const info = await tf.profile(() => {
          const { value, grads } = tf.variableGrads(() => netLoss(p.weights, p.x, p.y), p.weights);
          tf.dispose([value, ...Object.values(grads)]);
        });
        return info.kernels.filter((k) => k.name === 'Identity').length;
      } finally {
        setSharedTapeSaves(was);
      }
    };
    const stock = await identities(false);
    const shared = await identities(true);
    assert.ok(stock >= 10, `tfjs's saves clone through Identity (${stock} calls)`);
    assert.ok(shared <= stock - 10, `with the shortcut, ${shared} Identity calls against ${stock}`);
    tf.dispose([...p.weights, p.x, p.y]);
  });

  test('second and third derivatives stay exact (saves under an outer tape keep their tape node)', () => {
    const xs = [-1.5, -0.5, 0.25, 2];
    const x = tf.tensor1d(xs);
    // f = sum(x^4): f' = 4x^3, f'' = 12x^2, f''' = 24x; each product saves its inputs.
    const f = (t: tf.Tensor): tf.Tensor => tf.sum(tf.mul(tf.mul(t, t), tf.mul(t, t)));
    const d1 = tf.grad(f);
    const d2 = tf.grad((t: tf.Tensor) => tf.sum(d1(t)));
    const d3 = tf.grad((t: tf.Tensor) => tf.sum(d2(t)));
    const got = [d1(x), d2(x), d3(x)].map((t) => Array.from(t.dataSync()));
    const want = [xs.map((v) => 4 * v ** 3), xs.map((v) => 12 * v ** 2), xs.map((v) => 24 * v)];
    for (let order = 0; order < 3; order++) {
      got[order].forEach((g, i) =>
        assert.ok(
          Math.abs(g - want[order][i]) <= 1e-5 * Math.max(1, Math.abs(want[order][i])),
          `order ${order + 1} at ${xs[i]}: ${g} vs ${want[order][i]}`,
        ),
      );
    }
    x.dispose();
  });

  test('a Hessian-vector product of the net agrees with and without the shortcut', () => {
    const p = problem();
    const v = p.weights.map((w, i) => tf.tensor(uniform(w.size, 50 + i, -1, 1), w.shape));
    const hvp = (shared: boolean): number[][] => {
      const was = setSharedTapeSaves(shared);
      try {
        const hv = tf.grads((...ws: tf.Tensor[]) => {
          const g = tf.grads((...inner: tf.Tensor[]) => netLoss(inner, p.x, p.y))(ws);
          return tf.addN(g.map((gi, i) => tf.sum(tf.mul(gi, v[i]))));
        })(p.weights);
        const out = hv.map(bits);
        tf.dispose(hv);
        return out;
      } finally {
        setSharedTapeSaves(was);
      }
    };
    const stock = hvp(false);
    const shared = hvp(true);
    assert.ok(
      shared.flat().some((b) => (b & 0x7fffffff) !== 0),
      'the product is not zero',
    );
    assert.deepEqual(shared, stock);
    tf.dispose([...p.weights, p.x, p.y, ...v]);
  });

  test('no tensor is left after many gradients', () => {
    const p = problem();
    gradients(p, true);
    const before = tf.memory().numTensors;
    for (let i = 0; i < 300; i++) gradients(p, true);
    assert.equal(tf.memory().numTensors, before);
    tf.dispose([...p.weights, p.x, p.y]);
  });
});
