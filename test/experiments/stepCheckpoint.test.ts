/**
 * Checkpoints taken between two steps (`checkpointOnAbort`, what a queue worker does when told to
 * stop) and the weights fingerprint `weightsSha256`. Independent references: an uninterrupted run of
 * the same spec, and `sha256` of the `weights.bin` file the run saved (node:crypto over the file).
 */
import * as tf from '@tensorflow/tfjs';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, test } from 'node:test';
import { decodeCheckpoint, encodeCheckpointBytes, loadCheckpoint } from '../../src/experiments/checkpoint.js';
import { runId, runSpec, type Progress } from '../../src/experiments/runner.js';
import { tempResults, tinySpec, withoutTimings } from './helpers.js';

before(async () => {
  await tf.setBackend('cpu');
});

// agsam with momentum: optimiser state (slots, step count) that must survive the mid-epoch stop.
const spec = tinySpec({ optimizer: { name: 'agsam' }, batchSize: 16, epochs: 3 }); // 20 steps per epoch

/** Runs `spec`, aborting it once the step `epoch`/`step` has been taken. */
async function runStoppedAt(dir: string, epoch: number, step: number, checkpointOnAbort: boolean) {
  const stop = new AbortController();
  return runSpec(spec, {
    resultsDir: dir,
    backend: 'cpu',
    signal: stop.signal,
    checkpointOnAbort,
    onProgress: (p) => {
      if (p.epoch === epoch && p.step === step) stop.abort();
    },
  });
}

test('a run stopped between two steps with checkpointOnAbort resumes at the next step and ends at the weights of an uninterrupted run', async () => {
  const tensorsBefore = tf.memory().numTensors;
  const dir = tempResults();
  const id = runId(spec);
  const stopped = await runStoppedAt(dir, 2, 5, true);
  assert.equal(stopped.status, 'running');
  assert.equal(stopped.epochs.length, 1, 'epoch 2 was not finished');
  const ck = loadCheckpoint(join(dir, id));
  assert.equal(ck?.data.epoch, 1);
  assert.equal(ck?.data.globalStep, 20 + 5, '20 steps of epoch 1 and 5 of epoch 2');
  assert.equal(ck?.data.partialEpoch?.step, 5);

  const resumedProgress: Progress[] = [];
  const resumed = await runSpec(spec, { resultsDir: dir, backend: 'cpu', onProgress: (p) => resumedProgress.push(p) });
  assert.equal(resumed.status, 'complete');
  assert.deepEqual([resumedProgress[0].epoch, resumedProgress[0].step], [2, 6], 'the resumed run starts at the step after the stop');
  assert.equal(resumedProgress.length, 60 - 25, 'no step is taken twice');

  const wholeDir = tempResults();
  const whole = await runSpec(spec, { resultsDir: wholeDir, backend: 'cpu' });
  assert.deepEqual(withoutTimings(resumed), withoutTimings(whole), 'same record (epoch sums carried across the stop), same weights hash');
  assert.match(whole.weightsSha256 ?? '', /^[0-9a-f]{64}$/);
  const fileHash = createHash('sha256')
    .update(readFileSync(join(wholeDir, id, 'model', 'weights.bin')))
    .digest('hex');
  assert.equal(whole.weightsSha256, fileHash, 'weightsSha256 is the sha256 of weights.bin');
  assert.equal(tf.memory().numTensors, tensorsBefore, 'tensors leaked');
});

test('without checkpointOnAbort a stop keeps the last epoch checkpoint, as before', async () => {
  const dir = tempResults();
  await runStoppedAt(dir, 2, 5, false);
  const ck = loadCheckpoint(join(dir, runId(spec)));
  assert.equal(ck?.data.epoch, 1);
  assert.equal(ck?.data.globalStep, 20);
  assert.equal(ck?.data.partialEpoch, undefined);
});

test('a mid-epoch checkpoint has header version 2 and round-trips; damaged partial fields are refused by name', async () => {
  const dir = tempResults();
  await runStoppedAt(dir, 1, 3, true);
  const data = loadCheckpoint(join(dir, runId(spec)))!.data;
  const bytes = encodeCheckpointBytes(data);
  const headerLength = bytes.readUInt32LE(8);
  const header = JSON.parse(bytes.subarray(12, 12 + headerLength).toString('utf8')) as {
    version: number;
    partialEpoch: { sums: Record<string, unknown> };
  };
  assert.equal(header.version, 2);
  assert.deepEqual(decodeCheckpoint(bytes, 'x').partialEpoch, data.partialEpoch);
  // The same checkpoint with a bad sum in its header (a hand-edited or foreign file).
  header.partialEpoch.sums.loss = 'lots';
  const newHeader = Buffer.from(JSON.stringify(header), 'utf8');
  const len = Buffer.alloc(4);
  len.writeUInt32LE(newHeader.byteLength, 0);
  const bad = Buffer.concat([bytes.subarray(0, 8), len, newHeader, bytes.subarray(12 + headerLength)]);
  assert.throws(() => decodeCheckpoint(bad, 'bad'), /checkpoint bad is unusable: partialEpoch\.sums\.loss must be a number, got "lots"/);
  // Non-finite sums survive the JSON header as strings.
  const odd = {
    ...data,
    partialEpoch: { ...data.partialEpoch!, sums: { ...data.partialEpoch!.sums, perturbedLoss: NaN, surrogateGap: -Infinity } },
  };
  const back = decodeCheckpoint(encodeCheckpointBytes(odd), 'odd').partialEpoch!.sums;
  assert.ok(Number.isNaN(back.perturbedLoss));
  assert.equal(back.surrogateGap, -Infinity);
});
