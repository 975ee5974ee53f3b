/** The seeded generator: reproducible, restorable from its state, roughly uniform and normal. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Rng } from '../../src/util/random.js';

test('same seed, same stream; different seed, different stream', () => {
  const a = new Rng(42);
  const b = new Rng(42);
  const c = new Rng(43);
  const sa = Array.from({ length: 50 }, () => a.uint32());
  assert.deepEqual(
    Array.from({ length: 50 }, () => b.uint32()),
    sa,
  );
  assert.notDeepEqual(
    Array.from({ length: 50 }, () => c.uint32()),
    sa,
  );
});

test('getState/setState round-trips at any point and resumes the same stream', () => {
  const rng = new Rng(7);
  for (let i = 0; i < 200; i++) {
    rng.uint32();
    const state = rng.getState();
    assert.ok(
      state.every((v) => Number.isInteger(v) && v >= 0 && v < 2 ** 32),
      `state ${state} is unsigned`,
    );
    const copy = new Rng(0);
    copy.setState(state);
    assert.equal(copy.uint32(), rng.uint32(), 'the restored copy continues the same stream');
  }
  assert.throws(() => rng.setState([1, 2, 3] as never), /four unsigned 32-bit integers/);
});

test('uniforms have mean 1/2 and normals mean 0, variance 1; permutations are permutations', () => {
  const rng = new Rng(1);
  const n = 20000;
  let su = 0;
  let sn = 0;
  let sn2 = 0;
  for (let i = 0; i < n; i++) {
    su += rng.next();
    const z = rng.normal();
    sn += z;
    sn2 += z * z;
  }
  assert.ok(Math.abs(su / n - 0.5) < 0.01);
  assert.ok(Math.abs(sn / n) < 0.03);
  assert.ok(Math.abs(sn2 / n - 1) < 0.05);
  const p = Array.from(rng.permutation(100)).sort((x, y) => x - y);
  assert.deepEqual(
    p,
    Array.from({ length: 100 }, (_, i) => i),
  );
  assert.throws(() => new Rng(1.5), /seed must be an integer/);
  assert.throws(() => rng.int(0), /n must be a positive integer/);
});

test('fillBernoulli draws what next() < p draws, element by element, and leaves the same state', () => {
  // p = 0.25 and 0.5 put the threshold exactly on an integer (2^30, 2^31); the others between two.
  for (const p of [0, 1e-9, 0.25, 0.37, 0.5, 0.9999999999, 1]) {
    const loop = new Rng(11);
    const bulk = new Rng(11);
    loop.uint32(); // start mid-stream, after a draw that is not a mask
    bulk.uint32();
    const expected = Float32Array.from({ length: 20011 }, () => (loop.next() < p ? 1 : 0));
    const got = new Float32Array(20011);
    bulk.fillBernoulli(got, p);
    assert.deepEqual(got, expected, `p = ${p}`);
    assert.deepEqual(bulk.getState(), loop.getState(), `state after p = ${p}`);
    assert.equal(bulk.uint32(), loop.uint32());
  }
  // And the share kept is p.
  const kept = new Float32Array(200000);
  new Rng(3).fillBernoulli(kept, 0.3);
  const share = kept.reduce((s, v) => s + v, 0) / kept.length;
  assert.ok(Math.abs(share - 0.3) < 0.005, `share ${share}`);
});

test('fillBernoulli rejects p outside [0, 1] and non-numbers, naming p', () => {
  const rng = new Rng(0);
  for (const p of [-0.1, 1.5, NaN])
    assert.throws(() => rng.fillBernoulli(new Float32Array(3), p), /Rng.fillBernoulli: p must be a number in \[0, 1\]/);
  assert.throws(() => rng.fillBernoulli(new Float32Array(3), '0.5' as unknown as number), TypeError);
});
