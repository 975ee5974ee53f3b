/**
 * The cheaper variants end to end through the CLI: each trains a tiny moons run from its flags
 * (which come from the method table), the records state the table's defaults, the report and the
 * tables label them, and a sweep file takes them; bad settings are usage errors naming the flag.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readRecordFile } from '../../src/experiments/store.js';
import { cli, removeTempDirs, tempDir } from './helpers.js';

after(removeTempDirs);

const TINY = ['--dataset', 'moons', '--n', '120', '--epochs', '1', '--batch-size', '32', '--measure', '0', '--backend', 'cpu'];

test('compare trains one tiny moons run with each of looksam, msam and esam; records, tables and report name them', async () => {
  const dir = tempDir('methods');
  const r = await cli(
    [
      'compare',
      ...TINY,
      '--optimizers',
      'looksam,msam,esam',
      '--seeds',
      '1',
      '--jobs',
      '2',
      '--k',
      '2',
      '--esam-gamma',
      '0.25',
      '--results',
      dir,
    ],
    { timeoutMs: 300_000 },
  );
  assert.equal(r.code, 0, r.stderr);
  const records = readdirSync(dir)
    .filter((f) => /-seed\d-/.test(f))
    .sort()
    .map((d) => readRecordFile(join(dir, d, 'record.json')));
  // The flags where they apply, the table's defaults written out for the rest.
  assert.deepEqual(
    records.map((x) => x.spec.optimizer),
    [
      { name: 'esam', rho: 0.05, beta: 0.5, esamGamma: 0.25 },
      { name: 'looksam', rho: 0.05, k: 2, looksamAlpha: 0.7 },
      { name: 'msam', rho: 0.3 },
    ],
  );
  for (const rec of records) {
    assert.equal(rec.status, 'complete', rec.runId);
    const e = rec.epochs[0]!;
    assert.ok(
      Number.isFinite(e.trainLoss) && e.trainAccuracy >= 0 && e.trainAccuracy <= 1,
      `${rec.runId}: train loss ${e.trainLoss}, accuracy ${e.trainAccuracy}`,
    );
    assert.ok(rec.final !== undefined && rec.final !== null && rec.final.testAccuracy > 0, rec.runId);
  }
  const md = readFileSync(join(dir, 'summary.md'), 'utf8');
  const rows = md.split('\n').filter((l) => /^\| moons \| mlp \|/.test(l));
  assert.deepEqual(
    rows.map((l) => l.split('|')[3]!.trim()),
    ['LookSAM', 'MomentumSAM', 'ESAM'],
    'table order and labels of the method table',
  );
  const html = readFileSync(join(dir, 'report.html'), 'utf8');
  for (const label of ['LookSAM', 'MomentumSAM', 'ESAM']) assert.ok(html.includes(label), `report names ${label}`);
});

test('train: SAM with --interval, --climb-probability and --micro-batches, SGD with --accumulation; a sweep file over LookSAM k', async () => {
  const dir = tempDir('methods-train');
  const [sam, sgd] = await Promise.all([
    cli([
      'train',
      ...TINY,
      '--optimizer',
      'sam',
      '--interval',
      '2',
      '--climb-probability',
      '0.5',
      '--micro-batches',
      '2',
      '--results',
      dir,
    ]),
    cli(['train', ...TINY, '--optimizer', 'sgd', '--accumulation', '3', '--results', dir]),
  ]);
  assert.equal(sam.code, 0, sam.stderr);
  assert.equal(sgd.code, 0, sgd.stderr);
  const records = readdirSync(dir)
    .sort()
    .map((d) => readRecordFile(join(dir, d, 'record.json')));
  assert.deepEqual(
    records.map((x) => x.spec.optimizer),
    [
      { name: 'sam', rho: 0.05, interval: 2, climbProbability: 0.5, microBatches: 2 },
      { name: 'sgd', accumulation: 3 },
    ],
  );
  for (const rec of records) assert.equal(rec.status, 'complete');

  const sweepDir = tempDir('methods-sweep');
  const file = join(sweepDir, 'looksam.yaml');
  writeFileSync(
    file,
    [
      'base:',
      '  dataset: { name: moons, n: 120 }',
      '  epochs: 1',
      '  batchSize: 32',
      '  measureExamples: 0',
      'grid:',
      '  optimizer.name: [looksam]',
      '  optimizer.k: [1, 3]',
      'seeds: 1',
      '',
    ].join('\n'),
  );
  const results = join(sweepDir, 'results');
  const sw = await cli(['sweep', file, '--results', results, '--jobs', '2', '--backend', 'cpu'], { timeoutMs: 300_000 });
  assert.equal(sw.code, 0, sw.stderr);
  assert.match(sw.stdout, /\| LookSAM \| k=1 \|/);
  assert.match(sw.stdout, /\| LookSAM \| k=3 \|/);
  assert.ok(existsSync(join(results, 'report.html')));
});

test('bad settings of the variants are usage errors (exit 2) naming the flag or field and what is allowed', async () => {
  const dir = tempDir('methods-bad');
  const cases: [string[], RegExp][] = [
    [
      ['--optimizer', 'msam', '--base', 'sgd'],
      /--base \(base\.name\): MomentumSAM climbs along the base's momentum, so it must be "momentum", got "sgd"/,
    ],
    [['--optimizer', 'sam', '--k', '3'], /--k does not apply to --optimizer sam \(it applies to looksam\)/],
    [['--optimizer', 'esam', '--beta', '1.5'], /--beta.*Expected a finite number > 0 and <= 1/],
    [['--optimizer', 'looksam', '--k', '0'], /--k.*Expected an integer >= 1/],
    [
      ['--optimizer', 'looksam', '--micro-batches', '2'],
      /--micro-batches does not apply to --optimizer looksam \(it applies to sam, asam, gsam, agsam, esam\)/,
    ],
  ];
  const results = await Promise.all(cases.map(([args]) => cli(['train', ...TINY, ...args, '--results', dir])));
  results.forEach((r, i) => {
    assert.equal(r.code, 2, `${cases[i]![0].join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, cases[i]![1]);
  });
  assert.deepEqual(readdirSync(dir), [], 'nothing ran');
});
