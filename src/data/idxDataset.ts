/**
 * Loads a directory in the MNIST layout (four IDX files, plain or gzipped) as train and test datasets:
 * full MNIST, Fashion-MNIST, or anything else with 28x28-style uint8 images and uint8 labels.
 * Node only (reads files).
 */
import { existsSync, statSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { checkDataset, type Dataset } from './dataset.js';
import { readIdxFile, type IdxFile } from './idx.js';
import { DIGIT_CLASSES } from './mnist.js';
import { describeValue } from '../util/validation.js';

/** Fashion-MNIST's class names, by label (from the dataset's README). */
export const FASHION_MNIST_CLASSES: readonly string[] = Object.freeze([
  'T-shirt/top',
  'Trouser',
  'Pullover',
  'Dress',
  'Coat',
  'Sandal',
  'Shirt',
  'Sneaker',
  'Bag',
  'Ankle boot',
]);

/** The four files of the MNIST layout, by base name (each may also carry a `.gz` suffix). */
const FILES = {
  trainImages: 'train-images-idx3-ubyte',
  trainLabels: 'train-labels-idx1-ubyte',
  testImages: 't10k-images-idx3-ubyte',
  testLabels: 't10k-labels-idx1-ubyte',
} as const;

/** The path of `base` or `base.gz` in `dir`; the uncompressed one wins if both exist. */
function locate(dir: string, base: string): string {
  for (const name of [base, `${base}.gz`]) {
    const path = join(dir, name);
    if (existsSync(path)) return path;
  }
  throw new Error(`IDX directory ${dir}: neither ${base} nor ${base}.gz found`);
}

function checkMaxCount(value: number | undefined, what: string): void {
  if (value !== undefined && (typeof value !== 'number' || !Number.isInteger(value) || value < 1)) {
    const message = `loadIdxDataset: ${what} must be a positive integer, got ${describeValue(value)}`;
    throw typeof value === 'number' ? new RangeError(message) : new TypeError(message);
  }
}

/** Reads one images/labels pair, checks that they belong together and returns the first `max` examples. */
function loadSplit(
  dir: string,
  imagesBase: string,
  labelsBase: string,
  classNames: string[],
  max: number | undefined,
  name: string,
): Dataset {
  const imagesPath = locate(dir, imagesBase);
  const labelsPath = locate(dir, labelsBase);
  const images: IdxFile = readIdxFile(imagesPath);
  const labels: IdxFile = readIdxFile(labelsPath);
  if (images.dtype !== 'uint8') throw new Error(`IDX file ${imagesPath}: images must be uint8, found ${images.dtype}`);
  if (images.dims.length !== 3) {
    throw new Error(`IDX file ${imagesPath}: images must have 3 dimensions [count, rows, cols], found [${images.dims.join(', ')}]`);
  }
  if (labels.dtype !== 'uint8') throw new Error(`IDX file ${labelsPath}: labels must be uint8, found ${labels.dtype}`);
  if (labels.dims.length !== 1) {
    throw new Error(`IDX file ${labelsPath}: labels must have 1 dimension [count], found [${labels.dims.join(', ')}]`);
  }
  const [count, rows, cols] = images.dims;
  if (count === 0 || rows === 0 || cols === 0) {
    throw new Error(`IDX file ${imagesPath}: empty images, dims [${images.dims.join(', ')}]`);
  }
  if (labels.dims[0] !== count) {
    throw new Error(`IDX files ${imagesPath} and ${labelsPath}: ${count} images but ${labels.dims[0]} labels`);
  }
  for (let i = 0; i < count; i++) {
    if (labels.data[i] >= classNames.length) {
      throw new Error(
        `IDX file ${labelsPath}: label ${labels.data[i]} at index ${i} is not a class index in [0, ${classNames.length - 1}]`,
      );
    }
  }
  const size = max === undefined ? count : Math.min(max, count);
  const pixels = rows * cols;
  const x = new Float32Array(size * pixels);
  for (let i = 0; i < x.length; i++) x[i] = images.data[i] / 255;
  const y = Int32Array.from({ length: size }, (_, i) => labels.data[i]);
  return checkDataset({ name, x, y, exampleShape: [rows, cols, 1], numClasses: classNames.length, classNames: classNames.slice(), size });
}

/**
 * Loads `train-images-idx3-ubyte`, `train-labels-idx1-ubyte`, `t10k-images-idx3-ubyte` and
 * `t10k-labels-idx1-ubyte` (each optionally `.gz`) from `dir`. Every file is validated by
 * {@link readIdxFile}; in addition images must be uint8 `[count, rows, cols]`, labels uint8 `[count]`
 * with the same count and values below the number of classes, and train and test images must have the
 * same size. Pixels are scaled to [0, 1]; `exampleShape` is `[rows, cols, 1]`.
 *
 * @param opts.maxTrain keep only the first maxTrain training examples (positive integer; default all).
 * @param opts.maxTest keep only the first maxTest test examples (positive integer; default all).
 * @param opts.classNames class names by label (default '0'..'9'; pass {@link FASHION_MNIST_CLASSES}
 *   for Fashion-MNIST). Its length is the number of classes.
 */
export function loadIdxDataset(
  dir: string,
  opts: { maxTrain?: number; maxTest?: number; classNames?: string[] } = {},
): {
  /** The training files' examples (at most `maxTrain`). */
  train: Dataset;
  /** The test files' examples (at most `maxTest`). */
  test: Dataset;
} {
  if (typeof dir !== 'string' || dir.length === 0)
    throw new TypeError(`loadIdxDataset: dir must be a non-empty directory path, got ${describeValue(dir)}`);
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new Error(`IDX directory ${dir}: not a directory`);
  checkMaxCount(opts.maxTrain, 'maxTrain');
  checkMaxCount(opts.maxTest, 'maxTest');
  const classNames = opts.classNames ?? DIGIT_CLASSES.slice();
  if (!Array.isArray(classNames) || classNames.length < 2 || classNames.length > 256 || !classNames.every((c) => typeof c === 'string')) {
    const message = `loadIdxDataset: classNames must be an array of 2 to 256 strings, got ${JSON.stringify(classNames)}`;
    throw Array.isArray(classNames) && classNames.every((c) => typeof c === 'string') ? new RangeError(message) : new TypeError(message);
  }
  const name = basename(resolve(dir));
  const train = loadSplit(dir, FILES.trainImages, FILES.trainLabels, classNames, opts.maxTrain, name);
  const test = loadSplit(dir, FILES.testImages, FILES.testLabels, classNames, opts.maxTest, name);
  if (train.exampleShape.join('x') !== test.exampleShape.join('x')) {
    throw new Error(
      `IDX directory ${dir}: train images are ${train.exampleShape.slice(0, 2).join('x')} but test images are ${test.exampleShape.slice(0, 2).join('x')}`,
    );
  }
  return { train, test };
}
