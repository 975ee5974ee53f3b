import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadEmbeddedMnist } from '../../src/data/mnist.js';

function classCounts(y: Int32Array): number[] {
  const counts = new Array<number>(10).fill(0);
  for (const label of y) counts[label]++;
  return counts;
}

test('loadEmbeddedMnist loads the 10,000 labelled digits of the mnist package', () => {
  const ds = loadEmbeddedMnist();
  assert.equal(ds.size, 10000);
  assert.equal(ds.name, 'mnist');
  assert.deepEqual(ds.exampleShape, [28, 28, 1]);
  assert.equal(ds.numClasses, 10);
  assert.deepEqual(ds.classNames, ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9']);
  assert.equal(ds.x.length, 10000 * 784);
  assert.equal(ds.y.length, 10000);
  const counts = classCounts(ds.y);
  assert.equal(
    counts.reduce((a, b) => a + b, 0),
    10000,
  );
  for (let c = 0; c < 10; c++) assert.ok(counts[c] > 800 && counts[c] < 1200, `class ${c}: ${counts[c]} digits`);
  let min = Infinity,
    max = -Infinity;
  for (const v of ds.x) {
    if (v < min) min = v;
    if (v > max) max = v;
  }
  assert.equal(min, 0);
  assert.ok(max <= 1 && max > 0.99, `max pixel ${max}`);
  // Real digits: every image has ink (a bright pixel) and a mostly dark background.
  for (let i = 0; i < ds.size; i++) {
    const img = ds.x.subarray(i * 784, (i + 1) * 784);
    let bright = 0;
    for (const v of img) if (v > 0.5) bright++;
    assert.ok(bright >= 10 && bright < 784 / 2, `image ${i} has ${bright} bright pixels`);
  }
});

test('loadEmbeddedMnist({ n }) takes a class-balanced prefix; calls return fresh copies of the cache', () => {
  const full = loadEmbeddedMnist();
  const small = loadEmbeddedMnist({ n: 200 });
  assert.equal(small.size, 200);
  assert.deepEqual(small.y, full.y.subarray(0, 200));
  assert.deepEqual(small.x, full.x.subarray(0, 200 * 784));
  for (const [c, k] of classCounts(small.y).entries()) assert.ok(k >= 17 && k <= 23, `class ${c}: ${k} of 200`);
  small.x[0] = 5;
  small.y[0] = 7;
  const again = loadEmbeddedMnist({ n: 200 });
  assert.equal(again.x[0], full.x[0]);
  assert.equal(again.y[0], full.y[0]);
});

test('loadEmbeddedMnist rejects bad n', () => {
  for (const n of [0, 9, 10001, 12.5]) {
    assert.throws(() => loadEmbeddedMnist({ n }), /n must be an integer in \[10, 10000\]/);
  }
});
