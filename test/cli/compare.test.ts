import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { cli, removeTempDirs, tempDir } from './helpers.js';

after(removeTempDirs);
import { readRecordFile } from '../../src/experiments/store.js';
import type { MethodSummary } from '../../src/experiments/summary.js';

test('compare: 2 optimisers x 2 seeds in 2 jobs → table and summary files with the right rows; re-run skips', async () => {
  const dir = tempDir('compare');
  const args = [
    'compare',
    '--dataset',
    'moons',
    '--n',
    '160',
    '--epochs',
    '1',
    '--batch-size',
    '32',
    '--optimizers',
    'sgd,agsam',
    '--seeds',
    '2',
    '--jobs',
    '2',
    '--measure',
    '0',
    '--rho',
    '0.3',
    '--results',
    dir,
    '--backend',
    'cpu',
  ];
  const r = await cli(args);
  assert.equal(r.code, 0, r.stderr);
  const runDirs = readdirSync(dir)
    .filter((f) => /-seed\d-/.test(f))
    .sort();
  assert.equal(runDirs.length, 4);
  const records = runDirs.map((d) => readRecordFile(join(dir, d, 'record.json')));
  assert.deepEqual(
    records.map((x) => `${x.spec.optimizer.name}/${x.spec.seed}/${x.status}`),
    ['agsam/0/complete', 'agsam/1/complete', 'sgd/0/complete', 'sgd/1/complete'],
  );
  // --rho applies to the method that takes it only.
  assert.equal(records[0]!.spec.optimizer.rho, 0.3);
  assert.equal(records[2]!.spec.optimizer.rho, undefined);

  // summary.json: one row per method in table order, the means of the records' final accuracies.
  const summary = JSON.parse(readFileSync(join(dir, 'summary.json'), 'utf8')) as MethodSummary[];
  assert.deepEqual(
    summary.map((s) => s.optimizer),
    ['sgd', 'agsam'],
  );
  for (const s of summary) {
    assert.equal(s.runs, 2);
    assert.deepEqual(s.seeds, [0, 1]);
    const accs = records.filter((x) => x.spec.optimizer.name === s.optimizer).map((x) => x.final!.testAccuracy);
    assert.ok(Math.abs(s.testAccuracy.mean! - (accs[0]! + accs[1]!) / 2) < 1e-12);
  }
  const csv = readFileSync(join(dir, 'summary.csv'), 'utf8').trim().split('\n');
  assert.equal(csv.length, 3);
  assert.match(csv[1]!, /^moons,mlp,sgd,SGD,2,2,0,0,0,0 1,/);
  assert.match(csv[2]!, /^moons,mlp,agsam,Adaptive-GSAM,2,2,0,0,0,0 1,/);
  const md = readFileSync(join(dir, 'summary.md'), 'utf8');
  assert.match(md, /\| moons \| mlp \| SGD \| 2 \| 0 \| \d+\.\d\d ± \d+\.\d\d \|/);
  assert.match(md, /\| moons \| mlp \| Adaptive-GSAM \| 2 \| 0 \|/);
  // The same table on stdout, and where the files went.
  assert.ok(r.stdout.includes(md.trim().split('\n')[2]!), r.stdout);
  assert.ok(r.stdout.includes(join(dir, 'summary.csv')));
  assert.match(r.stdout, /report: .*report\.html/);
  assert.ok(existsSync(join(dir, 'report.html')));

  // Same command again: nothing re-runs (the records keep their finish times), same table.
  const again = await cli(args);
  assert.equal(again.code, 0, again.stderr);
  assert.deepEqual(
    runDirs.map((d) => readRecordFile(join(dir, d, 'record.json')).finishedAt),
    records.map((x) => x.finishedAt),
  );
  assert.ok(again.stdout.includes(md.trim().split('\n')[2]!));

  // `report` rebuilds the HTML report of the directory into another folder.
  const out = join(dir, 'html');
  const rep = await cli(['report', dir, '--out', out]);
  assert.equal(rep.code, 0, rep.stderr);
  assert.ok(rep.stdout.includes(join(out, 'report.html')), rep.stdout);
  assert.ok(existsSync(join(out, 'report.html')));
});

test('reproduce (tiny test-only budget): both experiments, tables next to the report numbers', async () => {
  const dir = tempDir('reproduce');
  const r = await cli(
    [
      'reproduce',
      '--epochs-override',
      '1',
      '--moons-n',
      '120',
      '--mnist-n',
      '100',
      '--measure-override',
      '0',
      '--optimizers-override',
      'gsam,agsam',
      '--seeds',
      '1',
      '--jobs',
      '2',
      '--results',
      dir,
    ],
    { timeoutMs: 240_000 },
  );
  assert.equal(r.code, 0, r.stderr);
  const out = r.stdout;
  assert.match(out, /TEST OVERRIDES ACTIVE/);
  assert.match(out, /REDUCED from the report's settings: 120 examples instead of 10000; 1 epoch instead of 50/);
  assert.match(out, /## Two moons[^\n]*\n[^\n]*\n\n\| Method \|/);
  assert.match(out, /## MNIST[^\n]*\n[^\n]*\n\n\| Method \|/);
  // The report's numbers sit next to the reproduced ones: moons first, then MNIST.
  const moons = out.slice(out.indexOf('## Two moons'), out.indexOf('## MNIST'));
  const mnist = out.slice(out.indexOf('## MNIST'));
  assert.match(moons, /\| GSAM \| 1 \| 0 \| \d+\.\d\d \| \d\.\d{3} \| — \| 85\.7 \| 0\.33 \|/);
  assert.match(moons, /\| Adaptive-GSAM \| 1 \| 0 \| \d+\.\d\d \| \d\.\d{3} \| — \| 89\.0 \| 0\.27 \|/);
  assert.match(mnist, /\| GSAM \| 1 \| 0 \| \d+\.\d\d \| \d\.\d{3} \| — \| 95\.3 \| 0\.04 \|/);
  assert.match(mnist, /\| Adaptive-GSAM \| 1 \| 0 \| \d+\.\d\d \| \d\.\d{3} \| — \| 98\.5 \| 0\.01 \|/);
  assert.match(out, /wall time \d+ s/);
  const runDirs = readdirSync(dir)
    .filter((f) => /-seed\d-/.test(f))
    .sort();
  assert.deepEqual(
    runDirs.map((d) => d.replace(/-[0-9a-f]{8}$/, '')),
    ['mnist-cnn-agsam-seed0', 'mnist-cnn-gsam-seed0', 'moons-mlp-agsam-seed0', 'moons-mlp-gsam-seed0'],
  );
  for (const f of ['reproduce.md', 'summary.md', 'summary.csv', 'summary.json']) assert.ok(existsSync(join(dir, f)), f);
  assert.match(readFileSync(join(dir, 'reproduce.md'), 'utf8'), /89\.0 \| 0\.27/);
});
