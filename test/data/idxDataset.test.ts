import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FASHION_MNIST_CLASSES, loadIdxDataset } from '../../src/data/idxDataset.js';
import { writeIdxFile } from '../../src/data/idx.js';

const root = mkdtempSync(join(tmpdir(), 'flatminima-idxds-'));
after(() => rmSync(root, { recursive: true, force: true }));

const FASHION_DIR = '/usr/share/datasets/fashion-mnist';
const FASHION_FILES = [
  'train-images-idx3-ubyte.gz',
  'train-labels-idx1-ubyte.gz',
  't10k-images-idx3-ubyte.gz',
  't10k-labels-idx1-ubyte.gz',
];

interface Split {
  images: Uint8Array;
  labels: Uint8Array;
  count: number;
}
function split(count: number, rows: number, cols: number, offset: number): Split {
  const images = Uint8Array.from({ length: count * rows * cols }, (_, i) => (i * 7 + offset) % 256);
  const labels = Uint8Array.from({ length: count }, (_, i) => (i + offset) % 10);
  return { images, labels, count };
}

let dirCounter = 0;
/** Writes a small MNIST-layout directory; `gz` picks which of the four files are gzipped. */
function makeDir(opts: { train?: Split; test?: Split; rows?: number; cols?: number; gz?: boolean[] } = {}): string {
  const rows = opts.rows ?? 4;
  const cols = opts.cols ?? 5;
  const train = opts.train ?? split(12, rows, cols, 1);
  const test = opts.test ?? split(5, rows, cols, 3);
  const gz = opts.gz ?? [false, true, true, false];
  const dir = join(root, `ds${dirCounter++}`);
  mkdirSync(dir);
  const suffix = (i: number) => (gz[i] ? '.gz' : '');
  writeIdxFile(join(dir, `train-images-idx3-ubyte${suffix(0)}`), [train.count, rows, cols], train.images);
  writeIdxFile(join(dir, `train-labels-idx1-ubyte${suffix(1)}`), [train.labels.length], train.labels);
  writeIdxFile(join(dir, `t10k-images-idx3-ubyte${suffix(2)}`), [test.count, rows, cols], test.images);
  writeIdxFile(join(dir, `t10k-labels-idx1-ubyte${suffix(3)}`), [test.labels.length], test.labels);
  return dir;
}

function re(path: string): string {
  return path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

test('loadIdxDataset reads a mixed plain/gzip directory, scaling pixels to [0, 1]', () => {
  const train = split(12, 4, 5, 1);
  const test = split(5, 4, 5, 3);
  const dir = makeDir({ train, test });
  const ds = loadIdxDataset(dir);
  assert.equal(ds.train.size, 12);
  assert.equal(ds.test.size, 5);
  assert.deepEqual(ds.train.exampleShape, [4, 5, 1]);
  assert.deepEqual(ds.train.classNames, ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9']);
  assert.equal(ds.train.numClasses, 10);
  assert.deepEqual(Array.from(ds.train.y), Array.from(train.labels));
  assert.deepEqual(Array.from(ds.test.y), Array.from(test.labels));
  assert.deepEqual(
    ds.train.x,
    Float32Array.from(train.images, (v) => v / 255),
  );
  assert.deepEqual(
    ds.test.x,
    Float32Array.from(test.images, (v) => v / 255),
  );
});

test('loadIdxDataset honours maxTrain, maxTest and classNames', () => {
  const train = split(12, 4, 5, 1);
  const dir = makeDir({ train, gz: [true, true, true, true] });
  const ds = loadIdxDataset(dir, { maxTrain: 3, maxTest: 100, classNames: [...FASHION_MNIST_CLASSES] });
  assert.equal(ds.train.size, 3);
  assert.equal(ds.test.size, 5);
  assert.deepEqual(Array.from(ds.train.y), [1, 2, 3]);
  assert.deepEqual(
    ds.train.x,
    Float32Array.from(train.images.subarray(0, 60), (v) => v / 255),
  );
  assert.equal(ds.train.classNames[9], 'Ankle boot');
  assert.throws(() => loadIdxDataset(dir, { maxTrain: 0 }), /maxTrain must be a positive integer, got 0/);
  assert.throws(() => loadIdxDataset(dir, { maxTest: 2.5 }), /maxTest must be a positive integer, got 2.5/);
  assert.throws(() => loadIdxDataset(dir, { classNames: ['only'] }), /classNames must be an array of 2 to 256 strings/);
  // Labels go up to 9: with three classes they are out of range.
  assert.throws(
    () => loadIdxDataset(dir, { classNames: ['a', 'b', 'c'] }),
    /train-labels-idx1-ubyte.gz: label 3 at index 2 is not a class index in \[0, 2\]/,
  );
});

test('loadIdxDataset rejects inconsistent directories naming the file', () => {
  // Label count mismatch.
  const mismatch = makeDir({ train: { ...split(12, 4, 5, 1), labels: new Uint8Array(11) } });
  assert.throws(
    () => loadIdxDataset(mismatch),
    new RegExp(
      `IDX files ${re(join(mismatch, 'train-images-idx3-ubyte'))} and ${re(join(mismatch, 'train-labels-idx1-ubyte.gz'))}: 12 images but 11 labels`,
    ),
  );
  // Images with the wrong number of dimensions.
  const flat = makeDir();
  writeIdxFile(join(flat, 't10k-images-idx3-ubyte.gz'), [5, 20], split(5, 4, 5, 3).images);
  assert.throws(
    () => loadIdxDataset(flat),
    new RegExp(
      `IDX file ${re(join(flat, 't10k-images-idx3-ubyte.gz'))}: images must have 3 dimensions \\[count, rows, cols\\], found \\[5, 20\\]`,
    ),
  );
  // Labels with two dimensions.
  const labels2d = makeDir();
  writeIdxFile(join(labels2d, 't10k-labels-idx1-ubyte'), [5, 1], new Uint8Array(5));
  assert.throws(() => loadIdxDataset(labels2d), /t10k-labels-idx1-ubyte: labels must have 1 dimension \[count\], found \[5, 1\]/);
  // Train and test images of different sizes.
  const sizes = makeDir({ gz: [false, false, false, false] });
  writeIdxFile(join(sizes, 't10k-images-idx3-ubyte'), [5, 4, 6], split(5, 4, 6, 3).images);
  assert.throws(() => loadIdxDataset(sizes), /train images are 4x5 but test images are 4x6/);
  // A missing file.
  const missing = makeDir();
  rmSync(join(missing, 'train-labels-idx1-ubyte.gz'));
  assert.throws(
    () => loadIdxDataset(missing),
    new RegExp(`IDX directory ${re(missing)}: neither train-labels-idx1-ubyte nor train-labels-idx1-ubyte.gz found`),
  );
  // A truncated file.
  const truncated = makeDir();
  const f = join(truncated, 'train-images-idx3-ubyte');
  writeFileSync(f, readFileSync(f).subarray(0, 100));
  assert.throws(() => loadIdxDataset(truncated), new RegExp(`IDX file ${re(f)}: truncated`));
  // Not a directory.
  assert.throws(() => loadIdxDataset(join(root, 'nope')), /nope: not a directory/);
});

test(
  'loadIdxDataset loads the real Fashion-MNIST files (Debian dataset-fashion-mnist)',
  { skip: !FASHION_FILES.every((f) => existsSync(join(FASHION_DIR, f))) && `${FASHION_DIR} not installed` },
  () => {
    const ds = loadIdxDataset(FASHION_DIR, { classNames: [...FASHION_MNIST_CLASSES] });
    assert.equal(ds.train.size, 60000);
    assert.equal(ds.test.size, 10000);
    assert.equal(ds.train.name, 'fashion-mnist');
    for (const part of [ds.train, ds.test]) {
      assert.deepEqual(part.exampleShape, [28, 28, 1]);
      assert.equal(part.x.length, part.size * 784);
      const counts = new Array<number>(10).fill(0);
      for (const label of part.y) counts[label]++;
      // Fashion-MNIST is exactly balanced: 6,000 per class in train, 1,000 in test.
      assert.deepEqual(counts, new Array<number>(10).fill(part.size / 10));
      let min = Infinity,
        max = -Infinity;
      for (let i = 0; i < part.x.length; i += 97) {
        const v = part.x[i];
        if (v < min) min = v;
        if (v > max) max = v;
      }
      assert.ok(min >= 0 && max <= 1 && max > 0.9, `pixel range [${min}, ${max}]`);
    }
  },
);

test(
  'damaged copies of the real Fashion-MNIST files are rejected',
  { skip: !existsSync(join(FASHION_DIR, FASHION_FILES[3])) && `${FASHION_DIR} not installed` },
  () => {
    const dir = join(root, 'fashion-damaged');
    mkdirSync(dir);
    for (const f of FASHION_FILES.slice(0, 2)) copyFileSync(join(FASHION_DIR, f), join(dir, f));
    // Small test split: write our own 10 images, then damage the real label file in several ways.
    writeIdxFile(join(dir, 't10k-images-idx3-ubyte'), [10000, 28, 28], new Uint8Array(10000 * 784));
    const labels = readFileSync(join(FASHION_DIR, FASHION_FILES[3]));
    const target = join(dir, FASHION_FILES[3]);
    writeFileSync(target, labels);
    assert.equal(loadIdxDataset(dir, { maxTrain: 10 }).test.size, 10000, 'undamaged copy loads');
    const damages: [string, Uint8Array, RegExp][] = [
      ['truncated gzip', labels.subarray(0, labels.length - 100), /corrupt gzip data/],
      [
        'flipped byte',
        (() => {
          const b = Buffer.from(labels);
          b[b.length >> 1] ^= 0x55;
          return b;
        })(),
        /corrupt gzip data/,
      ],
    ];
    for (const [what, bytes, message] of damages) {
      writeFileSync(target, bytes);
      assert.throws(
        () => loadIdxDataset(dir, { maxTrain: 10 }),
        (err: unknown) => {
          assert.ok(err instanceof Error);
          assert.ok(err.message.includes(target), `${what}: ${err.message}`);
          assert.match(err.message, message, what);
          return true;
        },
      );
    }
  },
);
