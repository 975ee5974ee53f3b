import * as tf from '@tensorflow/tfjs';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { loadCheckpoint } from '../../src/experiments/checkpoint.js';
import { loadModel } from '../../src/experiments/modelStore.js';
import { runId, runSpec } from '../../src/experiments/runner.js';
import { tempResults, tinySpec, withoutTimings } from './helpers.js';

const child = fileURLToPath(new URL('./fixtures/trainChild.ts', import.meta.url));

async function weights(dir: string): Promise<Float32Array[]> {
  const model = await loadModel(dir);
  const w = model.getWeights().map((t) => t.dataSync() as Float32Array);
  model.dispose();
  return w;
}

test('a training process killed with SIGKILL mid-epoch resumes to the same final weights', async () => {
  await tf.setBackend('cpu');
  const spec = tinySpec({ epochs: 3, optimizer: { name: 'agsam' }, base: { name: 'momentum', learningRate: 0.05 }, batchSize: 16 });
  const id = runId(spec);
  const killedDir = tempResults();
  const specPath = join(killedDir, 'spec.json');
  const marker = join(killedDir, 'marker');
  writeFileSync(specPath, JSON.stringify(spec));
  const proc = spawn(process.execPath, ['--import', import.meta.resolve('tsx'), child, specPath, killedDir, marker], { stdio: 'ignore' });
  const exited = new Promise<NodeJS.Signals | null>((resolve) => proc.on('exit', (_code, signal) => resolve(signal)));
  const deadline = Date.now() + 60_000;
  while (!existsSync(marker) && proc.exitCode === null && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  assert.ok(existsSync(marker), 'the child never reached epoch 2');
  proc.kill('SIGKILL');
  assert.equal(await exited, 'SIGKILL');
  const ck = loadCheckpoint(join(killedDir, id));
  assert.equal(ck?.data.epoch, 1, 'killed mid-epoch 2: the epoch-1 checkpoint is the newest');

  const resumed = await runSpec(spec, { resultsDir: killedDir, backend: 'cpu' });
  const wholeDir = tempResults();
  const whole = await runSpec(spec, { resultsDir: wholeDir, backend: 'cpu' });
  assert.equal(resumed.status, 'complete');
  assert.deepEqual(withoutTimings(resumed), withoutTimings(whole));
  assert.deepEqual(await weights(join(killedDir, id, 'model')), await weights(join(wholeDir, id, 'model')));
});
