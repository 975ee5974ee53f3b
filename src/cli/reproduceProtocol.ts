/**
 * The protocol of `flatminima reproduce --full`, as data: for each of the report's experiments, a
 * selection sweep (rho for SAM and ASAM, rho x alpha for GSAM and Adaptive-GSAM, on a validation split
 * of the training part) and a confirmation stage (each method's selected point over more seeds, with
 * the final model's sharpness measured). Both stages are plain sweep files, so any stage can also be
 * run, resumed or extended by `flatminima sweep`, and runs already done are never repeated.
 *
 * The grids of the elementwise-scaled methods (ASAM, Adaptive-GSAM) are those of SAM and GSAM times 10:
 * their climb is scaled by `|w| + eta` (or `|w| + gamma`), which shrinks it about tenfold at these
 * weights (the reason their default rho is 10x), and equal log-spans make the sensitivity figures of
 * a method and of its scaled twin comparable point for point.
 */
import type { OptimizerName } from '../experiments/defaults.js';

/** One experiment's two stages. */
export interface FullProtocol {
  key: 'moons' | 'mnist';
  /** The partial spec every run of both stages starts from (completed by the CLI defaults). */
  base: Record<string, unknown>;
  /** Per method of the report: the grid of the selection sweep ({} = the method's defaults only). */
  grids: Readonly<Partial<Record<OptimizerName, Readonly<Record<string, readonly number[]>>>>>;
  /** Seeds of every selection point. */
  selectionSeeds: readonly number[];
  /** Seeds of the confirmation stage (each method at its selected point). */
  confirmationSeeds: number;
  /** Test examples the confirmed models' sharpness is measured on. */
  measureExamples: number;
  /** Share of the training part held out for validation in both stages. */
  validationFraction: number;
}

const RHO_SAM = [0.01, 0.02, 0.05, 0.1, 0.2, 0.5] as const;
const RHO_SCALED = [0.1, 0.2, 0.5, 1, 2, 5] as const;
const ALPHA = [0.01, 0.1, 0.3] as const;
const RHO_SAM_MNIST = [0.02, 0.05, 0.1, 0.2] as const;
const RHO_SCALED_MNIST = [0.2, 0.5, 1, 2] as const;
const ALPHA_MNIST = [0.1, 0.3] as const;

/**
 * The report's settings (moons: 10,000 points, noise 0.3, the 2-32-32-32-2 MLP, 50 epochs, batch 64;
 * MNIST: the embedded 10,000 digits, the small CNN, 25 epochs, batch 64) on SGD with momentum 0.9,
 * the report giving no base optimiser. MNIST's CNN steps cost ~100x the MLP's, so its selection sweep
 * is smaller (4 rho values, 2 alpha values, 1 seed) and its confirmation has 5 seeds against 10.
 */
export const FULL_PROTOCOLS: readonly FullProtocol[] = [
  {
    key: 'moons',
    base: {
      dataset: { name: 'moons', n: 10000, noise: 0.3, testFraction: 0.2 },
      model: 'mlp',
      base: { name: 'momentum', learningRate: 0.05, momentum: 0.9 },
      epochs: 50,
      batchSize: 64,
    },
    grids: {
      sgd: {},
      sam: { 'optimizer.rho': RHO_SAM },
      asam: { 'optimizer.rho': RHO_SCALED },
      gsam: { 'optimizer.rho': RHO_SAM, 'optimizer.alpha': ALPHA },
      agsam: { 'optimizer.rho': RHO_SCALED, 'optimizer.alpha': ALPHA },
    },
    selectionSeeds: [0, 1, 2],
    confirmationSeeds: 10,
    measureExamples: 1000,
    validationFraction: 0.1,
  },
  {
    key: 'mnist',
    base: {
      dataset: { name: 'mnist', n: 10000, testFraction: 0.2 },
      model: 'cnn',
      base: { name: 'momentum', learningRate: 0.02, momentum: 0.9 },
      epochs: 25,
      batchSize: 64,
    },
    grids: {
      sgd: {},
      sam: { 'optimizer.rho': RHO_SAM_MNIST },
      asam: { 'optimizer.rho': RHO_SCALED_MNIST },
      gsam: { 'optimizer.rho': RHO_SAM_MNIST, 'optimizer.alpha': ALPHA_MNIST },
      agsam: { 'optimizer.rho': RHO_SCALED_MNIST, 'optimizer.alpha': ALPHA_MNIST },
    },
    selectionSeeds: [0],
    confirmationSeeds: 5,
    measureExamples: 500,
    validationFraction: 0.1,
  },
];

/** The selection stage of a protocol as a sweep file object (no sharpness measured: it is not selected on). */
export function selectionSweep(p: FullProtocol, methods: readonly OptimizerName[]): Record<string, unknown> {
  return {
    name: `${p.key}-selection`,
    base: { ...p.base, measureExamples: 0 },
    methods: Object.fromEntries(methods.map((m) => [m, Object.keys(p.grids[m] ?? {}).length > 0 ? { grid: p.grids[m] } : {}])),
    seeds: [...p.selectionSeeds],
    select: { metric: 'validationAccuracy', validationFraction: p.validationFraction },
  };
}

/**
 * The confirmation stage: each method at its selected point (the optimizer settings chosen on
 * validation), over `seeds` seeds from 0, with the final model's sharpness measured.
 */
export function confirmationSweep(
  p: FullProtocol,
  selected: Readonly<Partial<Record<OptimizerName, Record<string, unknown>>>>,
  seeds = p.confirmationSeeds,
): Record<string, unknown> {
  return {
    name: `${p.key}-confirmation`,
    base: { ...p.base, measureExamples: p.measureExamples },
    methods: Object.fromEntries(Object.entries(selected).map(([m, optimizer]) => [m, { base: { optimizer } }])),
    seeds,
    select: { metric: 'validationAccuracy', validationFraction: p.validationFraction },
  };
}
