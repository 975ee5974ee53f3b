/**
 * The 2-D datasets the playground trains on, generated in the page from a seed: two moons (the
 * library's scikit-learn recipe), circles, spirals, XOR and Gaussian blobs. Like the list of methods,
 * this list drives the picker and the URL: a new dataset is one entry.
 */
import { makeMoons, Rng, type Dataset } from 'flatminima';

/** One dataset of the picker. */
export interface DatasetEntry {
  /** The id used in the URL (`data=moons`). */
  readonly id: string;
  readonly label: string;
  /** Builds `n` points with Gaussian noise of standard deviation `noise` from `seed`. */
  generate(n: number, noise: number, seed: number): Dataset;
}

function dataset(name: string, x: Float32Array, y: Int32Array, classNames: string[]): Dataset {
  return { name, x, y, exampleShape: [2], numClasses: classNames.length, classNames, size: y.length };
}

/**
 * Two concentric circles, as scikit-learn's `make_circles(factor=0.5)`: half the points (rounded
 * down) on the unit circle (class 0), the rest on the circle of radius 0.5 (class 1), at angles drawn
 * uniformly, plus noise on each coordinate.
 */
function circles(n: number, noise: number, seed: number): Dataset {
  const rng = new Rng(seed);
  const x = new Float32Array(2 * n);
  const y = new Int32Array(n);
  const nOuter = Math.floor(n / 2);
  for (let i = 0; i < n; i++) {
    const label = i < nOuter ? 0 : 1;
    const r = label === 0 ? 1 : 0.5;
    const t = 2 * Math.PI * rng.next();
    x[2 * i] = r * Math.cos(t) + noise * rng.normal();
    x[2 * i + 1] = r * Math.sin(t) + noise * rng.normal();
    y[i] = label;
  }
  return dataset('circles', x, y, ['outer', 'inner']);
}

/**
 * Two interleaved spirals (the TensorFlow Playground's): point i of a class at radius `r = i / m`
 * and angle `1.75 · 2π · r` (plus π for class 1), scaled to radius 1.5, plus noise.
 */
function spiral(n: number, noise: number, seed: number): Dataset {
  const rng = new Rng(seed);
  const x = new Float32Array(2 * n);
  const y = new Int32Array(n);
  const half = Math.floor(n / 2);
  for (let i = 0; i < n; i++) {
    const label = i < half ? 0 : 1;
    const k = label === 0 ? i : i - half;
    const m = label === 0 ? half : n - half;
    const r = m > 1 ? k / (m - 1) : 0;
    const t = 1.75 * 2 * Math.PI * r + label * Math.PI;
    x[2 * i] = 1.5 * r * Math.sin(t) + noise * rng.normal();
    x[2 * i + 1] = 1.5 * r * Math.cos(t) + noise * rng.normal();
    y[i] = label;
  }
  return dataset('spiral', x, y, ['arm 1', 'arm 2']);
}

/**
 * XOR: points uniform in [-1, 1]², class 0 where x·y > 0 (first and third quadrants), class 1
 * elsewhere; the label is taken before the noise is added, so noise blurs the quadrants' edges.
 */
function xor(n: number, noise: number, seed: number): Dataset {
  const rng = new Rng(seed);
  const x = new Float32Array(2 * n);
  const y = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const a = 2 * rng.next() - 1;
    const b = 2 * rng.next() - 1;
    y[i] = a * b > 0 ? 0 : 1;
    x[2 * i] = a + noise * rng.normal();
    x[2 * i + 1] = b + noise * rng.normal();
  }
  return dataset('xor', x, y, ['same sign', 'opposite sign']);
}

/** Centres of the three blobs: on the circle of radius 1, at 90°, 210° and 330°. */
const BLOB_CENTRES: readonly [number, number][] = [90, 210, 330].map((deg) => [
  Math.cos((deg * Math.PI) / 180),
  Math.sin((deg * Math.PI) / 180),
]);

/**
 * Three Gaussian blobs (three classes), as scikit-learn's `make_blobs` with fixed centres: point i
 * belongs to class i mod 3 and is its centre plus Gaussian noise of standard deviation `noise`.
 */
function blobs(n: number, noise: number, seed: number): Dataset {
  const rng = new Rng(seed);
  const x = new Float32Array(2 * n);
  const y = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const label = i % BLOB_CENTRES.length;
    const [cx, cy] = BLOB_CENTRES[label]!;
    x[2 * i] = cx + noise * rng.normal();
    x[2 * i + 1] = cy + noise * rng.normal();
    y[i] = label;
  }
  return dataset('blobs', x, y, ['blob 1', 'blob 2', 'blob 3']);
}

/** The datasets, in picker order. */
export const DATASETS: readonly DatasetEntry[] = [
  { id: 'moons', label: 'Two moons', generate: (n, noise, seed) => makeMoons({ n, noise, seed }) },
  { id: 'circles', label: 'Circles', generate: circles },
  { id: 'spiral', label: 'Spiral', generate: spiral },
  { id: 'xor', label: 'XOR', generate: xor },
  { id: 'blobs', label: 'Gaussian blobs (3 classes)', generate: blobs },
];

/** The entry with `id`; throws a RangeError naming the ids allowed. */
export function datasetById(id: string): DatasetEntry {
  const d = DATASETS.find((entry) => entry.id === id);
  if (d === undefined) throw new RangeError(`dataset must be one of ${DATASETS.map((e) => e.id).join(', ')}, got '${id}'`);
  return d;
}
