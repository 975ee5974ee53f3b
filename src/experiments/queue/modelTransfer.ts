/**
 * The final model of a queued run, from the worker's scratch folder to the submitter's results
 * folder through Redis: the two files `saveModel` writes (model.json, weights.bin), as one hash that
 * expires after a while (records stay in the queue until collected; models, which are larger, for
 * {@link MODEL_TTL_SECONDS} by default). The submitter checks `weights.bin` against the record's
 * `weightsSha256` before writing it, so a model that does not belong to its record is never kept.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Redis } from 'ioredis';
import { writeFileAtomic } from '../atomicFile.js';
import { MODEL_JSON, WEIGHTS_BIN } from '../modelStore.js';
import { modelKey } from './keys.js';

/** How long a finished run's model waits in Redis for a submitter to collect it: 14 days. */
export const MODEL_TTL_SECONDS = 14 * 24 * 3600;

/** Uploads `<modelDir>/model.json` and `weights.bin` of run `runId`. */
export async function uploadModel(
  client: Redis,
  queue: string,
  runId: string,
  modelDir: string,
  ttlSeconds = MODEL_TTL_SECONDS,
): Promise<void> {
  const key = modelKey(queue, runId);
  await client
    .multi()
    .hset(key, MODEL_JSON, readFileSync(join(modelDir, MODEL_JSON)), WEIGHTS_BIN, readFileSync(join(modelDir, WEIGHTS_BIN)))
    .expire(key, ttlSeconds)
    .exec();
}

/** What {@link downloadModel} found. */
export type ModelDownload = { written: true } | { written: false; why: string };

/**
 * Writes run `runId`'s model into `destDir` (weights first, so model.json never names a missing
 * shard) when Redis has it and its weights hash to `weightsSha256`.
 */
export async function downloadModel(
  client: Redis,
  queue: string,
  runId: string,
  destDir: string,
  weightsSha256: string | undefined,
): Promise<ModelDownload> {
  const [modelJson, weights] = await client.hmgetBuffer(modelKey(queue, runId), MODEL_JSON, WEIGHTS_BIN);
  if (modelJson === null || weights === null) return { written: false, why: 'the model is no longer in Redis (expired or removed)' };
  const hash = createHash('sha256').update(weights).digest('hex');
  if (weightsSha256 === undefined || hash !== weightsSha256) {
    return { written: false, why: `the stored weights hash to ${hash}, the record says ${weightsSha256 ?? 'nothing'}` };
  }
  try {
    JSON.parse(modelJson.toString('utf8'));
  } catch {
    return { written: false, why: 'the stored model.json is not JSON' };
  }
  mkdirSync(destDir, { recursive: true });
  writeFileAtomic(join(destDir, WEIGHTS_BIN), weights);
  writeFileAtomic(join(destDir, MODEL_JSON), modelJson);
  return { written: true };
}
