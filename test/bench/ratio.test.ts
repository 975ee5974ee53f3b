/**
 * The bench's ratio estimates (bench/ratio.ts): point values worked by hand, the interval's
 * behaviour under the machine drift the pairing is there to cancel, the verdicts, and bad input.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { formatRatio, pairedRatio, ratioOfMedians, verdict, type RatioEstimate } from '../../bench/ratio.js';
import { Rng } from '../../src/util/random.js';

const estimate = (ratio: number, lower: number, upper: number): RatioEstimate => ({ ratio, lower, upper, paired: true, n: 12 });

describe('pairedRatio', () => {
  test('is the median of the pairs’ ratios', () => {
    // ratios 2, 3, 4 → 3; with a fourth pair (ratio 10) the median of four is (3 + 4) / 2.
    assert.equal(pairedRatio([2, 3, 8], [1, 1, 2]).ratio, 3);
    const four = pairedRatio([2, 3, 8, 10], [1, 1, 2, 1]);
    assert.equal(four.ratio, 3.5);
    assert.equal(four.n, 4);
    assert.equal(four.paired, true);
  });

  test('an exact ratio in every pair gives a zero-width interval, whatever the times', () => {
    const rng = new Rng(3);
    const den = Array.from({ length: 15 }, () => 10 + 20 * rng.next());
    const e = pairedRatio(
      den.map((d) => 2 * d),
      den,
    );
    assert.ok(Math.abs(e.ratio - 2) < 1e-12 && Math.abs(e.lower - 2) < 1e-12 && Math.abs(e.upper - 2) < 1e-12, formatRatio(e));
  });

  test('cancels drift shared by a pair, which widens the unpaired interval', () => {
    // The machine's speed drifts by ±15 % between passes of the block loop; within a pass both
    // optimisers see the same speed, and each block has 1 % noise of its own.
    const rng = new Rng(11);
    const den: number[] = [];
    const num: number[] = [];
    for (let i = 0; i < 24; i++) {
      const speed = 1 + 0.15 * Math.sin(i) + 0.05 * rng.next();
      den.push(10 * speed * (1 + 0.01 * (rng.next() - 0.5)));
      num.push(19.5 * speed * (1 + 0.01 * (rng.next() - 0.5)));
    }
    const paired = pairedRatio(num, den);
    const unpaired = ratioOfMedians(num, den);
    assert.ok(paired.lower <= 1.95 && 1.95 <= paired.upper, formatRatio(paired));
    assert.ok(paired.upper - paired.lower < 0.03, `paired interval ${formatRatio(paired)} should be narrow`);
    assert.ok(unpaired.upper - unpaired.lower > 3 * (paired.upper - paired.lower), `${formatRatio(unpaired)} vs ${formatRatio(paired)}`);
    // Against a target of 2.0 only the paired estimate can tell.
    assert.equal(verdict(paired, 2.0), 'yes');
    assert.equal(verdict(unpaired, 2.0), 'unclear');
  });

  test('is seeded: the same times and seed give the same interval', () => {
    const rng = new Rng(5);
    const den = Array.from({ length: 12 }, () => 5 + rng.next());
    const num = den.map((d) => d * (1.9 + 0.2 * rng.next()));
    assert.deepEqual(pairedRatio(num, den, 7), pairedRatio(num, den, 7));
  });

  test('rejects times that do not pair or are not positive', () => {
    assert.throws(() => pairedRatio([1, 2], [1]), /pairedRatio: num and den must pair block by block, got 2 and 1 times/);
    assert.throws(() => pairedRatio([], []), /pairedRatio: num must be a non-empty array/);
    assert.throws(() => pairedRatio([1, 0], [1, 1]), /pairedRatio: num\[1\] must be a positive finite time, got 0/);
    assert.throws(() => pairedRatio([1, 1], [1, NaN]), /pairedRatio: den\[1\] must be a positive finite time, got NaN/);
  });
});

describe('ratioOfMedians', () => {
  test('is the ratio of the two medians, samples of any sizes', () => {
    // median(3, 1, 2) = 2, median(2, 1, 4, 6) = 3.
    const e = ratioOfMedians([3, 1, 2], [2, 1, 4, 6]);
    assert.equal(e.ratio, 2 / 3);
    assert.equal(e.paired, false);
    assert.equal(e.n, 3);
    assert.ok(e.lower <= e.upper);
  });

  test('rejects an empty sample', () => {
    assert.throws(() => ratioOfMedians([1], []), /ratioOfMedians: den must be a non-empty array/);
  });
});

describe('verdict', () => {
  test('yes only when the whole interval is at or below the target', () => {
    assert.equal(verdict(estimate(1.9, 1.85, 2.0), 2.0), 'yes');
    assert.equal(verdict(estimate(1.98, 1.95, 2.01), 2.0), 'unclear');
    assert.equal(verdict(estimate(2.02, 1.99, 2.05), 2.0), 'unclear');
    assert.equal(verdict(estimate(2.1, 2.01, 2.2), 2.0), 'no');
  });

  test('draws none from fewer than 5 samples, whose interval has no width to speak of', () => {
    const one = pairedRatio([30], [10]);
    assert.deepEqual([one.lower, one.ratio, one.upper], [3, 3, 3]);
    assert.equal(verdict(one, 2.0), 'unclear');
    assert.equal(verdict({ ...estimate(1.5, 1.4, 1.6), n: 4 }, 2.0), 'unclear');
    assert.equal(verdict({ ...estimate(1.5, 1.4, 1.6), n: 5 }, 2.0), 'yes');
  });

  test('formats as estimate [lower, upper]', () => {
    assert.equal(formatRatio(estimate(1.974, 1.951, 1.996)), '1.97 [1.95, 2.00]');
  });
});
