/** The directory checkpoint store writes the checkpoint.ts file format where the runner always wrote it. */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { CHECKPOINT_FILE, encodeCheckpoint, PREVIOUS_CHECKPOINT_FILE, type CheckpointData } from '../../src/experiments/checkpoint.js';
import { DirectoryCheckpointStore, isCheckpointStore } from '../../src/experiments/checkpointStore.js';
import { newRecord } from '../../src/experiments/store.js';
import { tempResults, tinySpec } from './helpers.js';

function data(epoch: number): CheckpointData {
  return {
    epoch,
    globalStep: epoch * 10,
    rngState: [1, 2, 3, 4 + epoch],
    record: { ...newRecord('r', tinySpec(), { backend: 'cpu', threads: null, versions: {} }), startedAt: '2026-01-01T00:00:00.000Z' },
    modelWeights: [{ name: 'dense/kernel', shape: [2], dtype: 'float32', data: Float32Array.from([1.5, -epoch]) }],
    optimizerWeights: [{ name: 'iter', shape: [], dtype: 'int32', data: Int32Array.from([epoch * 10]) }],
  };
}

test('save writes <resultsDir>/<runId>/checkpoint.bin byte for byte as checkpoint.ts encodes it; load reads it back', async () => {
  const dir = tempResults();
  const store = new DirectoryCheckpointStore(dir);
  assert.equal(await store.load('run-a'), null, 'no checkpoint yet');
  await store.save('run-a', data(1));
  const file = join(dir, 'run-a', CHECKPOINT_FILE);
  // The same bytes the runner wrote before the store existed, so old and new checkpoints are one format.
  assert.deepEqual(readFileSync(file), Buffer.concat(encodeCheckpoint(data(1))));
  assert.deepEqual(await store.load('run-a'), { data: data(1), source: file });
  // A second save keeps the first as the backup, and load returns the newest.
  await store.save('run-a', data(2));
  assert.deepEqual(readFileSync(join(dir, 'run-a', PREVIOUS_CHECKPOINT_FILE)), Buffer.concat(encodeCheckpoint(data(1))));
  assert.equal((await store.load('run-a'))?.data.epoch, 2);
  assert.equal(existsSync(join(dir, 'run-b')), false, 'other runs untouched');
});

test('a store over a bad directory is refused; isCheckpointStore recognises the interface', () => {
  assert.throws(
    () => new DirectoryCheckpointStore(''),
    (e: unknown) => e instanceof TypeError && /resultsDir must be a non-empty path string/.test(e.message),
  );
  assert.equal(isCheckpointStore(new DirectoryCheckpointStore(tempResults())), true);
  assert.equal(isCheckpointStore({ load: async () => null, save: async () => {} }), true);
  for (const bad of [null, undefined, 3, {}, { load: async () => null }]) assert.equal(isCheckpointStore(bad), false, String(bad));
});
