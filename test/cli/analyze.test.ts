/**
 * `flatminima analyze` on a directory of constructed records: run as a user would (a child process),
 * it prints the tables, writes analysis.md/.csv/.json and report.html; `--json` prints the analysis;
 * the flags reach the analysis; every bad flag exits 2 with a message naming it (checked in process,
 * through the same `main`, to keep the test fast).
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { main } from '../../src/cli/program.js';
import type { Analysis } from '../../src/analysis/index.js';
import { sweepRecords, writeRecordDir } from '../analysis/fixtures.js';
import { cli, removeTempDirs, tempDir } from './helpers.js';

after(removeTempDirs);

/**
 * Runs `main` in this process and captures what it writes to stderr (stdout is left alone: the
 * test runner reports through it, and none of these failing invocations prints there).
 */
async function run(args: string[]): Promise<{ code: number; stderr: string }> {
  const err = process.stderr.write.bind(process.stderr);
  let stderr = '';
  process.stderr.write = ((c: string | Uint8Array) => ((stderr += String(c)), true)) as typeof process.stderr.write;
  try {
    const code = await main(['node', 'flatminima', ...args]);
    return { code, stderr };
  } finally {
    process.stderr.write = err;
    process.exitCode = undefined;
  }
}

const sweepDir = tempDir('analyze');
writeRecordDir(sweepDir, sweepRecords());

describe('flatminima analyze', () => {
  test('prints the tables, writes analysis.md/.csv/.json and rebuilds report.html', async () => {
    const r = await cli(['analyze', sweepDir, '--pairs', 'agsam:gsam,agsam:sgd']);
    assert.equal(r.code, 0, r.stderr);
    const md = readFileSync(join(sweepDir, 'analysis.md'), 'utf8');
    assert.ok(r.stdout.startsWith(md), 'the printed tables are the file');
    assert.match(r.stdout, /### Selected points/);
    assert.match(r.stdout, /\| Adaptive-GSAM − GSAM \| 3 \| 0 1 2 \|/);
    assert.match(r.stdout, /\| Adaptive-GSAM − SGD \| 3 \| 0 1 2 \|/);
    assert.doesNotMatch(r.stdout, /\| GSAM − SAM \|/, 'only the named pairs');
    assert.match(
      r.stdout,
      new RegExp(`analysis: ${join(sweepDir, 'analysis.md')}, ${join(sweepDir, 'analysis.csv')}, ${join(sweepDir, 'analysis.json')}`),
    );
    assert.match(r.stdout, /report: .*report\.html/);
    const json = JSON.parse(readFileSync(join(sweepDir, 'analysis.json'), 'utf8')) as Analysis;
    assert.deepEqual(json.options.pairs, [
      ['agsam', 'gsam'],
      ['agsam', 'sgd'],
    ]);
    assert.ok(readFileSync(join(sweepDir, 'analysis.csv'), 'utf8').startsWith('group,section,method,versus,'));
    const html = readFileSync(join(sweepDir, 'report.html'), 'utf8');
    assert.match(html, /id="analysis-comparisons-moons-mlp"/);
    for (const id of ['sensitivity', 'sensitivity-grid', 'convergence']) assert.ok(existsSync(join(sweepDir, `moons-mlp-${id}.png`)), id);
  });

  test('--target-of and --target-accuracy set the convergence target', async () => {
    const of = await cli(['analyze', sweepDir, '--json', '--no-report', '--target-of', 'sam', '--target', '1']);
    assert.equal(of.code, 0, of.stderr);
    const a = JSON.parse(of.stdout) as Analysis;
    const c = a.groups[0].convergence;
    assert.equal(a.options.targetOf, 'sam');
    assert.equal(c.basis, 'method');
    assert.equal(c.reference!.method, 'sam');
    const sam = a.groups[0].selection.find((s) => s.method === 'sam')!;
    assert.ok(Math.abs(c.target! - sam.selectionMetric!.mean!) < 1e-12, "the target is SAM's final mean");
    const given = await cli(['analyze', sweepDir, '--json', '--no-report', '--target-accuracy', '0.8']);
    assert.equal(given.code, 0, given.stderr);
    const g = (JSON.parse(given.stdout) as Analysis).groups[0].convergence;
    assert.deepEqual([g.basis, g.target, g.reference], ['given', 0.8, null]);
  });

  test('--json prints the analysis; the other flags reach it', async () => {
    const before = readFileSync(join(sweepDir, 'report.html'), 'utf8');
    const r = await cli([
      'analyze',
      sweepDir,
      '--json',
      '--select-by',
      'validationLoss',
      '--target',
      '0.95',
      '--within',
      '1',
      '--allow-diverged',
      '--no-report',
    ]);
    assert.equal(r.code, 0, r.stderr);
    const a = JSON.parse(r.stdout) as Analysis;
    assert.equal(a.options.selectBy, 'validationLoss');
    assert.equal(a.options.target, 0.95);
    assert.equal(a.options.within, 0.01, '1 accuracy point = 0.01');
    assert.equal(a.options.allowDiverged, true);
    assert.equal(a.groups[0].selection[0].selectedBy, 'validationLoss');
    assert.match(r.stderr, /analysis: .*analysis\.md/);
    assert.doesNotMatch(r.stderr, /report:/);
    assert.equal(readFileSync(join(sweepDir, 'report.html'), 'utf8'), before, '--no-report leaves report.html as it was');
    assert.equal((JSON.parse(readFileSync(join(sweepDir, 'analysis.json'), 'utf8')) as Analysis).options.selectBy, 'validationLoss');
  });
});

describe('flatminima analyze: bad input exits 2 naming the flag', () => {
  const cases: Array<[string[], RegExp]> = [
    [
      ['--select-by', 'testAccuracy'],
      /option '--select-by <metric>' argument 'testAccuracy' is invalid\. Model selection never looks at the test set/,
    ],
    [
      ['--select-by', 'accuracy'],
      /'--select-by <metric>' argument 'accuracy' is invalid\. Expected one of: validationAccuracy, validationLoss, trainAccuracy, trainLoss/,
    ],
    [['--pairs', 'agsam'], /'--pairs <list>' argument 'agsam' is invalid\. 'agsam' is not a pair/],
    [['--pairs', 'agsam:agsam'], /compares a method with itself/],
    [['--pairs', 'agsam:gsam,gsam:agsam'], /'gsam:agsam' is listed twice/],
    [['--pairs', 'agsam:asam'], /--pairs names asam, which no run in .* has \(methods there: agsam, gsam, sam, sgd\)/],
    [['--target', '0'], /'--target <fraction>' argument '0' is invalid\. Expected a fraction greater than 0 and at most 1/],
    [['--target', '1.5'], /'--target <fraction>' argument '1\.5' is invalid/],
    [['--target', 'x'], /'--target <fraction>' argument 'x' is invalid/],
    [['--target-of', 'asam'], /--target-of names asam, which no run in .* has \(methods there: agsam, gsam, sam, sgd\)/],
    [
      ['--target-accuracy', '91'],
      /'--target-accuracy <fraction>' argument '91' is invalid\. Expected a fraction greater than 0 and at most 1/,
    ],
    [
      ['--target-accuracy', '0.9', '--target', '0.95'],
      /--target-accuracy is a target of its own: give it without --target and --target-of/,
    ],
    [['--within', '-1'], /'--within <points>' argument '-1' is invalid/],
    [['--within', '101'], /'--within <points>' argument '101' is invalid\. Expected accuracy points between 0 and 100/],
    [['--bogus'], /unknown option '--bogus'/],
  ];
  for (const [flags, message] of cases) {
    test(flags.join(' '), async () => {
      const r = await run(['analyze', sweepDir, ...flags]);
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, message);
    });
  }

  test('a missing directory', async () => {
    const r = await run(['analyze', join(sweepDir, 'nope')]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /<dir> .*nope: no such directory/);
  });

  test('runs without a validation split name --select-by as the way out', async () => {
    const dir = tempDir('analyze-noval');
    writeRecordDir(
      dir,
      sweepRecords().map((x) => ({
        ...x,
        final: x.final && { ...x.final, validationAccuracy: null, validationLoss: null },
        epochs: x.epochs.map((e) => ({ ...e, validationAccuracy: null, validationLoss: null })),
      })),
    );
    const r = await run(['analyze', dir]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /the runs have no validation split .*pass --select-by trainAccuracy/);
    assert.ok(!existsSync(join(dir, 'analysis.md')), 'nothing written');
  });
});
