import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cli, removeTempDirs, tempDir } from './helpers.js';

after(removeTempDirs);
import { readRecordFile } from '../../src/experiments/store.js';

const results = tempDir('train');

test('train → record and model written; measure on that model; resume of a finished run', async () => {
  const t = await cli([
    'train',
    '--dataset',
    'moons',
    '--n',
    '240',
    '--epochs',
    '2',
    '--batch-size',
    '32',
    '--optimizer',
    'gsam',
    '--rho',
    '0.1',
    '--alpha',
    '0.2',
    '--seed',
    '3',
    '--measure',
    '24',
    '--results',
    results,
    '--backend',
    'cpu',
  ]);
  assert.equal(t.code, 0, t.stderr);
  const runs = readdirSync(results);
  assert.equal(runs.length, 1);
  const runDir = join(results, runs[0]!);
  assert.match(runs[0]!, /^moons-mlp-gsam-seed3-[0-9a-f]{8}$/);
  const rec = readRecordFile(join(runDir, 'record.json'));
  assert.equal(rec.status, 'complete');
  assert.equal(rec.epochs.length, 2);
  // The flags went into the spec, and every default was written out explicitly.
  assert.deepEqual(rec.spec.optimizer, { name: 'gsam', rho: 0.1, alpha: 0.2 });
  assert.deepEqual(rec.spec.dataset, { name: 'moons', n: 240, noise: 0.3, testFraction: 0.2 });
  assert.equal(rec.spec.batchSize, 32);
  assert.equal(rec.spec.seed, 3);
  assert.equal(rec.spec.measureExamples, 24);
  // The record's sharpness is at the common radius MEASURE_RHO = 0.05, not the run's rho of 0.1.
  assert.equal(rec.sharpness?.rho, 0.05);
  assert.equal(rec.backend, 'cpu');
  assert.ok(existsSync(join(runDir, 'model', 'model.json')));
  // Progress (plain lines off a terminal) on stderr; the summary on stdout names the files.
  assert.match(t.stderr, /epoch 2\/2 step \d+\/6 loss \d\.\d{4} acc \d+\.\d%/);
  assert.ok(t.stdout.includes(join(runDir, 'record.json')), t.stdout);
  assert.ok(t.stdout.includes(join(runDir, 'model')), t.stdout);
  assert.match(t.stdout, new RegExp(`test accuracy\\s+${(rec.final!.testAccuracy * 100).toFixed(2)} %`));
  assert.match(t.stdout, /on backend cpu/);

  // measure, on the run directory (JSON, to check the relations between the numbers) and on the
  // model directory (text), which finds the run's record one level up.
  const [mj, mt] = await Promise.all([
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
      '--rho',
      '0.2',
      '--json',
      '--backend',
      'cpu',
    ]),
    cli(['measure', '--run', join(runDir, 'model'), '--examples', '20', '--samples', '4', '--max-iterations', '10', '--backend', 'cpu']),
  ]);
  assert.equal(mj.code, 0, mj.stderr);
  const m = JSON.parse(mj.stdout) as {
    examples: number;
    split: string;
    sigmaMax: { value: number; iterations: number; method: string };
    trace: { value: number; stdError: number; samples: number };
    surrogateGap: { rho: number; rhoIsCommon: boolean; loss: number; perturbedLoss: number; gap: number; lemma3SigmaMax: number };
  };
  assert.equal(m.examples, 20);
  assert.equal(m.split, 'test');
  assert.equal(m.surrogateGap.rho, 0.2, '--rho overrides the common measuring radius');
  assert.equal(m.surrogateGap.rhoIsCommon, false);
  assert.ok(m.sigmaMax.iterations >= 2 && m.sigmaMax.iterations <= 10);
  assert.equal(m.trace.samples, 4);
  for (const v of [m.sigmaMax.value, m.trace.value, m.trace.stdError, m.surrogateGap.gap]) assert.ok(Number.isFinite(v));
  const g = m.surrogateGap;
  assert.ok(Math.abs(g.gap - (g.perturbedLoss - g.loss)) < 1e-6);
  assert.ok(Math.abs(g.lemma3SigmaMax - (2 * g.gap) / (g.rho * g.rho)) < 1e-6 * Math.max(1, Math.abs(g.lemma3SigmaMax)));
  assert.equal(mt.code, 0, mt.stderr);
  assert.match(mt.stdout, /sigma_max\s+-?\d/);
  assert.match(mt.stdout, /\d+ Hessian-vector products/);
  assert.match(mt.stdout, /Hessian trace\s+-?[\d.e+-]+ ± [\d.e+-]+/);
  assert.match(
    mt.stdout,
    /surrogate gap\s+-?[\d.e+-]+\s+at rho 0\.05 \(the common measuring radius, the same for every run; --rho to change\)/,
  );
  assert.match(mt.stdout, /2h\/rho\^2 = /);

  // --resume on the finished run returns its record at once; spec flags with --resume are refused.
  const [again, clash] = await Promise.all([
    cli(['train', '--resume', runDir, '--backend', 'cpu']),
    cli(['train', '--resume', runDir, '--epochs', '5']),
  ]);
  assert.equal(again.code, 0, again.stderr);
  assert.match(again.stdout, /: complete/);
  assert.equal(readRecordFile(join(runDir, 'record.json')).finishedAt, rec.finishedAt, 'not re-run');
  assert.equal(clash.code, 2);
  assert.match(clash.stderr, /--resume continues a run exactly as it was specified; drop --epochs/);
});

test('train --spec: a spec file is the base and flags override it', async () => {
  const dir = tempDir('spec');
  const specFile = join(dir, 'run.json');
  writeFileSync(
    specFile,
    JSON.stringify({
      name: 'from-file',
      dataset: { name: 'moons', n: 120, noise: 0.1 },
      model: 'mlp',
      optimizer: { name: 'sam', rho: 0.02 },
      base: { name: 'sgd', learningRate: 0.2 },
      epochs: 1,
      batchSize: 16,
      seed: 1,
    }),
  );
  const r = await cli(['train', '--spec', specFile, '--rho', '0.07', '--seed', '2', '--results', dir, '--backend', 'cpu']);
  assert.equal(r.code, 0, r.stderr);
  const runs = readdirSync(dir).filter((f) => f !== 'run.json');
  assert.equal(runs.length, 1);
  const rec = readRecordFile(join(dir, runs[0]!, 'record.json'));
  assert.equal(rec.spec.name, 'from-file');
  assert.deepEqual(rec.spec.dataset, { name: 'moons', n: 120, noise: 0.1 });
  assert.deepEqual(rec.spec.optimizer, { name: 'sam', rho: 0.07 });
  assert.equal(rec.spec.base.learningRate, 0.2);
  assert.equal(rec.spec.seed, 2);
  assert.equal(rec.spec.batchSize, 16);
  assert.equal(rec.spec.measureExamples, undefined, 'a spec file is taken as written');
});
