import { test } from 'node:test';
import assert from 'node:assert/strict';
import { makeMoons } from '../../src/data/moons.js';

// Float32 storage: coordinates are exact to about 1e-7 relative.
const TOL = 1e-6;

test('makeMoons without shuffle or noise reproduces the scikit-learn points (hand-computed, n = 6)', () => {
  const ds = makeMoons({ n: 6, noise: 0, seed: 0, shuffle: false });
  // outer: t = 0, pi/2, pi -> (cos t, sin t); inner: t = 0, pi/2, pi -> (1 - cos t, 0.5 - sin t)
  const expected = [
    [1, 0],
    [0, 1],
    [-1, 0],
    [0, 0.5],
    [1, -0.5],
    [2, 0.5],
  ];
  assert.deepEqual(Array.from(ds.y), [0, 0, 0, 1, 1, 1]);
  for (let i = 0; i < 6; i++) {
    assert.ok(Math.abs(ds.x[2 * i] - expected[i][0]) < TOL, `x of point ${i}`);
    assert.ok(Math.abs(ds.x[2 * i + 1] - expected[i][1]) < TOL, `y of point ${i}`);
  }
  assert.deepEqual(ds.exampleShape, [2]);
  assert.equal(ds.numClasses, 2);
  assert.deepEqual(ds.classNames, ['outer', 'inner']);
  assert.equal(ds.size, 6);
});

test('makeMoons with noise 0: every point lies on its unit half circle; class balance n//2 and n - n//2', () => {
  for (const n of [7, 202, 1001]) {
    const ds = makeMoons({ n, noise: 0, seed: 3 });
    let outer = 0;
    let inner = 0;
    let minX = Infinity,
      maxX = -Infinity,
      minY = Infinity,
      maxY = -Infinity;
    for (let i = 0; i < n; i++) {
      const x = ds.x[2 * i];
      const y = ds.x[2 * i + 1];
      minX = Math.min(minX, x);
      maxX = Math.max(maxX, x);
      minY = Math.min(minY, y);
      maxY = Math.max(maxY, y);
      if (ds.y[i] === 0) {
        outer++;
        assert.ok(Math.abs(x * x + y * y - 1) < 4 * TOL, `outer point ${i} (${x}, ${y}) is off the unit circle`);
        assert.ok(y >= -TOL, `outer point ${i} is in the upper half`);
      } else {
        inner++;
        assert.equal(ds.y[i], 1);
        assert.ok(Math.abs((x - 1) ** 2 + (y - 0.5) ** 2 - 1) < 4 * TOL, `inner point ${i} (${x}, ${y}) is off its circle`);
        assert.ok(y <= 0.5 + TOL, `inner point ${i} is in the lower half`);
      }
    }
    assert.equal(outer, Math.floor(n / 2));
    assert.equal(inner, n - Math.floor(n / 2));
    assert.ok(minX >= -1 - TOL && maxX <= 2 + TOL && minY >= -0.5 - TOL && maxY <= 1 + TOL, `n=${n} bounding box`);
    if (n === 202) {
      // 101 points per half circle: t = 0, pi/2 and pi all occur, so the extremes are attained.
      assert.ok(Math.abs(minX + 1) < TOL && Math.abs(maxX - 2) < TOL, `x range [${minX}, ${maxX}]`);
      assert.ok(Math.abs(minY + 0.5) < TOL && Math.abs(maxY - 1) < TOL, `y range [${minY}, ${maxY}]`);
    }
  }
});

test('makeMoons shuffles a permutation of the unshuffled points (labels travel with points)', () => {
  const n = 301;
  const plain = makeMoons({ n, noise: 0, seed: 5, shuffle: false });
  const shuffled = makeMoons({ n, noise: 0, seed: 5 });
  const key = (ds: typeof plain, i: number) => `${ds.x[2 * i]},${ds.x[2 * i + 1]},${ds.y[i]}`;
  const a = Array.from({ length: n }, (_, i) => key(plain, i)).sort();
  const b = Array.from({ length: n }, (_, i) => key(shuffled, i)).sort();
  assert.deepEqual(b, a);
  const unchanged = Array.from({ length: n }, (_, i) => key(plain, i) === key(shuffled, i)).filter(Boolean).length;
  assert.ok(unchanged < n / 10, `shuffle left ${unchanged} of ${n} points in place`);
});

test('makeMoons noise is Gaussian with the requested std on both coordinates, independent of the shuffle', () => {
  const n = 20000;
  const noise = 0.3;
  const clean = makeMoons({ n, noise: 0, seed: 11 });
  const noisy = makeMoons({ n, noise, seed: 11 });
  assert.deepEqual(noisy.y, clean.y, 'same seed gives the same order before noise');
  for (const axis of [0, 1]) {
    let sum = 0,
      sumSq = 0,
      sum4 = 0;
    for (let i = 0; i < n; i++) {
      const r = noisy.x[2 * i + axis] - clean.x[2 * i + axis];
      sum += r;
      sumSq += r * r;
      sum4 += r ** 4;
    }
    const mean = sum / n;
    const variance = sumSq / n - mean * mean;
    const std = Math.sqrt(variance);
    // Standard error of the mean is 0.3 / sqrt(20000) = 0.0021; of the std about 0.0015.
    assert.ok(Math.abs(mean) < 0.01, `axis ${axis}: residual mean ${mean}`);
    assert.ok(Math.abs(std - noise) < 0.01, `axis ${axis}: residual std ${std}, expected ${noise}`);
    const kurtosis = sum4 / n / (variance * variance);
    assert.ok(Math.abs(kurtosis - 3) < 0.25, `axis ${axis}: kurtosis ${kurtosis}, Gaussian has 3`);
  }
  let cov = 0;
  for (let i = 0; i < n; i++) cov += (noisy.x[2 * i] - clean.x[2 * i]) * (noisy.x[2 * i + 1] - clean.x[2 * i + 1]);
  const corr = cov / n / (noise * noise);
  assert.ok(Math.abs(corr) < 0.05, `x and y noise correlation ${corr}`);
});

test('makeMoons is deterministic by seed', () => {
  const a = makeMoons({ n: 500, noise: 0.2, seed: 42 });
  const b = makeMoons({ n: 500, noise: 0.2, seed: 42 });
  const c = makeMoons({ n: 500, noise: 0.2, seed: 43 });
  assert.deepEqual(a.x, b.x);
  assert.deepEqual(a.y, b.y);
  assert.notDeepEqual(a.x, c.x);
});

test('makeMoons rejects bad arguments naming them', () => {
  assert.throws(() => makeMoons({ n: 1, noise: 0, seed: 0 }), /n must be an integer >= 2, got 1/);
  assert.throws(() => makeMoons({ n: 10.5, noise: 0, seed: 0 }), /n must be/);
  assert.throws(() => makeMoons({ n: 10, noise: -0.1, seed: 0 }), /noise must be a finite number >= 0, got -0.1/);
  assert.throws(() => makeMoons({ n: 10, noise: NaN, seed: 0 }), /noise must be/);
  assert.throws(() => makeMoons({ n: 10, noise: Infinity, seed: 0 }), /noise must be/);
  assert.throws(() => makeMoons({ n: 10, noise: 0, seed: 0.5 }), /seed must be an integer/);
});
