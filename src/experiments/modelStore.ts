/**
 * Saving and loading tfjs layers models as `model.json` + `weights.bin` in a directory.
 * Pure @tensorflow/tfjs has no `file://` IO handler in Node (that lives in tfjs-node, which we do
 * not require), so we write the artifacts ourselves through `tf.io.withSaveHandler` and read them
 * back through `tf.io.fromMemory`. The files are the standard tfjs layers format, so tfjs-node's
 * `tf.loadLayersModel('file://...')` and the browser loader read them too.
 */
import * as tf from '@tensorflow/tfjs';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from './atomicFile.js';

/** Name of the topology + manifest file. */
export const MODEL_JSON = 'model.json';
/** Name of the single weights shard. */
export const WEIGHTS_BIN = 'weights.bin';

/** Saves `model` into `dir` (created if needed) as model.json + weights.bin. */
export async function saveModel(model: tf.LayersModel, dir: string): Promise<void> {
  mkdirSync(dir, { recursive: true });
  await model.save(
    tf.io.withSaveHandler(async (artifacts) => {
      const weightData = artifacts.weightData === undefined ? new ArrayBuffer(0) : tf.io.CompositeArrayBuffer.join(artifacts.weightData);
      const modelJson = {
        modelTopology: artifacts.modelTopology,
        format: artifacts.format ?? 'layers-model',
        generatedBy: artifacts.generatedBy,
        convertedBy: artifacts.convertedBy ?? null,
        weightsManifest: [{ paths: [`./${WEIGHTS_BIN}`], weights: artifacts.weightSpecs ?? [] }],
      };
      // Weights first: model.json names them, so it must never point at a missing shard.
      writeFileAtomic(join(dir, WEIGHTS_BIN), new Uint8Array(weightData));
      writeFileAtomic(join(dir, MODEL_JSON), `${JSON.stringify(modelJson)}\n`);
      return { modelArtifactsInfo: tf.io.getModelArtifactsInfoForJSON(artifacts) };
    }),
  );
}

/**
 * Loads a model saved by {@link saveModel} (or any single-shard tfjs layers model) from `dir`.
 * @throws Error naming the file when model.json or weights.bin is missing or malformed.
 */
export async function loadModel(dir: string): Promise<tf.LayersModel> {
  const jsonPath = join(dir, MODEL_JSON);
  let modelJson: tf.io.ModelJSON;
  try {
    modelJson = JSON.parse(readFileSync(jsonPath, 'utf8')) as tf.io.ModelJSON;
  } catch (err) {
    throw new Error(`cannot read model ${jsonPath}: ${(err as Error).message}`, { cause: err });
  }
  const manifest = modelJson.weightsManifest;
  if (!Array.isArray(manifest)) throw new Error(`model ${jsonPath} has no weightsManifest`);
  const specs = manifest.flatMap((group) => group.weights);
  const shards = manifest
    .flatMap((group) => group.paths)
    .map((p) => {
      const path = join(dir, p);
      try {
        const b = readFileSync(path);
        return b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength);
      } catch (err) {
        throw new Error(`cannot read weights ${path} named by ${jsonPath}: ${(err as Error).message}`, { cause: err });
      }
    });
  const weightData = tf.io.CompositeArrayBuffer.join(shards);
  return tf.loadLayersModel(
    tf.io.fromMemory({ modelTopology: modelJson.modelTopology, weightSpecs: specs, weightData, format: modelJson.format }),
  );
}
