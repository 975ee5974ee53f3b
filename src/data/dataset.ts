/**
 * The in-memory dataset every loader returns, and the operations on it that do not care where the data
 * came from: seeded train/test split, subsets, and conversion to tfjs tensors. Browser-safe (no Node APIs).
 */
import * as tf from '@tensorflow/tfjs';
import { Rng } from '../util/random.js';
import { checkNumber } from '../util/validation.js';

/**
 * A labelled dataset held as flat typed arrays. Example `i` occupies
 * `x[i * exampleSize .. (i + 1) * exampleSize)` where `exampleSize` is the product of `exampleShape`,
 * stored row-major (for images: height, width, channels). Labels are class indices in `[0, numClasses)`.
 */
export interface Dataset {
  /** A short human-readable name, e.g. 'moons' or 'mnist'. */
  name: string;
  /** Features, `size * prod(exampleShape)` values. */
  x: Float32Array;
  /** Class index of each example, `size` values in `[0, numClasses)`. */
  y: Int32Array;
  /** Shape of one example, e.g. `[2]` for moons or `[28, 28, 1]` for MNIST. */
  exampleShape: number[];
  /** Number of classes (length of `classNames`). */
  numClasses: number;
  /** Display name of each class, indexed by label. */
  classNames: string[];
  /** Number of examples. */
  size: number;
}

/** Number of feature values in one example of `ds` (the product of its `exampleShape`). */
export function exampleSize(ds: Pick<Dataset, 'exampleShape'>): number {
  return ds.exampleShape.reduce((a, b) => a * b, 1);
}

/**
 * Checks that the parts of a dataset agree with one another (array lengths, label range, class names)
 * and returns it; throws an Error naming the first inconsistency. Loaders call it on what they build.
 */
export function checkDataset(ds: Dataset): Dataset {
  const where = `dataset '${ds.name}'`;
  if (!Array.isArray(ds.exampleShape) || ds.exampleShape.length === 0 || !ds.exampleShape.every((d) => Number.isInteger(d) && d > 0)) {
    throw new RangeError(`${where}: exampleShape must be a non-empty array of positive integers, got ${JSON.stringify(ds.exampleShape)}`);
  }
  if (!Number.isInteger(ds.size) || ds.size < 0) throw new RangeError(`${where}: size must be a non-negative integer, got ${ds.size}`);
  if (!Number.isInteger(ds.numClasses) || ds.numClasses < 1) {
    throw new RangeError(`${where}: numClasses must be a positive integer, got ${ds.numClasses}`);
  }
  if (ds.classNames.length !== ds.numClasses) {
    throw new RangeError(`${where}: classNames has ${ds.classNames.length} entries but numClasses is ${ds.numClasses}`);
  }
  const per = exampleSize(ds);
  if (ds.x.length !== ds.size * per) {
    throw new RangeError(`${where}: x has ${ds.x.length} values, expected size * prod(exampleShape) = ${ds.size} * ${per}`);
  }
  if (ds.y.length !== ds.size) throw new RangeError(`${where}: y has ${ds.y.length} labels, expected size = ${ds.size}`);
  for (let i = 0; i < ds.y.length; i++) {
    const label = ds.y[i];
    if (label < 0 || label >= ds.numClasses) {
      throw new RangeError(`${where}: label ${label} at example ${i} is outside [0, ${ds.numClasses - 1}]`);
    }
  }
  return ds;
}

/** Validates `indices` against a dataset of `size` examples and returns them as an Int32Array. */
function checkIndices(indices: ArrayLike<number>, size: number, what: string): Int32Array {
  const out = new Int32Array(indices.length);
  for (let i = 0; i < indices.length; i++) {
    const k = indices[i];
    if (!Number.isInteger(k) || k < 0 || k >= size) {
      throw new RangeError(`${what}: indices[${i}] = ${k} is not an integer in [0, ${size - 1}]`);
    }
    out[i] = k;
  }
  return out;
}

/**
 * A new dataset holding the examples of `ds` at `indices`, in that order (repeats allowed). The arrays
 * are copies, so changing the subset never changes `ds`.
 */
export function subset(ds: Dataset, indices: ArrayLike<number>): Dataset {
  const idx = checkIndices(indices, ds.size, 'subset');
  const per = exampleSize(ds);
  const x = new Float32Array(idx.length * per);
  const y = new Int32Array(idx.length);
  for (let i = 0; i < idx.length; i++) {
    const k = idx[i];
    x.set(ds.x.subarray(k * per, (k + 1) * per), i * per);
    y[i] = ds.y[k];
  }
  return {
    name: ds.name,
    x,
    y,
    exampleShape: ds.exampleShape.slice(),
    numClasses: ds.numClasses,
    classNames: ds.classNames.slice(),
    size: idx.length,
  };
}

/**
 * Seeded random train/test split, following scikit-learn's `train_test_split`: a permutation of the
 * examples is drawn from `Rng(seed)`, the first `ceil(testFraction * size)` go to the test set and the
 * rest to the training set (each keeps the permuted order).
 *
 * @param opts.testFraction in (0, 1); both parts must end up non-empty.
 * @param opts.seed integer seed of the permutation.
 */
export function trainTestSplit(
  ds: Dataset,
  opts: { testFraction: number; seed: number },
): {
  /** The examples not drawn for testing. */
  train: Dataset;
  /** The first `ceil(testFraction * size)` examples of the permutation. */
  test: Dataset;
} {
  const { testFraction, seed } = opts;
  checkNumber('trainTestSplit', 'testFraction', testFraction, undefined, { min: 0, minExclusive: true, max: 1, maxExclusive: true });
  checkNumber('trainTestSplit', 'seed', seed, undefined, { integer: true });
  const nTest = Math.ceil(testFraction * ds.size);
  const nTrain = ds.size - nTest;
  if (nTest < 1 || nTrain < 1) {
    throw new RangeError(
      `trainTestSplit: testFraction ${testFraction} of ${ds.size} examples gives ${nTrain} train and ${nTest} test examples; both must be at least 1`,
    );
  }
  const perm = new Rng(seed).permutation(ds.size);
  return { train: subset(ds, perm.subarray(nTest)), test: subset(ds, perm.subarray(0, nTest)) };
}

/**
 * The examples of `ds` (all, or those at `indices`, in that order) as tensors: `x` of shape
 * `[m, ...exampleShape]` (float32) and `y` one-hot of shape `[m, numClasses]` (float32).
 * The caller owns and must dispose both.
 */
export function toTensors(
  ds: Dataset,
  indices?: ArrayLike<number>,
): {
  /** The examples, `[m, ...exampleShape]`, float32. */
  x: tf.Tensor;
  /** Their labels one-hot, `[m, numClasses]`, float32. */
  y: tf.Tensor2D;
} {
  const part = indices === undefined ? ds : subset(ds, indices);
  const oneHot = new Float32Array(part.size * part.numClasses);
  for (let i = 0; i < part.size; i++) oneHot[i * part.numClasses + part.y[i]] = 1;
  // Built from typed arrays directly, so no intermediate tensors are created (nothing to leak). The CPU
  // backend keeps the array it is given, so `ds.x` itself is copied: later edits to it must not reach x.
  const values = part === ds ? ds.x.slice() : part.x;
  const x = tf.tensor(values, [part.size, ...part.exampleShape], 'float32');
  const y = tf.tensor2d(oneHot, [part.size, part.numClasses], 'float32');
  return { x, y };
}
