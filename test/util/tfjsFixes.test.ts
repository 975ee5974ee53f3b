/**
 * Each tfjs work-around: the defect is still there in the installed tfjs (so the work-around is
 * still needed; these fail when tfjs fixes it), and the work-around removes it.
 */
import * as tf from '@tensorflow/tfjs';
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import * as workarounds from '../../src/util/tfjsFixes.js';
import {
  disposeForgottenOptimizerState,
  float32RunningPower,
  interceptKeeps,
  repairRestoredOptimizer,
  TFJS_WORKAROUNDS,
  WORKAROUNDS_PINNED_TFJS,
} from '../../src/util/tfjsFixes.js';

before(async () => {
  await tf.setBackend('cpu');
});

test('every work-around is listed, names a function of the module, and is pinned to the installed tfjs', () => {
  assert.deepEqual(TFJS_WORKAROUNDS.map((w) => w.name).sort(), [
    'disposeForgottenOptimizerState',
    'interceptKeeps',
    'repairRestoredOptimizer',
  ]);
  for (const w of TFJS_WORKAROUNDS) {
    assert.equal(typeof (workarounds as Record<string, unknown>)[w.name], 'function', w.name);
    assert.ok(w.reason.length > 40, `${w.name} says why`);
    // An upgrade of tfjs fails here first: re-check each work-around, then move the pin.
    assert.equal(w.pinnedTo, WORKAROUNDS_PINNED_TFJS);
  }
  assert.equal(tf.version_core, WORKAROUNDS_PINNED_TFJS);
});

test('float32RunningPower is the float32 product beta * beta * ... (steps + 1 factors)', () => {
  assert.equal(float32RunningPower(0.5, 0), 0.5);
  assert.equal(float32RunningPower(0.5, 3), 0.0625); // powers of two are exact
  // By hand in float32: fround(0.9) squared, rounded to float32.
  assert.equal(float32RunningPower(0.9, 1), Math.fround(Math.fround(0.9) * Math.fround(0.9)));
});

test("Adam's setWeights recomputes beta powers that differ from the running product; the repair restores them bit for bit", async () => {
  const start = tf.memory().numTensors;
  const v = tf.tidy(() => tf.variable(tf.tensor1d([0.5, -1.5])));
  const adam = tf.train.adam(0.01);
  const powers = (o: tf.Optimizer): number[] => {
    const a = o as unknown as { accBeta1: tf.Variable; accBeta2: tf.Variable };
    return [a.accBeta1.dataSync()[0], a.accBeta2.dataSync()[0]];
  };
  let differed = 0;
  for (let t = 1; t <= 60; t++) {
    adam.minimize(() => tf.sum(tf.square(v)) as tf.Scalar, false, [v]);
    const truth = powers(adam);
    // The uninterrupted run's powers are the float32 running products.
    assert.deepEqual(truth, [float32RunningPower(0.9, t), float32RunningPower(0.999, t)]);
    const saved = await adam.getWeights();
    const copy = tf.train.adam(0.01);
    await copy.setWeights(saved);
    tf.dispose(saved.filter((w) => !(w.tensor instanceof tf.Variable)).map((w) => w.tensor));
    if (powers(copy).some((p, i) => p !== truth[i])) differed++;
    repairRestoredOptimizer(copy);
    assert.deepEqual(powers(copy), truth, `after ${t} steps`);
    copy.dispose();
  }
  assert.ok(differed > 0, 'tfjs setWeights now restores the beta powers exactly: the repair may be unnecessary');
  const sgd = tf.train.sgd(0.1);
  repairRestoredOptimizer(sgd); // other optimisers: nothing to do, no throw
  sgd.dispose();
  adam.dispose();
  v.dispose();
  assert.equal(tf.memory().numTensors, start);
});

test("Momentum's dispose leaks its -lr scalar; disposeForgottenOptimizerState frees it (and is harmless for SGD)", () => {
  const start = tf.memory().numTensors;
  const momentum = tf.train.momentum(0.1, 0.9);
  momentum.dispose();
  assert.equal(tf.memory().numTensors, start + 1, 'tfjs Momentum.dispose() no longer leaks `c`: the work-around may be unnecessary');
  disposeForgottenOptimizerState(momentum);
  assert.equal(tf.memory().numTensors, start);
  disposeForgottenOptimizerState(momentum); // twice: no throw
  const sgd = tf.train.sgd(0.1);
  sgd.dispose();
  assert.equal(tf.memory().numTensors, start);
  disposeForgottenOptimizerState(sgd);
  const adam = tf.train.adam(0.1); // no `c` at all
  adam.dispose();
  disposeForgottenOptimizerState(adam);
  assert.equal(tf.memory().numTensors, start);
});

test('interceptKeeps collects what tf.keep marks inside fn, keeps it alive, and always puts engine.keep back', () => {
  const start = tf.memory().numTensors;
  const engine = tf.engine() as unknown as { keep: unknown };
  const original = engine.keep;
  const outside = tf.keep(tf.scalar(1));
  const collected: tf.Tensor[] = [];
  const result = interceptKeeps(collected, () =>
    tf.tidy(() => {
      const kept = tf.keep(tf.scalar(2));
      tf.scalar(3); // not kept: freed by the tidy
      return tf.add(kept, 1);
    }),
  );
  assert.equal(collected.length, 1);
  assert.deepEqual(collected[0].dataSync(), Float32Array.from([2]), 'the kept tensor survived the tidy');
  assert.equal(engine.keep, original);
  assert.throws(
    () =>
      interceptKeeps([], () => {
        throw new Error('boom');
      }),
    /boom/,
  );
  assert.equal(engine.keep, original, 'put back after a throw');
  tf.dispose([outside, result, ...collected]);
  assert.equal(tf.memory().numTensors, start);
});
