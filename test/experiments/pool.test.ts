import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runMany } from '../../src/experiments/pool.js';
import { runId, type Progress } from '../../src/experiments/runner.js';
import { RunRecordSchema } from '../../src/experiments/schema.js';
import { readRecords } from '../../src/experiments/store.js';
import { ValidationError } from '../../src/experiments/validate.js';
import { tempResults, tinySpec } from './helpers.js';

test('runMany with jobs 2 runs 4 specs in child processes, records in spec order, failures kept', async () => {
  const dir = tempResults();
  const specs = [
    tinySpec({ seed: 3, dataset: { name: 'moons', n: 200 } }),
    tinySpec({ seed: 4, optimizer: { name: 'gsam' }, dataset: { name: 'moons', n: 200 } }),
    // A run that fails inside its worker (no such IDX directory): it must come back, not vanish.
    tinySpec({ dataset: { name: 'idx', dir: '/nonexistent/idx-dir' }, model: 'cnn' }),
    tinySpec({ seed: 5, base: { name: 'sgd', learningRate: 1e12 }, dataset: { name: 'moons', n: 200 } }),
  ];
  const progress: Progress[] = [];
  const records = await runMany(specs, { resultsDir: dir, jobs: 2, backend: 'cpu', onProgress: (p) => progress.push(p) });
  assert.deepEqual(records.map((r) => r.runId), specs.map(runId));
  for (const r of records) RunRecordSchema.parse(r);
  assert.deepEqual(records.map((r) => r.status), ['complete', 'complete', 'running', 'diverged']);
  assert.match(records[2].error ?? '', /nonexistent\/idx-dir/);
  assert.equal(records[3].divergence?.epoch, 1);
  // Every run that trained reported its progress, ending at its last step.
  for (const i of [0, 1]) {
    const last = progress.filter((p) => p.runId === records[i].runId).at(-1);
    assert.deepEqual(last && [last.epoch, last.step], [2, 5]);
  }
  assert.equal(readRecords(dir).length, 4);
  // Re-running the same list returns the finished runs at once (no training progress).
  const again: Progress[] = [];
  const second = await runMany(specs.slice(0, 2), { resultsDir: dir, jobs: 2, backend: 'cpu', onProgress: (p) => again.push(p) });
  assert.equal(again.length, 0);
  assert.deepEqual(second, records.slice(0, 2));
});

test('runMany checks every spec and its options before running anything', async () => {
  const dir = tempResults();
  await assert.rejects(runMany([tinySpec(), { ...tinySpec(), epochs: 0 }], { resultsDir: dir, jobs: 1 }), (err: unknown) => {
    assert.ok(err instanceof ValidationError);
    assert.deepEqual(err.issues.map((l) => l.split(':')[0]), ['[1].epochs']);
    return true;
  });
  await assert.rejects(runMany([tinySpec()], { resultsDir: dir, jobs: 0 }), /jobs must be a positive integer/);
  assert.deepEqual(readRecords(dir), []);
});
