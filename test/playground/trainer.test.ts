/**
 * The playground's training session, run in Node on the cpu backend: seeded and step-for-step
 * reproducible, race mode starting both optimisers from the same weights on the same batches,
 * measurements consistent with the records, the history thinned as documented, nothing leaked;
 * every method of the table trains (ESAM on one loss per example), LookSAM with k = 1 is SAM.
 */
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { SharpnessAwareOptimizer } from 'flatminima';
import { METHODS } from '../../playground/src/methods.js';
import { DEFAULT_SETTINGS, defaultSide, type Settings, type SideSettings } from '../../playground/src/settings.js';
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

/** SMALL with side A (and B, in race mode) set to `a` (and `b`). */
function withSides(a: SideSettings, b?: SideSettings): Settings {
  return { ...SMALL, a, ...(b === undefined ? {} : { race: true, b }) };
}

test('each new variant lowers the training loss over a few hundred steps', () => {
  for (const a of [defaultSide('looksam'), defaultSide('msam'), { ...defaultSide('esam'), esamGamma: 0.5 }]) {
    const s = run(withSides(a), 300);
    try {
      const t = s.trainers[0]!;
      assert.equal(t.method.id, a.opt);
      // ESAM descends on half of each batch: the step needs one loss per example, and gets them.
      assert.equal(t.needsExampleLosses, a.opt === 'esam', `${a.opt}: needsExampleLosses`);
      const h = s.history[0]!;
      assert.ok(h.at(-1)!.trainLoss < 0.6 * h[0]!.trainLoss, `${a.opt}: loss ${h[0]!.trainLoss} -> ${h.at(-1)!.trainLoss}`);
      assert.equal(h.at(-1)!.perturbedLoss === null, !t.method.perturbs, `${a.opt}: perturbed loss recorded iff the method perturbs`);
    } finally {
      s.dispose();
    }
  }
});

test('ESAM with gamma 1 and beta 1 is SAM; with gamma 0.5 it is not', () => {
  // The share of the batch and the share of the weights at 1: every example, every weight, SAM's step.
  const sam = defaultSide('sam');
  const full = run(withSides({ ...defaultSide('esam'), rho: sam.rho, beta: 1, esamGamma: 1 }, sam), 40);
  const half = run(withSides({ ...defaultSide('esam'), rho: sam.rho, beta: 1, esamGamma: 0.5 }, sam), 40);
  try {
    assert.equal(full.trainers[0]!.needsExampleLosses, false);
    assert.equal(half.trainers[0]!.needsExampleLosses, true);
    const close = (x: number, y: number) => Math.abs(x - y) <= 1e-5 * Math.max(1, Math.abs(y));
    full.history[0]!.forEach((r, i) => assert.ok(close(r.trainLoss, full.history[1]![i]!.trainLoss), `step ${r.step}`));
    assert.ok(!close(half.history[0]!.at(-1)!.trainLoss, half.history[1]!.at(-1)!.trainLoss), 'half the batch: another run');
  } finally {
    full.dispose();
    half.dispose();
  }
});

test('LookSAM with k = 1 climbs every step and descends with g_p: the same trajectory as SAM with its rho', () => {
  const sam = { ...defaultSide('sam'), rho: 0.1 };
  const one = run(withSides({ ...defaultSide('looksam'), rho: 0.1, k: 1 }, sam), 60);
  const five = run(withSides({ ...defaultSide('looksam'), rho: 0.1, k: 5 }, sam), 60);
  try {
    assert.deepEqual(one.history[0], one.history[1], 'k = 1: every record equal');
    assert.deepEqual(one.measurements[0], one.measurements[1]);
    assert.notEqual(five.history[0]!.at(-1)!.trainLoss, five.history[1]!.at(-1)!.trainLoss, 'k = 5 reuses the direction: another run');
  } finally {
    one.dispose();
    five.dispose();
  }
});

test('every method of the table steps without leaking a tensor', () => {
  for (const m of METHODS) {
    const before = tf.memory().numTensors;
    const s = new Session(withSides(defaultSide(m.id)));
    try {
      assert.equal(s.trainers[0]!.optimizer instanceof SharpnessAwareOptimizer, m.id !== 'sgd', `${m.id}: wrapper`);
      for (let i = 0; i < 6; i++) s.advance(); // slots and LookSAM's stored direction exist after a climb
      const stepping = tf.memory().numTensors;
      for (let i = 0; i < 45; i++) s.advance(); // records and two measurements included
      assert.equal(tf.memory().numTensors, stepping, `${m.id}: tensors while stepping`);
    } finally {
      s.dispose();
    }
    assert.equal(tf.memory().numTensors, before, `${m.id}: tensors after dispose`);
  }
});
