/**
 * The playground's training session, run in Node on the cpu backend: seeded and step-for-step
 * reproducible, race mode starting both optimisers from the same weights on the same batches,
 * measurements consistent with the records, the history thinned as documented, nothing leaked.
 */
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { DEFAULT_SETTINGS, type Settings } from '../../playground/src/settings.js';
import { MAX_RECORDS, RecordSchedule, Session } from '../../playground/src/trainer.js';

/** A small view that trains in a second on cpu. */
const SMALL: Settings = { ...DEFAULT_SETTINGS, n: 120, width: 8, depth: 2, batch: 16, every: 20 };

before(async () => {
  await tf.setBackend('cpu');
});

function run(settings: Settings, steps: number): Session {
  const s = new Session(settings);
  for (let i = 0; i < steps; i++) s.advance();
  return s;
}

test('the same settings give the same run, step for step; another seed gives another', () => {
  const a = run(SMALL, 30);
  const b = run(SMALL, 30);
  const c = run({ ...SMALL, seed: 1 }, 30);
  try {
    assert.equal(a.history[0]!.length, 7, 'records at steps 0, 5, ..., 30');
    assert.deepEqual(b.history, a.history);
    assert.deepEqual(b.measurements, a.measurements);
    assert.notEqual(c.history[0]![0]!.trainLoss, a.history[0]![0]!.trainLoss);
  } finally {
    for (const s of [a, b, c]) s.dispose();
  }
});

test('race mode: both start from the same weights and see the same batches', () => {
  const same = run({ ...SMALL, race: true, b: { ...SMALL.a } }, 25);
  const differ = run({ ...SMALL, race: true, a: { ...SMALL.a, opt: 'sgd' }, b: { ...SMALL.b, opt: 'sam' } }, 25);
  try {
    // The same optimiser on both sides: identical histories, so weights and batches are shared.
    assert.deepEqual(same.history[1], same.history[0]);
    assert.deepEqual(same.measurements[1], same.measurements[0]);
    // SGD against SAM: equal at step 0 (same weights, same data), apart afterwards.
    const [sgd, sam] = differ.history;
    assert.deepEqual({ ...sgd![0]! }, { ...sam![0]! });
    assert.notEqual(sgd!.at(-1)!.trainLoss, sam!.at(-1)!.trainLoss);
    assert.equal(sgd!.at(-1)!.perturbedLoss, null, 'SGD has no perturbed pass');
    assert.ok(sam!.at(-1)!.surrogateGap! > 0, 'SAM climbs: L(w + e) > L(w) on its batches');
  } finally {
    same.dispose();
    differ.dispose();
  }
});

test('training lowers the loss, and the loss slice passes through the recorded training loss at a = 0', () => {
  const s = run(SMALL, 200);
  try {
    const h = s.history[0]!;
    assert.ok(h.at(-1)!.trainLoss < 0.6 * h[0]!.trainLoss, `loss ${h[0]!.trainLoss} -> ${h.at(-1)!.trainLoss}`);
    const m = s.measurements[0]!;
    assert.deepEqual(
      m.map((x) => x.step),
      [0, 20, 40, 60, 80, 100, 120, 140, 160, 180, 200],
    );
    const last = m.at(-1)!;
    const mid = last.slice.alphas.indexOf(0);
    assert.ok(mid > 0, 'the slice grid holds a = 0');
    // Two code paths (the library's logits cross-entropy, the page's clipped-probability one) agree.
    assert.ok(Math.abs(last.slice.losses[mid]! - h.at(-1)!.trainLoss) < 1e-5);
    assert.ok(Number.isFinite(last.sigmaMax) && last.sigmaMax > 0);
  } finally {
    s.dispose();
  }
});

test('a session leaks no tensors: constant while stepping, back to the start once disposed', () => {
  const before = tf.memory().numTensors;
  const s = new Session({ ...SMALL, race: true });
  for (let i = 0; i < 3; i++) s.advance(); // the optimisers' slots exist after the first step
  const stepping = tf.memory().numTensors;
  for (let i = 0; i < 40; i++) s.advance(); // records and measurements included
  assert.equal(tf.memory().numTensors, stepping);
  s.trainers.forEach((t) => t.boundary());
  assert.equal(tf.memory().numTensors, stepping);
  s.dispose();
  assert.equal(tf.memory().numTensors, before);
});

test('the record schedule doubles its interval and keeps the points on it when the history is full', () => {
  const schedule = new RecordSchedule();
  const a: { step: number }[] = [];
  const b: { step: number }[] = [];
  let step = 0;
  while (schedule.interval === 5) {
    if (schedule.due(step)) {
      a.push({ step });
      b.push({ step });
      schedule.thin([a, b]);
    }
    step += 1;
  }
  // MAX_RECORDS points every 5 steps, then thinned to those on multiples of 10.
  assert.equal(schedule.interval, 10);
  assert.equal(a.length, MAX_RECORDS / 2);
  assert.ok(a.every((r, i) => r.step === 10 * i));
  assert.deepEqual(b, a);
});
