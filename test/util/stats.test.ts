/** The one mean / sample-std helper, against values computed by hand. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { meanAndStd } from '../../src/util/stats.js';

test('mean, sample variance (n - 1) and std by hand; null where undefined', () => {
  // 2, 4, 4, 4, 5, 5, 7, 9: mean 5, Σ(x - 5)² = 32, variance 32/7.
  const r = meanAndStd([2, 4, 4, 4, 5, 5, 7, 9]);
  assert.equal(r.n, 8);
  assert.equal(r.mean, 5);
  assert.equal(r.variance, 32 / 7);
  assert.equal(r.std, Math.sqrt(32 / 7));
  assert.deepEqual(meanAndStd([3]), { n: 1, mean: 3, variance: null, std: null });
  assert.deepEqual(meanAndStd([]), { n: 0, mean: null, variance: null, std: null });
});
