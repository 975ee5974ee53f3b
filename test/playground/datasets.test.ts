/**
 * The playground's dataset generators: seeded (same seed, same points; another seed, other points),
 * the requested size with balanced labels, and each one's geometry checked at noise 0, where every
 * point must lie exactly where its recipe puts it.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { checkDataset, makeMoons } from 'flatminima';
import { datasetById, DATASETS } from '../../playground/src/datasets.js';

const point = (x: Float32Array, i: number): [number, number] => [x[2 * i]!, x[2 * i + 1]!];

test('every generator is seeded, consistent and of the requested size', () => {
  for (const d of DATASETS) {
    const a = d.generate(101, 0.1, 3);
    checkDataset(a);
    assert.equal(a.size, 101, d.id);
    assert.deepEqual(a.exampleShape, [2]);
    assert.deepEqual(d.generate(101, 0.1, 3), a, `${d.id}: same seed, same points`);
    assert.notDeepEqual(d.generate(101, 0.1, 4).x, a.x, `${d.id}: another seed, other points`);
    const counts = new Array<number>(a.numClasses).fill(0);
    for (const label of a.y) counts[label]! += 1;
    assert.ok(Math.max(...counts) - Math.min(...counts) <= (d.id === 'xor' ? 40 : 1), `${d.id}: classes balanced, got ${counts}`);
  }
});

test('moons are the library generator', () => {
  assert.deepEqual(datasetById('moons').generate(50, 0.2, 9), makeMoons({ n: 50, noise: 0.2, seed: 9 }));
});

test('circles: class 0 on the unit circle, class 1 on the circle of radius 0.5', () => {
  const ds = datasetById('circles').generate(200, 0, 1);
  for (let i = 0; i < ds.size; i++) {
    const [x, y] = point(ds.x, i);
    assert.ok(Math.abs(Math.hypot(x, y) - (ds.y[i] === 0 ? 1 : 0.5)) < 1e-6);
  }
});

test('XOR: the label is the sign of x·y, and the points fill [-1, 1]²', () => {
  const ds = datasetById('xor').generate(500, 0, 2);
  let quadrants = new Set<string>();
  for (let i = 0; i < ds.size; i++) {
    const [x, y] = point(ds.x, i);
    assert.ok(Math.abs(x) <= 1 && Math.abs(y) <= 1);
    assert.equal(ds.y[i], x * y > 0 ? 0 : 1);
    quadrants = quadrants.add(`${Math.sign(x)}${Math.sign(y)}`);
  }
  assert.equal(quadrants.size, 4);
});

test('spiral: each arm goes outwards from the centre to radius 1.5, the arms half a turn apart', () => {
  const ds = datasetById('spiral').generate(100, 0, 0);
  for (const label of [0, 1]) {
    const radii = Array.from({ length: ds.size }, (_, i) => i)
      .filter((i) => ds.y[i] === label)
      .map((i) => Math.hypot(...point(ds.x, i)));
    for (let k = 1; k < radii.length; k++) assert.ok(radii[k]! > radii[k - 1]!, 'radius increases along the arm');
    assert.ok(Math.abs(radii[0]!) < 1e-6 && Math.abs(radii.at(-1)! - 1.5) < 1e-6);
  }
  // Point k of arm 0 and point k of arm 1 sit at the same radius, opposite each other.
  const [x0, y0] = point(ds.x, 10);
  const [x1, y1] = point(ds.x, 60);
  assert.ok(Math.abs(x0 + x1) < 1e-6 && Math.abs(y0 + y1) < 1e-6);
});

test('blobs: three classes, each at its centre on the unit circle, spread by the noise', () => {
  const exact = datasetById('blobs').generate(30, 0, 0);
  assert.equal(exact.numClasses, 3);
  for (let i = 0; i < exact.size; i++) {
    const [x, y] = point(exact.x, i);
    assert.ok(Math.abs(Math.hypot(x, y) - 1) < 1e-6);
    assert.equal(exact.y[i], i % 3);
  }
  // With noise 0.3 the sample std of each coordinate around its centre is near 0.3 (1500 points per class).
  const noisy = datasetById('blobs').generate(4500, 0.3, 5);
  const dx: number[] = [];
  for (let i = 0; i < noisy.size; i++) if (noisy.y[i] === 0) dx.push(noisy.x[2 * i]! - exact.x[0]!);
  const mean = dx.reduce((a, b) => a + b, 0) / dx.length;
  const std = Math.sqrt(dx.reduce((a, b) => a + (b - mean) ** 2, 0) / (dx.length - 1));
  assert.ok(Math.abs(mean) < 0.03 && Math.abs(std - 0.3) < 0.02, `mean ${mean}, std ${std}`);
  assert.throws(() => datasetById('mnist'), /dataset must be one of moons, circles, spiral, xor, blobs, got 'mnist'/);
});
