/**
 * The defaults that turn a partial run spec into a complete one, in one table for every entry point:
 * the CLI's flags (`train`, `compare`), sweep files and `reproduce` all complete specs from here, so
 * the same run described any of these ways gets the same spec, and so the same run id.
 */
import { METHODS, METHOD_IDS, REPORT_METHOD_IDS, type MethodName } from '../optimizers/index.js';
import { OPTIMIZER_DEFAULTS } from './optimizerFactory.js';
import { DATASET_DEFAULTS } from './runData.js';
import type { OptimizerSpec, RunSpec } from './schema.js';
import { parseRunSpec } from './validate.js';

/** Every method of the method table (src/optimizers/methods.ts), plain 'sgd' first, in table order. */
export const OPTIMIZERS = METHOD_IDS;
/** The report's five methods (sgd, sam, asam, gsam, agsam): what `compare` and `reproduce` run by default. */
export const REPORT_OPTIMIZERS = REPORT_METHOD_IDS;
/** An optimiser name. */
export type OptimizerName = MethodName;
/** Datasets a run can use. */
export const DATASETS = ['moons', 'mnist', 'idx'] as const;

/** The optimiser settings each method takes (its fields in the method table). */
export const OPTIMIZER_PARAMS: Readonly<Record<OptimizerName, readonly (keyof OptimizerSpec)[]>> = Object.fromEntries(
  METHODS.map((m) => [m.name, Object.keys(m.fields) as (keyof OptimizerSpec)[]]),
) as Record<OptimizerName, (keyof OptimizerSpec)[]>;

/**
 * Default settings per method when nothing sets them (each row's `defaults` in the method table),
 * written out so every record states them.
 */
export const DEFAULT_OPTIMIZERS: Readonly<Record<OptimizerName, OptimizerSpec>> = Object.fromEntries(
  METHODS.map((m) => [m.name, { name: m.name, ...m.defaults }]),
) as Record<OptimizerName, OptimizerSpec>;

/**
 * Defaults that depend on the dataset: model, data size, learning rate, epochs (the report's), and
 * the examples the final model's sharpness is measured on (the CNN's Hessian-vector products cost
 * about a training step each, so fewer).
 */
export const DATASET_RUN_DEFAULTS = {
  moons: {
    model: 'mlp',
    n: DATASET_DEFAULTS.moonsN,
    noise: DATASET_DEFAULTS.noise,
    testFraction: DATASET_DEFAULTS.testFraction,
    learningRate: 0.05,
    epochs: 50,
    measureExamples: 500,
  },
  mnist: { model: 'cnn', testFraction: DATASET_DEFAULTS.testFraction, learningRate: 0.02, epochs: 25, measureExamples: 128 },
  idx: { model: 'cnn', learningRate: 0.02, epochs: 25, measureExamples: 128 },
} as const;

/** Defaults for the rest of a run. */
export const RUN_DEFAULTS = {
  batchSize: 64,
  base: 'momentum',
  momentum: OPTIMIZER_DEFAULTS.momentum,
  seed: 0,
  results: 'results',
} as const;

const isRecord = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

/**
 * Completes a partial run spec with the defaults the CLI uses, then validates it.
 *
 * Each part is filled only where the partial leaves it out: dataset `moons` (with its size, noise and
 * test share), the dataset's model, learning rate, epochs and measured examples, optimiser `sgd` with
 * the method's default settings, base `momentum` 0.9 without weight decay on a constant schedule,
 * batch 64, seed 0. The result equals what `flatminima train`/`compare` build from the same settings
 * given as flags, so both name the run with the same id.
 * @param what names the source in error messages (e.g. `sweep file s.json, point 3`).
 * @throws ValidationError listing every bad field of the completed spec.
 */
export function completeSpec(partial: unknown, what = 'run spec'): RunSpec {
  const p = isRecord(partial) ? partial : {};
  const pd = isRecord(p.dataset) ? p.dataset : {};
  const datasetName = typeof pd.name === 'string' && pd.name in DATASET_RUN_DEFAULTS ? (pd.name as (typeof DATASETS)[number]) : 'moons';
  const dd = DATASET_RUN_DEFAULTS[datasetName];

  const dataset: Record<string, unknown> = { name: datasetName };
  if (datasetName === 'moons') Object.assign(dataset, { n: DATASET_RUN_DEFAULTS.moons.n, noise: DATASET_RUN_DEFAULTS.moons.noise });
  if (datasetName !== 'idx') dataset.testFraction = DATASET_RUN_DEFAULTS[datasetName].testFraction;
  Object.assign(dataset, pd);

  const po = isRecord(p.optimizer) ? p.optimizer : {};
  const optName = typeof po.name === 'string' && po.name in DEFAULT_OPTIMIZERS ? (po.name as OptimizerName) : 'sgd';
  const optimizer = { ...DEFAULT_OPTIMIZERS[optName], ...po };

  const pb = isRecord(p.base) ? p.base : {};
  const base: Record<string, unknown> = { name: RUN_DEFAULTS.base, ...pb };
  base.learningRate ??= dd.learningRate;
  if (base.name === 'momentum') base.momentum ??= RUN_DEFAULTS.momentum;
  base.weightDecay ??= 0;
  base.schedule ??= 'constant';

  const spec: Record<string, unknown> = {
    ...p,
    dataset,
    model: p.model ?? dd.model,
    optimizer,
    base,
    epochs: p.epochs ?? dd.epochs,
    batchSize: p.batchSize ?? RUN_DEFAULTS.batchSize,
    seed: p.seed ?? RUN_DEFAULTS.seed,
    measureExamples: p.measureExamples ?? dd.measureExamples,
  };
  return parseRunSpec(spec, what);
}
