/**
 * Sharpness of a saved model on examples of its data set: the work behind `flatminima measure`,
 * as a library function. It loads the model and the run's data split, and measures on the first
 * `examples` examples (or all of them), whose tensors are made chunk by chunk as the measures need
 * them, so a whole training split is measured with the memory of one chunk.
 */
import * as tf from '@tensorflow/tfjs';
import { exampleSize, toTensors, type Dataset } from '../data/index.js';
import {
  measureSharpnessDetailed,
  modelObjective,
  type DetailedSharpness,
  type ExampleSource,
  type MeasureOptions,
} from '../sharpness/index.js';
import { toModelInput } from './evaluate.js';
import { loadModel } from './modelStore.js';
import { loadRunData, runSeeds } from './runData.js';
import type { DatasetSpec, RunSpec } from './schema.js';

/** Options of {@link measureSavedModel}: where the model and data are, then the measures' own options. */
export interface SavedModelMeasureOptions extends Omit<MeasureOptions, 'examples'> {
  /** Directory holding the tfjs model (model.json). */
  modelDir: string;
  /** The run spec whose data set (and split seed) the examples come from. */
  spec: RunSpec;
  /** Examples of the train or the test split. */
  split: 'train' | 'test';
  /** The first this many examples of the split (a positive integer; fewer when the split is smaller), or 'all'. */
  examples: number | 'all';
  /** Examples per chunk of the Hessian-vector products (positive integer, default 512). */
  chunkSize?: number;
}

/** Result of {@link measureSavedModel}. */
export interface SavedModelMeasurement {
  /** The model directory measured (as given in the options). */
  modelDir: string;
  /** The spec's data set (`spec.dataset`) the examples came from. */
  dataset: DatasetSpec;
  /** The data set's own name (e.g. 'moons', 'mnist'). */
  datasetName: string;
  /** The split the examples came from. */
  split: 'train' | 'test';
  /** Examples measured on. */
  examples: number;
  /** Every measure's full result. */
  measures: DetailedSharpness;
  /** Wall time of the measures (not of loading). */
  seconds: number;
}

/** The first `n` examples of `ds` as a source whose chunks are made on demand, shaped for the model. */
function datasetSource(ds: Dataset, n: number, inputShape: readonly number[]): ExampleSource {
  return {
    size: n,
    chunk: (start, count) => {
      const { x, y } = toTensors(
        ds,
        Int32Array.from({ length: count }, (_, i) => start + i),
      );
      return { x: toModelInput(x, inputShape), y };
    },
  };
}

/**
 * Loads the model in `modelDir` and the `split` of `spec`'s data, and measures the sharpness of the
 * model there (see measureSharpnessDetailed: sigma_max, trace, surrogate gap, and the spectrum when
 * asked). Frees the model and every tensor before it returns; the tfjs backend must be set up.
 * @throws RangeError when the split is empty, `examples` is not a positive integer or 'all', or the
 * model's input shape does not fit the data set's examples.
 */
export async function measureSavedModel(opts: SavedModelMeasureOptions): Promise<SavedModelMeasurement> {
  const fn = 'measureSavedModel';
  const { modelDir, spec, split, examples, chunkSize, ...measureOptions } = opts;
  if (examples !== 'all' && !(Number.isInteger(examples) && examples > 0)) {
    throw new RangeError(`${fn}: examples must be a positive integer or 'all', got ${String(examples)}`);
  }
  if (split !== 'train' && split !== 'test') throw new RangeError(`${fn}: split must be 'train' or 'test', got ${String(split)}`);
  const { train, test } = loadRunData(spec, runSeeds(spec.seed));
  const ds = split === 'train' ? train : test;
  const n = examples === 'all' ? ds.size : Math.min(examples, ds.size);
  if (n === 0) throw new RangeError(`${fn}: the ${split} split of ${ds.name} has no examples`);
  const model = await loadModel(modelDir);
  try {
    const inputShape = model.inputs[0]!.shape.slice(1) as number[];
    const perExample = inputShape.reduce((a, b) => a * b, 1);
    if (perExample !== exampleSize(ds)) {
      throw new RangeError(
        `${fn}: the model takes inputs of shape [${inputShape}] but ${ds.name} examples have shape [${ds.exampleShape}]`,
      );
    }
    const started = performance.now();
    const before = tf.memory().numTensors;
    const obj = modelObjective(model, datasetSource(ds, n, inputShape), { chunkSize });
    const measures = measureSharpnessDetailed(obj, measureOptions);
    const leaked = tf.memory().numTensors - before;
    if (leaked !== 0) throw new Error(`${fn}: the measures left ${leaked} tensors behind (a bug)`);
    return {
      modelDir,
      dataset: spec.dataset,
      datasetName: ds.name,
      split,
      examples: n,
      measures,
      seconds: (performance.now() - started) / 1000,
    };
  } finally {
    model.dispose();
  }
}
