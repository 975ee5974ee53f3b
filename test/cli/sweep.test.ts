import assert from 'node:assert/strict';
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { readRecordFile } from '../../src/experiments/store.js';
import { cli, removeTempDirs, tempDir } from './helpers.js';

after(removeTempDirs);

test('sweep: a tiny moons grid from a file runs, prints its per-point table, and a second run runs nothing', async () => {
  const dir = tempDir('sweep');
  const file = join(dir, 'tiny.yaml');
  // YAML, as a user may write it; the minimal form of the README.
  writeFileSync(
    file,
    [
      'base:',
      '  dataset: { name: moons, n: 200 }',
      '  epochs: 1',
      '  batchSize: 32',
      '  measureExamples: 0',
      'grid:',
      '  optimizer.name: [sam, gsam]',
      '  optimizer.rho: [0.05, 0.5]',
      'seeds: 2',
      '',
    ].join('\n'),
  );
  const results = join(dir, 'results');
  const r = await cli(['sweep', file, '--results', results, '--jobs', '2', '--backend', 'cpu'], { timeoutMs: 300_000 });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /sweep tiny: 4 points x 2 seeds \(0,1\) = 8 runs; methods sam, gsam/);
  assert.match(r.stderr, /validationAccuracy .* 10% validation split/);
  assert.equal((r.stderr.match(/: started/g) ?? []).length, 8);
  const runDirs = readdirSync(results).filter((d) => /-seed\d-/.test(d));
  assert.equal(runDirs.length, 8);
  for (const d of runDirs) {
    const rec = readRecordFile(join(results, d, 'record.json'));
    assert.equal(rec.status, 'complete');
    assert.equal(rec.spec.dataset.validationFraction, 0.1);
    assert.ok(typeof rec.final?.validationAccuracy === 'number');
  }
  // The analysis: one selected point per method, chosen on validation, and every point's row.
  assert.match(r.stdout, /### Selected points/);
  assert.match(r.stdout, /\| SAM \| rho=0\.(05|5) \| 2\/2 \|/);
  for (const [method, rho] of [
    ['SAM', '0.05'],
    ['SAM', '0.5'],
    ['GSAM', '0.05'],
    ['GSAM', '0.5'],
  ]) {
    assert.match(r.stdout, new RegExp(`\\| ${method} \\| rho=${rho.replace('.', '\\.')} \\| 2/2 \\| 0 \\|`));
  }
  // The per-variant summary, as `compare` writes it: the four points, each over its 2 seeds.
  assert.match(r.stdout, /\| Dataset \| Model \| Method \| Runs \|/);
  assert.equal((r.stdout.match(/\| moons \| mlp \| (SAM|GSAM) \(rho=0\.0?5\) \| 2 \| 0 \|/g) ?? []).length, 4, r.stdout);
  for (const f of [
    'analysis.md',
    'analysis.csv',
    'analysis.json',
    'summary.md',
    'summary.csv',
    'summary.json',
    'report.html',
    'moons-mlp-sensitivity.png',
    'moons-mlp-sensitivity.svg',
  ]) {
    assert.ok(existsSync(join(results, f)), f);
  }

  const again = await cli(['sweep', file, '--results', results, '--backend', 'cpu'], { timeoutMs: 120_000 });
  assert.equal(again.code, 0, again.stderr);
  assert.equal((again.stderr.match(/: started/g) ?? []).length, 0);
  assert.equal((again.stderr.match(/already complete, not run again/g) ?? []).length, 8);
});

test('sweep: bad files and flags are usage errors (exit 2) that name the problem, and nothing runs', async () => {
  const dir = tempDir('sweep-bad');
  const bad = join(dir, 'bad.json');
  writeFileSync(bad, JSON.stringify({ grid: { 'optimizer.rho': [-1], 'optimiser.alpha': [0.1] }, seeds: 2 }));
  const results = join(dir, 'results');
  const r = await cli(['sweep', bad, '--results', results]);
  assert.equal(r.code, 2);
  const lines = r.stderr.trim().split('\n');
  assert.equal(lines.length, 2, r.stderr);
  assert.match(lines[0], /^error: .*bad\.json: grid\["optimizer\.rho"\]\[0\]: .*>=0, got -1$/);
  assert.match(lines[1], /^error: .*bad\.json: grid\["optimiser\.alpha"\]: unknown spec field \(did you mean optimizer\.alpha\?\)/);
  assert.equal(existsSync(results), false);

  const notJson = join(dir, 'x.json');
  writeFileSync(notJson, '{ grid: ');
  assert.match((await cli(['sweep', notJson])).stderr, /x\.json: not valid JSON/);
  assert.match((await cli(['sweep', join(dir, 'missing.json')])).stderr, /missing\.json: cannot read the file \(ENOENT\)/);
  const cases: Array<[string[], RegExp]> = [
    [['sweep'], /give a sweep file .* or the sweep by flags/],
    [['sweep', '--grid', 'optimizer.rho'], /--grid optimizer\.rho: expected <spec\.path>=<value>/],
    [['sweep', '--grid', 'optimizer.rho=0.1', '--seeds', '0'], /--seeds 0: a count must be >= 1/],
    [['sweep', '--grid', 'optimizer.rho=0.1', '--threads', '9'], /--threads.*from 1 to 8/],
    [
      ['sweep', '--grid', 'optimizer.rho=0.1', '--random', 'optimizer.alpha=normal:0:1'],
      /random\.params\["optimizer\.alpha"\]\.dist: must be one of/,
    ],
    [['sweep', bad, '--grid', 'optimizer.rho=0.1'], /in the file or by --set\/--grid\/--random flags, not both/],
  ];
  for (const [args, pattern] of cases) {
    const out = await cli(args);
    assert.equal(out.code, 2, `${args.join(' ')}: ${out.stderr}`);
    assert.match(out.stderr, pattern, args.join(' '));
  }
});

test('sweep: the same sweep given by flags expands to the same runs as the file form (dry run)', async () => {
  const dir = tempDir('sweep-flags');
  const file = join(dir, 's.json');
  writeFileSync(
    file,
    JSON.stringify({
      base: { dataset: { name: 'moons', n: 500 }, epochs: 3 },
      grid: { 'optimizer.name': ['gsam'], 'optimizer.alpha': [0, 0.2] },
      seeds: [1, 4],
    }),
  );
  const fromFile = await cli(['sweep', file, '--dry-run']);
  const fromFlags = await cli([
    'sweep',
    '--set',
    'dataset.name=moons',
    '--set',
    'dataset.n=500',
    '--set',
    'epochs=3',
    '--grid',
    'optimizer.name=gsam',
    '--grid',
    'optimizer.alpha=0,0.2',
    '--seeds',
    '1,4',
    '--dry-run',
  ]);
  assert.equal(fromFile.code, 0, fromFile.stderr);
  assert.equal(fromFlags.code, 0, fromFlags.stderr);
  const ids = (s: string): string[] =>
    s
      .trim()
      .split('\n')
      .map((l) => l.split('\t')[0])
      .sort();
  assert.equal(ids(fromFile.stdout).length, 4);
  assert.deepEqual(ids(fromFlags.stdout), ids(fromFile.stdout));
});
