/**
 * The spectrum through the command line and the run records: `train --measure-top-k/--measure-density/
 * --measure-layers` put it in the spec and the record; `measure --top-k --density --layers` prints it
 * (JSON and text), and its established numbers (sigma_max, trace, gap) are exactly what the library
 * gives for the same seeds; bad flags are usage errors naming the flag.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/backend/index.js';
import { toTensors } from '../../src/data/index.js';
import { loadModel } from '../../src/experiments/modelStore.js';
import { loadRunData, runSeeds } from '../../src/experiments/runData.js';
import { runId } from '../../src/experiments/runner.js';
import { readRecordFile } from '../../src/experiments/store.js';
import { parseRunSpec } from '../../src/experiments/validate.js';
import { hessianTopEigenvalue, hessianTrace, modelObjective, surrogateGap } from '../../src/sharpness/index.js';
import { cli, removeTempDirs, tempDir } from './helpers.js';

after(removeTempDirs);
const results = tempDir('spectrum');

test('train with the spectrum flags → spectrum in the spec and the record; measure prints it; old numbers unchanged', async () => {
  const t = await cli([
    'train',
    '--dataset',
    'moons',
    '--n',
    '200',
    '--epochs',
    '1',
    '--batch-size',
    '32',
    '--optimizer',
    'sam',
    '--seed',
    '1',
    '--measure',
    '30',
    '--measure-top-k',
    '3',
    '--measure-density',
    '--measure-layers',
    '--results',
    results,
    '--backend',
    'cpu',
  ]);
  assert.equal(t.code, 0, t.stderr);
  const [run] = readdirSync(results);
  const runDir = join(results, run!);
  const rec = readRecordFile(join(runDir, 'record.json'));
  assert.deepEqual(rec.spec.measureSpectrum, { topK: 3, density: true, layers: true });
  const s = rec.sharpness!;
  assert.equal(s.topEigenvalues?.length, 3);
  assert.deepEqual(
    s.topEigenvalues,
    [...s.topEigenvalues!].sort((a, b) => b - a),
  );
  assert.ok(s.topEigenvalues![0] <= Math.abs(s.sigmaMax) * (1 + 1e-3), 'the largest eigenvalue is at most the largest magnitude');
  assert.ok(s.density && s.density.grid.length === 512 && s.density.runs.length === 5);
  const dx = s.density.grid[1] - s.density.grid[0];
  assert.ok(Math.abs(s.density.density.reduce((a, b) => a + b, 0) * dx - 1) < 1e-6);
  assert.equal(s.layers?.length, 8, 'the 2-32-32-32-2 MLP has 4 kernels and 4 biases');
  assert.deepEqual(
    s.layers!.map((l) => l.size),
    [64, 32, 1024, 32, 1024, 32, 64, 2],
  );

  // A spec that does not ask for the spectrum gets no field, so its run id is what it always was.
  const { measureSpectrum, ...withoutSpectrum } = rec.spec;
  assert.ok(measureSpectrum);
  assert.ok(!('measureSpectrum' in parseRunSpec(withoutSpectrum)));
  assert.notEqual(runId(withoutSpectrum), rec.runId);

  const [json, text] = await Promise.all([
    cli([
      'measure',
      '--run',
      runDir,
      '--examples',
      '20',
      '--samples',
      '4',
      '--max-iterations',
      '10',
      '--seed',
      '2',
      '--json',
      '--backend',
      'cpu',
      '--top-k',
      '2',
      '--density',
      '--density-runs',
      '2',
      '--density-iterations',
      '8',
      '--grid-points',
      '64',
      '--layers',
    ]),
    cli(['measure', '--run', runDir, '--examples', 'all', '--samples', '4', '--max-iterations', '10', '--top-k', '2', '--backend', 'cpu']),
  ]);
  assert.equal(json.code, 0, json.stderr);
  const m = JSON.parse(json.stdout) as {
    examples: number;
    sigmaMax: { value: number; iterations: number };
    trace: { value: number; stdError: number };
    surrogateGap: { gap: number; rho: number };
    topEigenvalues: { values: number[]; converged: boolean[]; iterations: number };
    density: { grid: number[]; density: number[]; runs: Array<{ ritzValues: number[]; weights: number[] }> };
    layers: { layers: Array<{ name: string; topEigenvalue: number; trace: number; traceMethod: string }> };
  };
  assert.equal(m.examples, 20);
  assert.equal(m.topEigenvalues.values.length, 2);
  assert.equal(m.density.grid.length, 64);
  assert.equal(m.density.runs.length, 2);
  assert.equal(m.layers.layers.length, 8);
  assert.ok(m.layers.layers.every((l) => Number.isFinite(l.topEigenvalue) && Number.isFinite(l.trace)));

  // The measures the command always printed are computed as before: power iteration and the probes
  // from --seed, the gap at the common radius, on the first 20 test examples.
  await initBackend({ backend: 'cpu' });
  const model = await loadModel(join(runDir, 'model'));
  const { test: split } = loadRunData(rec.spec, runSeeds(rec.spec.seed));
  const { x, y } = toTensors(
    split,
    Int32Array.from({ length: 20 }, (_, i) => i),
  );
  const obj = modelObjective(model, x, y);
  const eig = hessianTopEigenvalue(obj, { seed: 2, maxIterations: 10, tol: 1e-4 });
  const tr = hessianTrace(obj, { seed: 2, samples: 4 });
  const gap = surrogateGap(obj, { rho: 0.05 });
  assert.equal(m.sigmaMax.value, eig.value);
  assert.equal(m.sigmaMax.iterations, eig.iterations);
  assert.equal(m.trace.value, tr.value);
  assert.equal(m.trace.stdError, tr.stdError);
  assert.equal(m.surrogateGap.gap, gap.gap);
  model.dispose();
  tf.dispose([x, y]);

  assert.equal(text.code, 0, text.stderr);
  assert.match(text.stdout, /on the first 40 test examples/, '--examples all: the whole test split (200 · 0.2)');
  assert.match(
    text.stdout,
    /top-2 eigenvalues\s+-?[\d.e+-]+, -?[\d.e+-]+\s+\(Lanczos, \d+ Hessian-vector products, (all converged|\d NOT converged)\)/,
  );
});

test('spectrum flags: bad values and flags without their measure are usage errors naming the flag', async () => {
  const runs = await Promise.all([
    cli(['measure', '--run', results, '--sigma', '0.1']),
    cli(['measure', '--run', results, '--examples', '0']),
    cli(['measure', '--run', results, '--top-k', '0']),
    cli(['train', '--measure', '0', '--measure-top-k', '2']),
  ]);
  const [sigma, examples, topK, train] = runs;
  for (const r of runs) {
    assert.equal(r.code, 2, r.stderr);
    assert.doesNotMatch(r.stderr, /\n\s+at .+:\d+:\d+/, 'no stack trace');
  }
  assert.match(sigma.stderr, /--sigma applies only with --density/);
  assert.match(examples.stderr, /--examples <count>.*Expected a whole number >= 1 or 'all'/);
  assert.match(topK.stderr, /--top-k <k>.*Expected a whole number >= 1/);
  assert.match(train.stderr, /--measure-top-k, --measure-density and --measure-layers need sharpness measured \(--measure > 0\)/);
});
