import assert from 'node:assert/strict';
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { tempPathFor, writeFileAtomic } from '../../src/experiments/atomicFile.js';
import {
  CHECKPOINT_FILE,
  decodeCheckpoint,
  encodeCheckpoint,
  loadCheckpoint,
  PREVIOUS_CHECKPOINT_FILE,
  saveCheckpoint,
  type CheckpointData,
} from '../../src/experiments/checkpoint.js';
import type { RunRecord } from '../../src/experiments/schema.js';
import { newRecord } from '../../src/experiments/store.js';
import { tempResults, tinySpec } from './helpers.js';

function record(epochs: number): RunRecord {
  return {
    ...newRecord('r', tinySpec(), { backend: 'cpu', threads: null, versions: {} }),
    epochs: Array.from({ length: epochs }, (_, i) => ({
      epoch: i + 1,
      trainLoss: 0.5,
      trainAccuracy: 0.8,
      testLoss: 0.6,
      testAccuracy: 0.7,
      perturbedLoss: 0.55,
      surrogateGap: 0.05,
      seconds: 1,
    })),
    startedAt: '2026-01-01T00:00:00.000Z',
    wallSeconds: 1,
  };
}

function data(epoch: number): CheckpointData {
  return {
    epoch,
    globalStep: epoch * 10,
    rngState: [1, 2, 3, 4 + epoch],
    record: record(epoch),
    modelWeights: [
      { name: 'dense/kernel', shape: [2, 3], dtype: 'float32', data: Float32Array.from([1, -2, 3.5, epoch, 1e-30, -0]) },
      { name: 'dense/bias', shape: [3], dtype: 'float32', data: new Float32Array(3) },
    ],
    optimizerWeights: [{ name: 'iter', shape: [], dtype: 'int32', data: Int32Array.from([epoch * 10]) }],
  };
}

function concat(parts: Uint8Array[]): Buffer {
  return Buffer.concat(parts.map((p) => Buffer.from(p.buffer, p.byteOffset, p.byteLength)));
}

test('encode/decode round-trips every field bit for bit', () => {
  const d = data(3);
  const back = decodeCheckpoint(concat(encodeCheckpoint(d)), 'mem');
  assert.deepEqual(back, d);
  assert.ok(Object.is(back.modelWeights[0].data[5], -0));
});

test('damaged bytes are rejected with a message saying what is wrong', () => {
  const bytes = concat(encodeCheckpoint(data(1)));
  assert.throws(
    () => decodeCheckpoint(bytes.subarray(0, bytes.length - 3), 'f'),
    /checkpoint f is unusable: tensor data is .* \(truncated\?\)/,
  );
  assert.throws(() => decodeCheckpoint(bytes.subarray(0, 20), 'f'), /truncated/);
  assert.throws(() => decodeCheckpoint(Buffer.from('not a checkpoint at all'), 'f'), /bad magic/);
  const flipped = Buffer.from(bytes);
  flipped[flipped.length - 1] ^= 0xff;
  assert.throws(() => decodeCheckpoint(flipped, 'f'), /checksum mismatch/);
});

test('saving keeps the previous checkpoint; loading prefers the newest', () => {
  const dir = tempResults();
  assert.equal(loadCheckpoint(dir), null);
  saveCheckpoint(dir, data(1));
  saveCheckpoint(dir, data(2));
  assert.equal(loadCheckpoint(dir)?.data.epoch, 2);
  assert.equal(decodeCheckpoint(readFileSync(join(dir, PREVIOUS_CHECKPOINT_FILE)), 'prev').epoch, 1);
});

test('a crash while writing a checkpoint leaves the previous one loadable', () => {
  const dir = tempResults();
  saveCheckpoint(dir, data(1));
  saveCheckpoint(dir, data(2));
  const full = concat(encodeCheckpoint(data(3)));
  const target = join(dir, CHECKPOINT_FILE);

  // Crash during the temp-file write: a half-written temp file lies beside the good checkpoint.
  writeFileSync(tempPathFor(target), full.subarray(0, full.length >> 1));
  assert.equal(loadCheckpoint(dir)?.data.epoch, 2);

  // Crash between the two renames: the newest was moved to .prev, the new one not yet in place.
  renameSync(target, join(dir, PREVIOUS_CHECKPOINT_FILE));
  assert.equal(existsSync(target), false);
  assert.equal(loadCheckpoint(dir)?.data.epoch, 2);

  // A truncated newest file (a file system without atomic rename): fall back to the previous one.
  writeFileSync(target, full.subarray(0, full.length - 10));
  const loaded = loadCheckpoint(dir);
  assert.equal(loaded?.data.epoch, 2);
  assert.equal(loaded?.file, join(dir, PREVIOUS_CHECKPOINT_FILE));

  // And the next save after the crash works normally.
  saveCheckpoint(dir, data(3));
  assert.equal(loadCheckpoint(dir)?.data.epoch, 3);
});

test('when every checkpoint is damaged the error names both files', () => {
  const dir = tempResults();
  writeFileSync(join(dir, CHECKPOINT_FILE), 'junk');
  writeFileSync(join(dir, PREVIOUS_CHECKPOINT_FILE), 'FMCKPT01');
  assert.throws(
    () => loadCheckpoint(dir),
    (err: Error) => err.message.includes(CHECKPOINT_FILE) && err.message.includes(PREVIOUS_CHECKPOINT_FILE),
  );
});

test('writeFileAtomic replaces the file and leaves no temp file behind', () => {
  const dir = tempResults();
  const path = join(dir, 'a.txt');
  writeFileAtomic(path, 'one');
  writeFileAtomic(path, [Buffer.from('tw'), Buffer.from('o')], { backupPath: join(dir, 'a.bak') });
  assert.equal(readFileSync(path, 'utf8'), 'two');
  assert.equal(readFileSync(join(dir, 'a.bak'), 'utf8'), 'one');
  assert.equal(existsSync(tempPathFor(path)), false);
});
