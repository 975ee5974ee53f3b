/**
 * A fingerprint of a trained model: the SHA-256 of its weights, so two runs (on two executors, two
 * machines, or one interrupted and one not) can be shown to end at bit-identical weights without
 * shipping the weights themselves.
 */
import type * as tf from '@tensorflow/tfjs';
import { createHash } from 'node:crypto';

/**
 * Hex SHA-256 over the bytes of every weight of `model`, in `model.getWeights()` order, each as its
 * typed array stores it (float32 little-endian for these models): the same bytes, in the same order,
 * as the `weights.bin` that `saveModel` (modelStore.ts) writes, so `sha256sum weights.bin` gives the same hex.
 */
export function weightsSha256(model: tf.LayersModel): string {
  const hash = createHash('sha256');
  // getWeights() of a model returns its live variables: read, never dispose them.
  for (const w of model.getWeights()) {
    const values = w.dataSync();
    hash.update(new Uint8Array(values.buffer, values.byteOffset, values.byteLength));
  }
  return hash.digest('hex');
}
