/**
 * Moves a run's live tensors (model weights, optimiser state) into a {@link CheckpointData} of plain
 * arrays and back, so checkpoint.ts can stay free of tfjs.
 */
import * as tf from '@tensorflow/tfjs';
import type { CheckpointData, NamedArray } from './checkpoint.js';
import type { BuiltOptimizer } from './optimizerFactory.js';
import { repairRestoredOptimizer } from '../util/tfjsFixes.js';

/** Reads tensors into plain arrays for a checkpoint. */
async function toNamedArrays(items: { name: string; tensor: tf.Tensor }[]): Promise<NamedArray[]> {
  const out: NamedArray[] = [];
  for (const { name, tensor } of items) {
    const dtype = tensor.dtype;
    if (dtype !== 'float32' && dtype !== 'int32' && dtype !== 'bool') throw new Error(`cannot checkpoint tensor ${name} of dtype ${dtype}`);
    const values = await tensor.data();
    const data =
      dtype === 'float32'
        ? Float32Array.from(values as Float32Array)
        : dtype === 'int32'
          ? Int32Array.from(values as Int32Array)
          : Uint8Array.from(values as Uint8Array);
    out.push({ name, shape: [...tensor.shape], dtype, data });
  }
  return out;
}

function fromNamedArray(a: NamedArray): tf.Tensor {
  return tf.tensor(a.data, a.shape, a.dtype);
}

/**
 * A checkpoint of `model` and `optimizer` at the position `state` describes. Everything in it is a
 * fresh copy (arrays and record), so the caller may hand it to a store that keeps it.
 */
export async function captureCheckpoint(
  model: tf.LayersModel,
  optimizer: tf.Optimizer,
  state: Pick<CheckpointData, 'epoch' | 'globalStep' | 'rngState' | 'record' | 'partialEpoch'>,
): Promise<CheckpointData> {
  // getWeights() of a model returns its live variables: read, never dispose them.
  const live = model.getWeights();
  const modelWeights = await toNamedArrays(model.weights.map((w, i) => ({ name: w.originalName, tensor: live[i] })));
  const optWeights = await optimizer.getWeights();
  let optimizerWeights: NamedArray[];
  try {
    optimizerWeights = await toNamedArrays(optWeights);
  } finally {
    // Optimisers return their slot variables (kept) plus freshly made scalars such as the step count.
    tf.dispose(optWeights.map((w) => w.tensor).filter((t) => !(t instanceof tf.Variable)));
  }
  return { ...state, record: structuredClone(state.record), modelWeights, optimizerWeights };
}

/** Puts a checkpoint's model weights and optimiser state back into `model` and `built`. */
export async function restoreCheckpoint(model: tf.LayersModel, built: BuiltOptimizer, ck: CheckpointData): Promise<void> {
  const weights = ck.modelWeights.map(fromNamedArray);
  model.setWeights(weights);
  tf.dispose(weights);
  const optWeights = ck.optimizerWeights.map((a) => ({ name: a.name, tensor: fromNamedArray(a) }));
  await built.optimizer.setWeights(optWeights);
  // setWeights makes its own variables from these (sharing data by reference count).
  tf.dispose(optWeights.map((w) => w.tensor));
  repairRestoredOptimizer(built.base);
}
