/**
 * What a run trains: the train/test datasets and the freshly initialised model a spec names.
 * All randomness (data generation, split, weight init) is drawn from seeds derived from the spec's
 * seed, so the same spec always gives the same data and the same initial weights.
 */
import type * as tf from '@tensorflow/tfjs';
import { exampleSize, loadEmbeddedMnist, loadIdxDataset, makeMoons, trainTestSplit, type Dataset } from '../data/index.js';
import { createCnn, createMlp } from '../models/index.js';
import { Rng } from '../util/random.js';
import type { RunSpec } from './schema.js';

/** Defaults for dataset options a spec leaves out. */
export const DATASET_DEFAULTS = Object.freeze({ moonsN: 10000, noise: 0.3, testFraction: 0.2 });

/** The seeds of one run, all derived from `spec.seed` (so changing the seed changes every one). */
export interface RunSeeds {
  data: number;
  split: number;
  init: number;
  order: number;
  /** Draws the validation split out of the training part. */
  validation: number;
  /** Seeds the optimiser's own draws (RST's climbs, ESAM's weight masks). */
  optimizer: number;
}

/** Derives the data, split, init and data-order seeds from the spec's seed. */
export function runSeeds(seed: number): RunSeeds {
  const rng = new Rng(seed);
  // Drawn in this order, so adding a seed at the end left the earlier ones (and old runs) unchanged.
  return { data: rng.seed(), split: rng.seed(), init: rng.seed(), order: rng.seed(), validation: rng.seed(), optimizer: rng.seed() };
}

/** The data of a run: what it trains on, what selects among runs, and what it is judged on. */
export interface RunData {
  train: Dataset;
  /** Held out of the training part when the spec sets `dataset.validationFraction`, else null. */
  validation: Dataset | null;
  test: Dataset;
}

/**
 * Loads (or generates) the spec's data, splits it into train and test sets, and, when the spec asks
 * for one, holds a seeded validation share out of the training part (the test set is untouched, so a
 * run with a validation split is judged on the same test examples as one without).
 */
export function loadRunData(spec: RunSpec, seeds: RunSeeds): RunData {
  const { train, test } = loadTrainTest(spec, seeds);
  const fraction = spec.dataset.validationFraction;
  if (fraction === undefined) return { train, validation: null, test };
  const { train: rest, test: validation } = trainTestSplit(train, { testFraction: fraction, seed: seeds.validation });
  return { train: rest, validation, test };
}

function loadTrainTest(spec: RunSpec, seeds: RunSeeds): { train: Dataset; test: Dataset } {
  const d = spec.dataset;
  const testFraction = d.testFraction ?? DATASET_DEFAULTS.testFraction;
  switch (d.name) {
    case 'moons': {
      const all = makeMoons({ n: d.n ?? DATASET_DEFAULTS.moonsN, noise: d.noise ?? DATASET_DEFAULTS.noise, seed: seeds.data });
      return trainTestSplit(all, { testFraction, seed: seeds.split });
    }
    case 'mnist':
      return trainTestSplit(loadEmbeddedMnist({ n: d.n }), { testFraction, seed: seeds.split });
    case 'idx':
      if (d.dir === undefined) throw new Error('dataset.dir is required when dataset.name is "idx"');
      return loadIdxDataset(d.dir, { maxTrain: d.maxTrain, maxTest: d.maxTest });
    default:
      throw new Error(`dataset.name must be one of moons, mnist, idx; got ${String((d as { name: unknown }).name)}`);
  }
}

/** The input shape the spec's model takes for one example (flat for the MLP, image for the CNN). */
export function modelInputShape(spec: RunSpec, train: Dataset): number[] {
  if (spec.model === 'mlp') return [exampleSize(train)];
  if (train.exampleShape.length !== 3) {
    throw new Error(`model "cnn" needs image examples [height, width, channels]; dataset ${train.name} has shape [${train.exampleShape}]`);
  }
  return train.exampleShape;
}

/** Builds the spec's (uncompiled) model, initialised from the init seed. */
export function createRunModel(spec: RunSpec, train: Dataset, seeds: RunSeeds): tf.Sequential {
  const shape = modelInputShape(spec, train);
  if (spec.model === 'mlp') return createMlp({ seed: seeds.init, inputDim: shape[0], numClasses: train.numClasses });
  return createCnn({ seed: seeds.init, inputShape: shape as [number, number, number], numClasses: train.numClasses });
}
