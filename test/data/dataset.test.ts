import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { checkDataset, subset, toTensors, trainTestSplit, type Dataset } from '../../src/data/dataset.js';

/** A dataset whose example i has features [i, -i] and label i % 3, so every example can be traced. */
function traced(size: number): Dataset {
  const x = new Float32Array(2 * size);
  const y = new Int32Array(size);
  for (let i = 0; i < size; i++) {
    x[2 * i] = i;
    x[2 * i + 1] = -i;
    y[i] = i % 3;
  }
  return { name: 'traced', x, y, exampleShape: [2], numClasses: 3, classNames: ['a', 'b', 'c'], size };
}

function ids(ds: Dataset): number[] {
  return Array.from({ length: ds.size }, (_, i) => ds.x[2 * i]);
}

test('trainTestSplit: ceil(testFraction * n) test examples, disjoint, covering, examples intact', () => {
  const ds = traced(101);
  const { train, test: held } = trainTestSplit(ds, { testFraction: 0.2, seed: 7 });
  assert.equal(held.size, 21); // ceil(20.2), as scikit-learn
  assert.equal(train.size, 80);
  const all = [...ids(train), ...ids(held)].sort((a, b) => a - b);
  assert.deepEqual(
    all,
    Array.from({ length: 101 }, (_, i) => i),
  );
  for (const part of [train, held]) {
    for (let i = 0; i < part.size; i++) {
      const id = part.x[2 * i];
      assert.equal(part.x[2 * i + 1], -id);
      assert.equal(part.y[i], id % 3);
    }
    assert.deepEqual(part.classNames, ['a', 'b', 'c']);
    assert.equal(part.numClasses, 3);
  }
  // Shuffled, not a contiguous block.
  assert.notDeepEqual(
    ids(held),
    Array.from({ length: 21 }, (_, i) => i),
  );
});

test('trainTestSplit is deterministic by seed', () => {
  const ds = traced(50);
  const a = trainTestSplit(ds, { testFraction: 0.3, seed: 1 });
  const b = trainTestSplit(ds, { testFraction: 0.3, seed: 1 });
  const c = trainTestSplit(ds, { testFraction: 0.3, seed: 2 });
  assert.deepEqual(ids(a.test), ids(b.test));
  assert.deepEqual(ids(a.train), ids(b.train));
  assert.notDeepEqual(ids(a.test), ids(c.test));
});

test('trainTestSplit rejects bad fractions and seeds', () => {
  const ds = traced(10);
  for (const f of [0, 1, -0.1, 1.5, NaN]) {
    assert.throws(
      () => trainTestSplit(ds, { testFraction: f, seed: 0 }),
      /trainTestSplit: testFraction must be a finite number > 0 and < 1/,
    );
  }
  assert.throws(() => trainTestSplit(ds, { testFraction: 0.95, seed: 0 }), /0 train and 10 test/);
  assert.throws(() => trainTestSplit(ds, { testFraction: 0.5, seed: 1.5 }), /seed must be an integer/);
});

test('subset copies the chosen examples in order and rejects bad indices', () => {
  const ds = traced(10);
  const s = subset(ds, [4, 1, 4]);
  assert.deepEqual(ids(s), [4, 1, 4]);
  assert.deepEqual(Array.from(s.y), [1, 1, 1]);
  s.x[0] = 99;
  assert.equal(ds.x[8], 4, 'subset must not alias the source');
  assert.equal(subset(ds, []).size, 0);
  assert.throws(() => subset(ds, [0, 10]), /indices\[1\] = 10 is not an integer in \[0, 9\]/);
  assert.throws(() => subset(ds, [-1]), /indices\[0\] = -1/);
  assert.throws(() => subset(ds, [0.5]), /indices\[0\] = 0.5/);
});

test('toTensors gives [m, ...shape] features and one-hot float32 labels, without leaks', () => {
  const ds = traced(6);
  const before = tf.memory().numTensors;
  const all = toTensors(ds);
  assert.deepEqual(all.x.shape, [6, 2]);
  assert.deepEqual(all.y.shape, [6, 3]);
  assert.equal(all.x.dtype, 'float32');
  assert.equal(all.y.dtype, 'float32');
  assert.deepEqual(all.y.arraySync(), [
    [1, 0, 0],
    [0, 1, 0],
    [0, 0, 1],
    [1, 0, 0],
    [0, 1, 0],
    [0, 0, 1],
  ]);
  ds.x[0] = 123;
  assert.equal(all.x.dataSync()[0], 0, 'the tensor must not alias ds.x');
  const some = toTensors(ds, [5, 2]);
  assert.deepEqual(some.x.arraySync(), [
    [5, -5],
    [2, -2],
  ]);
  assert.deepEqual(some.y.arraySync(), [
    [0, 0, 1],
    [0, 0, 1],
  ]);
  assert.equal(tf.memory().numTensors, before + 4);
  tf.dispose([all.x, all.y, some.x, some.y]);
  assert.equal(tf.memory().numTensors, before);
});

test('toTensors keeps image example shapes', () => {
  const ds: Dataset = {
    name: 'img',
    x: new Float32Array(2 * 4 * 3 * 1),
    y: new Int32Array([1, 0]),
    exampleShape: [4, 3, 1],
    numClasses: 2,
    classNames: ['0', '1'],
    size: 2,
  };
  const before = tf.memory().numTensors;
  const t = toTensors(ds);
  assert.deepEqual(t.x.shape, [2, 4, 3, 1]);
  assert.deepEqual(t.y.arraySync(), [
    [0, 1],
    [1, 0],
  ]);
  tf.dispose([t.x, t.y]);
  assert.equal(tf.memory().numTensors, before);
});

test('checkDataset names the inconsistency', () => {
  const ok = traced(3);
  assert.equal(checkDataset(ok), ok);
  assert.throws(() => checkDataset({ ...ok, y: new Int32Array([0, 1, 3]) }), /label 3 at example 2 is outside \[0, 2\]/);
  assert.throws(() => checkDataset({ ...ok, size: 4 }), /x has 6 values, expected size \* prod\(exampleShape\) = 4 \* 2/);
  assert.throws(() => checkDataset({ ...ok, classNames: ['a'] }), /classNames has 1 entries but numClasses is 3/);
  assert.throws(() => checkDataset({ ...ok, exampleShape: [0] }), /exampleShape must be/);
});
