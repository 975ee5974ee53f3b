import * as tf from '@tensorflow/tfjs';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { loadModel, saveModel } from '../../src/experiments/modelStore.js';
import { runId } from '../../src/experiments/runner.js';
import type { RunRecord } from '../../src/experiments/schema.js';
import { newRecord, readRecords, recordPath, writeRecord } from '../../src/experiments/store.js';
import { createMlp } from '../../src/models/index.js';
import { tempResults, tinySpec } from './helpers.js';

function record(id: string): RunRecord {
  return {
    ...newRecord(id, tinySpec(), { backend: 'cpu', threads: null, versions: { node: '20' } }),
    status: 'complete',
    startedAt: 'a',
    finishedAt: 'b',
  };
}

test('records round-trip through the store, sorted by run id', () => {
  const dir = tempResults();
  writeRecord(dir, record('b-run'));
  writeRecord(dir, record('a-run'));
  mkdirSync(join(dir, 'no-record-here'));
  assert.deepEqual(
    readRecords(dir).map((r) => r.runId),
    ['a-run', 'b-run'],
  );
  assert.deepEqual(readRecords(join(dir, 'missing')), []);
});

test('a damaged or invalid record is rejected with an error naming its file', () => {
  const dir = tempResults();
  writeRecord(dir, record('x'));
  const path = recordPath(dir, 'x');
  writeFileSync(path, readFileSync(path, 'utf8').slice(0, 40));
  assert.throws(
    () => readRecords(dir),
    (err: Error) => err.message.includes(path) && /not valid JSON/.test(err.message),
  );
  writeFileSync(path, JSON.stringify({ ...record('x'), status: 'finished' }));
  assert.throws(
    () => readRecords(dir),
    (err: Error) => err.message.includes(path) && /status:/.test(err.message),
  );
  assert.throws(() => writeRecord(dir, { ...record('y'), wallSeconds: -1 }), /wallSeconds:/);
});

test('runId is readable, deterministic and covers the whole spec', () => {
  const id = runId(tinySpec());
  assert.match(id, /^moons-mlp-sam-seed0-[0-9a-f]{8}$/);
  const { seed, ...rest } = tinySpec();
  const reordered = JSON.parse(JSON.stringify({ seed, ...rest })); // same spec, keys in another order
  assert.equal(runId(reordered), id);
  assert.notEqual(runId(tinySpec({ batchSize: 33 })), id);
  assert.throws(() => runId({ ...tinySpec(), seed: -1 }), /seed:/);
});

test('a saved model loads back with identical weights and outputs', async () => {
  await tf.setBackend('cpu');
  const start = tf.memory().numTensors;
  const dir = join(tempResults(), 'model');
  const model = createMlp({ seed: 7 });
  await saveModel(model, dir);
  const loaded = await loadModel(dir);
  assert.deepEqual(
    loaded.getWeights().map((w) => Array.from(w.dataSync())),
    model.getWeights().map((w) => Array.from(w.dataSync())),
  );
  const [a, b] = tf.tidy(() => {
    const x = tf.tensor2d([[0.3, -1.2]]);
    return [(model.predict(x) as tf.Tensor).dataSync(), (loaded.predict(x) as tf.Tensor).dataSync()];
  });
  assert.deepEqual(a, b);
  model.dispose();
  loaded.dispose();
  assert.equal(tf.memory().numTensors, start);
  await assert.rejects(loadModel(join(dir, 'nope')), /cannot read model .*model\.json/);
});
