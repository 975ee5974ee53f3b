/**
 * Two interleaving half circles ("two moons"), generated with scikit-learn's `make_moons` recipe so that
 * our geometry and noise match the report's data. Browser-safe (no Node APIs).
 */
import { Rng } from '../util/random.js';
import { checkDataset, type Dataset } from './dataset.js';
import { checkBoolean, checkNumber, checkOptionsObject } from '../util/validation.js';

/** `m` evenly spaced values from 0 to pi inclusive, like `numpy.linspace(0, pi, m)`. */
function linspaceToPi(m: number): Float64Array {
  const t = new Float64Array(m);
  if (m === 1) return t; // numpy gives [0] for a single point
  const step = Math.PI / (m - 1);
  for (let i = 0; i < m; i++) t[i] = i * step;
  t[m - 1] = Math.PI; // numpy pins the end point exactly
  return t;
}

/**
 * Two moons exactly as scikit-learn's `make_moons(n_samples=n, noise, shuffle)`:
 * `n_out = floor(n / 2)` points on the outer (upper) half circle `(cos t, sin t)` with label 0 and
 * `n_in = n - n_out` points on the inner (lower) half circle `(1 - cos t, 0.5 - sin t)` with label 1,
 * `t = linspace(0, pi, ·)`; then the points are shuffled (unless `shuffle` is false) and Gaussian noise
 * of standard deviation `noise` is added to every coordinate.
 *
 * Randomness comes from one `Rng(seed)`: the shuffle permutation first, then the noise. So the same seed
 * with `noise: 0` gives the same points in the same order, before noise; tests use this to recover the
 * noise that was added.
 *
 * @param opts.n number of points, an integer >= 2 (so that both classes are present).
 * @param opts.noise standard deviation of the Gaussian noise, finite and >= 0.
 * @param opts.seed integer seed.
 * @param opts.shuffle shuffle the points (default true, as in scikit-learn); when false, all label-0
 *   points come first in order of increasing t.
 * @returns a dataset with `exampleShape [2]`, 2 classes named 'outer' and 'inner'.
 */
export function makeMoons(opts: { n: number; noise: number; seed: number; shuffle?: boolean }): Dataset {
  const where = 'makeMoons';
  checkOptionsObject(where, 'opts', opts, '{ n: 1000, noise: 0.2, seed: 0 }');
  const n = checkNumber(where, 'n', opts.n, undefined, { min: 2, integer: true });
  const noise = checkNumber(where, 'noise', opts.noise, undefined, { min: 0 });
  const seed = checkNumber(where, 'seed', opts.seed, undefined, { integer: true });
  const shuffle = checkBoolean(where, 'shuffle', opts.shuffle, true);

  const nOut = Math.floor(n / 2);
  const nIn = n - nOut;
  // Noiseless points in scikit-learn's order (outer then inner), in double precision.
  const px = new Float64Array(n);
  const py = new Float64Array(n);
  const labels = new Int32Array(n);
  const tOut = linspaceToPi(nOut);
  for (let i = 0; i < nOut; i++) {
    px[i] = Math.cos(tOut[i]);
    py[i] = Math.sin(tOut[i]);
  }
  const tIn = linspaceToPi(nIn);
  for (let i = 0; i < nIn; i++) {
    px[nOut + i] = 1 - Math.cos(tIn[i]);
    py[nOut + i] = 1 - Math.sin(tIn[i]) - 0.5;
    labels[nOut + i] = 1;
  }

  const rng = new Rng(seed);
  const order = shuffle ? rng.permutation(n) : Int32Array.from({ length: n }, (_, i) => i);
  const x = new Float32Array(2 * n);
  const y = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const k = order[i];
    y[i] = labels[k];
    // Noise is added in double precision, then rounded once to float32.
    x[2 * i] = noise > 0 ? px[k] + noise * rng.normal() : px[k];
    x[2 * i + 1] = noise > 0 ? py[k] + noise * rng.normal() : py[k];
  }
  return checkDataset({ name: 'moons', x, y, exampleShape: [2], numClasses: 2, classNames: ['outer', 'inner'], size: n });
}
