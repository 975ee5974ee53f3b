/**
 * Synthetic but schema-valid run records for the report tests: two optimisers x two seeds of tiny
 * moons runs with curves, sharpness, landscapes and decision grids whose shapes differ by optimiser
 * (SAM's landscape is flatter and its boundary smoother), written to a results directory.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { RunRecordSchema, type RunRecord, type RunSpec } from '../../src/experiments/schema.js';
import { Rng } from '../../src/util/random.js';

/** Sharpness of each synthetic optimiser: curvature of its landscape and steepness of its boundary. */
const CURVATURE: Record<string, number> = { sgd: 8, sam: 2, asam: 3, gsam: 1.5, agsam: 1.2 };

function linspace(a: number, b: number, n: number): number[] {
  return Array.from({ length: n }, (_, i) => a + ((b - a) * i) / (n - 1));
}

/** The Gaussian mixture Σ_j w_j N(t; θ_j, σ²) on `n` cells over [lo, hi], as a record's density (point values at the cell centres). */
function mixtureOnGrid(
  thetas: number[],
  weights: number[],
  sigma: number,
  lo: number,
  hi: number,
  n: number,
): { grid: number[]; density: number[] } {
  const width = (hi - lo) / n;
  const grid = Array.from({ length: n }, (_, i) => lo + (i + 0.5) * width);
  const density = grid.map((t) =>
    thetas.reduce((s, th, j) => s + (weights[j] * Math.exp(-((t - th) ** 2) / (2 * sigma * sigma))) / (sigma * Math.sqrt(2 * Math.PI)), 0),
  );
  return { grid, density };
}

/** The 2-32-32-32-2 MLP's variables (name, shape) as the spectrum's per-layer records name them. */
const MLP_VARIABLES: Array<[string, number[]]> = [1, 2, 3, 4].flatMap((l): Array<[string, number[]]> => {
  const units = [2, 32, 32, 32, 2];
  return [
    [`dense_Dense${l}/kernel`, [units[l - 1], units[l]]],
    [`dense_Dense${l}/bias`, [units[l]]],
  ];
});

/** One synthetic record; `overrides` replace top-level fields (e.g. sharpness: null). */
export function syntheticRecord(optimizer: RunSpec['optimizer']['name'], seed: number, overrides: Partial<RunRecord> = {}): RunRecord {
  const rng = new Rng(seed * 101 + optimizer.length);
  const k = CURVATURE[optimizer];
  const epochs = 4;
  const spec: RunSpec = {
    dataset: { name: 'moons', n: 200, noise: 0.2 },
    model: 'mlp',
    optimizer: optimizer === 'sgd' ? { name: 'sgd' } : { name: optimizer, rho: 0.05 },
    base: { name: 'sgd', learningRate: 0.1 },
    epochs,
    batchSize: 32,
    seed,
    measureExamples: 64,
  };
  const epochRecords = Array.from({ length: epochs }, (_, i) => {
    const trainLoss = 0.7 * Math.exp(-0.5 * (i + 1)) + 0.02 * rng.next();
    return {
      epoch: i + 1,
      trainLoss,
      trainAccuracy: 1 - trainLoss / 2,
      testLoss: trainLoss * 1.1,
      testAccuracy: 0.6 + 0.08 * (i + 1) + 0.02 * rng.next(),
      perturbedLoss: optimizer === 'sgd' ? null : trainLoss + 0.01 * k,
      surrogateGap: optimizer === 'sgd' ? null : 0.01 * k * (1 + 0.1 * rng.next()),
      seconds: 0.1,
    };
  });
  const last = epochRecords[epochs - 1];
  const alphas = linspace(-1, 1, 11);
  const xs = linspace(-1.5, 2.5, 25);
  const ys = linspace(-1, 1.5, 21);
  // Class-1 probability rising across a wavy boundary; sharper optimisers get a steeper boundary.
  const probs = ys.map((y) => xs.map((x) => 1 / (1 + Math.exp(-k * (0.5 * Math.sin(2 * x) - y + 0.25)))));
  const points: Array<[number, number, number]> = Array.from({ length: 40 }, () => {
    const x = -1 + 3 * rng.next();
    const y = -0.8 + 2 * rng.next();
    return [x, y, 0.5 * Math.sin(2 * x) - y + 0.25 > 0 ? 1 : 0];
  });
  const record: RunRecord = {
    runId: `moons-mlp-${optimizer}-seed${seed}-synthetic`,
    spec,
    status: 'complete',
    epochs: epochRecords,
    final: { trainLoss: last.trainLoss, trainAccuracy: last.trainAccuracy, testLoss: last.testLoss, testAccuracy: last.testAccuracy },
    sharpness: {
      examples: 64,
      sigmaMax: 2 * k + rng.next(),
      sigmaMaxIterations: 20,
      hessianMethod: 'double-backprop',
      trace: 5 * k + rng.next(),
      rho: 0.05,
      surrogateGap: 0.001 * k,
      lemma3SigmaMax: (2 * 0.001 * k) / 0.05 ** 2,
      landscape1D: { alphas, losses: alphas.map((a) => last.trainLoss + k * a * a) },
      landscape2D: { alphas, betas: alphas, losses: alphas.map((a) => alphas.map((b) => last.trainLoss + k * (a * a + 0.5 * b * b))) },
      topEigenvalues: [2, 1.2, 0.8, 0.5, 0.3].map((f) => f * k + 0.01 * rng.next()),
      topEigenvaluesConverged: [true, true, true, true, true],
      topEigenvaluesIterations: 30,
      density: {
        ...mixtureOnGrid([-0.2 * k, 0, 0.1 * k, 2 * k], [0.1, 0.6, 0.28, 0.02], 0.03 * k, -0.4 * k, 2.2 * k, 200),
        sigma: 0.03 * k,
        runs: [{ ritzValues: [-0.2 * k, 0, 0.1 * k, 2 * k], weights: [0.1, 0.6, 0.28, 0.02] }],
      },
      layers: MLP_VARIABLES.map(([name, shape], i) => ({
        name,
        shape,
        size: shape.reduce((a, b) => a * b, 1),
        topEigenvalue: k * (0.2 + 0.1 * i) + 0.01 * rng.next(),
        trace: k * (1 + i) + 0.1 * rng.next(),
      })),
    },
    decisionGrid: { xs, ys, probs, points },
    divergence: null,
    backend: 'cpu',
    threads: null,
    versions: { flatminima: '0.1.0', '@tensorflow/tfjs': '4.22.0', node: process.version },
    startedAt: '2026-01-01T00:00:00.000Z',
    finishedAt: '2026-01-01T00:00:01.000Z',
    wallSeconds: 1,
    modelDir: null,
    ...overrides,
  };
  return RunRecordSchema.parse(record);
}

/** Writes records as `<dir>/<runId>/record.json`. */
export function writeRecords(dir: string, records: readonly RunRecord[]): void {
  for (const r of records) {
    mkdirSync(join(dir, r.runId), { recursive: true });
    writeFileSync(join(dir, r.runId, 'record.json'), JSON.stringify(r, null, 2));
  }
}
