/** The parameter-vector toolkit: global norms and inner products by hand, and perturb-and-restore that puts back the exact bits. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { atShiftedWeights, dot, globalDot, globalNorm, norm, scale, withSnapshot } from '../../src/util/paramVector.js';

tf.setBackend('cpu');

const bits = (vars: tf.Variable[]): Float32Array[] => vars.map((v) => Float32Array.from(v.dataSync()));

test('globalDot and globalNorm join all tensors into one vector (not per tensor)', () => {
  const a = [tf.tensor1d([1, 2]), tf.tensor2d([[3], [4]])];
  const b = [tf.tensor1d([-1, 0.5]), tf.tensor2d([[2], [-0.25]])];
  // <a, b> = -1 + 1 + 6 - 1 = 5; ‖a‖ = sqrt(1 + 4 + 9 + 16) = sqrt(30).
  assert.equal(dot(a, b), 5);
  assert.ok(Math.abs(norm(a) - Math.sqrt(30)) < 1e-6);
  const n = globalNorm(a);
  const d = globalDot(a, b);
  assert.ok(Math.abs(n.dataSync()[0] - Math.sqrt(30)) < 1e-6);
  assert.equal(d.dataSync()[0], 5);
  assert.equal(dot([], []), 0);
  assert.throws(
    () => globalDot(a, [b[0]]),
    (err: unknown) => err instanceof RangeError && /lists differ in length \(2 vs 1\)/.test(err.message),
  );
  const s = scale(a, -2);
  assert.deepEqual(Array.from(s[1].dataSync()), [-6, -8]);
  tf.dispose([...a, ...b, n, d, ...s]);
});

test('atShiftedWeights runs at w + d, then restores w bit-exactly, also when the function throws', () => {
  const w = [tf.variable(tf.tensor1d([0.1, -0.3, 1e-8])), tf.variable(tf.tensor2d([[7.25]]))];
  const frozen = tf.variable(tf.tensor1d([5]), false);
  const original = bits(w);
  const before = tf.memory().numTensors;
  const d = [tf.tensor1d([1, 2, 3]), tf.tensor2d([[-1]])];
  const seen = atShiftedWeights(
    w,
    d,
    () => {
      tf.tidy(() => frozen.assign(tf.tensor1d([6]))); // e.g. moving statistics updated by a training pass
      return w.flatMap((v) => Array.from(v.dataSync()));
    },
    { alsoRestore: [frozen] },
  );
  assert.deepEqual(seen, [Math.fround(0.1) + 1, Math.fround(-0.3) + 2, Math.fround(1e-8) + 3, 6.25].map(Math.fround));
  assert.deepEqual(bits(w), original);
  assert.deepEqual(Array.from(frozen.dataSync()), [5]);
  assert.throws(
    () =>
      atShiftedWeights(w, d, () => {
        throw new Error('boom');
      }),
    /boom/,
  );
  assert.deepEqual(bits(w), original);
  tf.dispose(d);
  assert.equal(tf.memory().numTensors, before, 'the snapshot frees its copies');
  // A shift given as a function is freed once applied.
  let made: tf.Tensor[] = [];
  atShiftedWeights(
    w,
    () => (made = [tf.onesLike(w[0]), tf.onesLike(w[1])]),
    () => undefined,
  );
  assert.ok(made.every((t) => t.isDisposed));
  assert.equal(tf.memory().numTensors, before);
  tf.dispose([...w, frozen]);
});

test('WeightSnapshot.shift moves to saved + s·d from the saved point, not from the current one', () => {
  const v = tf.variable(tf.tensor1d([1, 2]));
  const d = [tf.tensor1d([0.5, -1])];
  withSnapshot([v], (snap) => {
    snap.shift(d, 2);
    snap.shift(d, 2); // twice from the same origin: still w + 2d
    assert.deepEqual(Array.from(v.dataSync()), [2, 0]);
  });
  assert.deepEqual(Array.from(v.dataSync()), [1, 2]);
  tf.dispose([v, ...d]);
});
