/**
 * Convergence on constructed records whose validation curves and epoch durations are written here;
 * the epochs and seconds to the target are read off by hand in the comments, including a run that
 * never reaches the target.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { analyzeRecords, tCritical, timeToTarget } from '../../src/analysis/index.js';
import { makeRecord } from './fixtures.js';

// GSAM: final validation accuracies 0.95 and 0.97 (mean 0.96, the best). Adaptive-GSAM: 0.95, 0.96, 0.80.
function records() {
  return [
    makeRecord({
      method: 'gsam',
      rho: 0.05,
      alpha: 0.1,
      seed: 0,
      val: 0.95,
      test: 0.9,
      curve: [0.5, 0.8, 0.9, 0.95],
      seconds: [1, 1, 1, 1],
    }),
    makeRecord({
      method: 'gsam',
      rho: 0.05,
      alpha: 0.1,
      seed: 1,
      val: 0.97,
      test: 0.9,
      curve: [0.6, 0.85, 0.93, 0.97],
      seconds: [1.5, 1.5, 1.5, 1.5],
    }),
    makeRecord({
      method: 'agsam',
      rho: 0.05,
      alpha: 0.1,
      seed: 0,
      val: 0.95,
      test: 0.9,
      curve: [0.7, 0.9, 0.95, 0.95],
      seconds: [2, 2, 2, 2],
    }),
    makeRecord({
      method: 'agsam',
      rho: 0.05,
      alpha: 0.1,
      seed: 1,
      val: 0.96,
      test: 0.9,
      curve: [0.7, 0.94, 0.96, 0.96],
      seconds: [2, 2, 2, 2],
    }),
    makeRecord({
      method: 'agsam',
      rho: 0.05,
      alpha: 0.1,
      seed: 2,
      val: 0.8,
      test: 0.9,
      curve: [0.5, 0.6, 0.7, 0.8],
      seconds: [2, 2, 2, 2],
    }),
  ];
}

const close = (a: number | null | undefined, b: number, what: string): void =>
  assert.ok(a != null && Math.abs(a - b) < 1e-9, `${what}: expected ${b}, got ${a}`);

describe('convergence', () => {
  test('target 95 % of the best final mean: epochs and seconds per run, by hand', () => {
    const c = analyzeRecords(records(), { target: 0.95 }).groups[0].convergence;
    assert.equal(c.reason, null);
    assert.equal(c.reference!.method, 'gsam');
    close(c.reference!.mean, 0.96, 'reference');
    // Target 0.95 * 0.96 = 0.912.
    close(c.target, 0.912, 'target');
    const [gsam, agsam] = c.methods;
    assert.equal(gsam.method, 'gsam');
    // GSAM seed 0 first >= 0.912 at epoch 4 (0.9 < 0.912), 4 s; seed 1 at epoch 3 (0.93), 4.5 s.
    assert.deepEqual(
      gsam.perRun.map((r) => [r.seed, r.epoch, r.seconds]),
      [
        [0, 4, 4],
        [1, 3, 4.5],
      ],
    );
    close(gsam.epochs.mean, 3.5, 'gsam epochs');
    close(gsam.seconds.mean, 4.25, 'gsam seconds');
    // Epochs 4 and 3: std sqrt(0.5), CI 3.5 ± t(1) * 0.5.
    close(gsam.epochs.ci!.upper, 3.5 + tCritical(1) * 0.5, 'gsam epochs ci');
    // Adaptive-GSAM seed 0 at epoch 3 (6 s), seed 1 at epoch 2 (4 s), seed 2 never (0.8 at best).
    assert.deepEqual(
      agsam.perRun.map((r) => [r.seed, r.epoch, r.seconds]),
      [
        [0, 3, 6],
        [1, 2, 4],
        [2, null, null],
      ],
    );
    assert.deepEqual([agsam.runs, agsam.reached, agsam.notReached], [3, 2, 1]);
    assert.deepEqual(agsam.notReachedSeeds, [2]);
    close(agsam.epochs.mean, 2.5, 'agsam epochs: over the two that reached, not the last epoch of the third');
    close(agsam.seconds.mean, 5, 'agsam seconds');
    assert.equal(agsam.epochs.n, 2);
  });

  test('the default target is 99 % of the best final mean; the reference method’s own runs may miss it', () => {
    const c = analyzeRecords(records()).groups[0].convergence;
    close(c.target, 0.99 * 0.96, 'target');
    // 0.9504: GSAM seed 0 ends at 0.95 and never reaches it; seed 1 does at epoch 4.
    assert.deepEqual(
      c.methods[0].perRun.map((r) => r.epoch),
      [null, 4],
    );
    // Adaptive-GSAM seed 0 reaches 0.95 < 0.9504: never; seed 1 at epoch 3 (0.96).
    assert.deepEqual(
      c.methods[1].perRun.map((r) => r.epoch),
      [null, 3, null],
    );
  });

  test('mean curves with CI bands over the runs of the selected point', () => {
    const c = analyzeRecords(records()).groups[0].convergence;
    const curve = c.methods[1].curve;
    assert.deepEqual(
      curve.map((p) => p.epoch),
      [1, 2, 3, 4],
    );
    close(curve[1].estimate.mean, (0.9 + 0.94 + 0.6) / 3, 'epoch 2 mean');
    assert.equal(curve[1].estimate.n, 3);
    assert.ok(curve[1].estimate.ci!.lower < curve[1].estimate.mean! && curve[1].estimate.ci!.upper > curve[1].estimate.mean!);
  });

  test('timeToTarget sums the epoch seconds up to the epoch that reaches it', () => {
    const r = makeRecord({ method: 'sam', rho: 0.1, seed: 4, val: 0.9, test: 0.9, curve: [0.2, 0.5, 0.9], seconds: [0.25, 0.5, 1] });
    assert.deepEqual(timeToTarget(r, 0.5), { runId: r.runId, seed: 4, epoch: 2, seconds: 0.75 });
    assert.deepEqual(timeToTarget(r, 0.95), { runId: r.runId, seed: 4, epoch: null, seconds: null });
  });

  test('targetOf: the target is a named method’s final mean, not the best one’s', () => {
    // Adaptive-GSAM's final mean: (0.95 + 0.96 + 0.8) / 3 = 0.90333...; target 1 x that.
    const c = analyzeRecords(records(), { target: 1, targetOf: 'agsam' }).groups[0].convergence;
    assert.equal(c.basis, 'method');
    assert.equal(c.reference!.method, 'agsam');
    const t = (0.95 + 0.96 + 0.8) / 3;
    close(c.target, t, 'target');
    // GSAM: seed 0 first at epoch 4 (0.9 < 0.9033, then 0.95), 4 s; seed 1 at epoch 3 (0.93), 4.5 s.
    assert.deepEqual(
      c.methods[0].perRun.map((r) => [r.epoch, r.seconds]),
      [
        [4, 4],
        [3, 4.5],
      ],
    );
    // Adaptive-GSAM: seed 0 at epoch 2 (0.9 < 0.9033) -> epoch 3 (0.95), 6 s; seed 1 at epoch 2 (0.94), 4 s; seed 2 never.
    assert.deepEqual(
      c.methods[1].perRun.map((r) => [r.epoch, r.seconds]),
      [
        [3, 6],
        [2, 4],
        [null, null],
      ],
    );
  });

  test('targetAccuracy: an absolute target, which excludes target and targetOf', () => {
    const c = analyzeRecords(records(), { targetAccuracy: 0.85 }).groups[0].convergence;
    assert.equal(c.basis, 'given');
    assert.equal(c.reference, null);
    close(c.target, 0.85, 'target');
    // GSAM seed 0: 0.8 < 0.85 at epoch 2, 0.9 at epoch 3 (3 s); seed 1: 0.85 at epoch 2 (3 s).
    assert.deepEqual(
      c.methods[0].perRun.map((r) => [r.epoch, r.seconds]),
      [
        [3, 3],
        [2, 3],
      ],
    );
    assert.throws(() => analyzeRecords(records(), { targetAccuracy: 0.85, target: 0.9 }), /targetAccuracy is a target of its own/);
    assert.throws(() => analyzeRecords(records(), { targetAccuracy: 0.85, targetOf: 'sam' }), /targetAccuracy is a target of its own/);
    assert.throws(() => analyzeRecords(records(), { targetAccuracy: 1.2 }), /targetAccuracy must be an accuracy in \(0, 1\], got 1.2/);
  });

  test('targetOf a method that has no selected point: convergence says why instead of guessing', () => {
    const c = analyzeRecords(records(), { targetOf: 'sam' }).groups[0].convergence;
    assert.equal(c.target, null);
    assert.match(c.reason!, /the target's method sam has no selected point .*\(methods with one: gsam, agsam\)/);
  });

  test('a target outside (0, 1] is rejected', () => {
    assert.throws(() => analyzeRecords(records(), { target: 0 }), /target must be a fraction in \(0, 1\], got 0/);
    assert.throws(() => analyzeRecords(records(), { target: 1.5 }), RangeError);
  });
});
