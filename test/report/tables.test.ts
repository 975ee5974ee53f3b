/**
 * The summary tables as text. The rows are built by hand (not by summarize), so each expected cell
 * is worked out from the row's numbers: accuracy x 100 with 2 decimals, losses with 4, sharpness
 * with 3 significant digits, "mean ± std", '—' for no value.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { MethodSummary, Stat } from '../../src/experiments/summary.js';
import { formatMarkdownTable, formatStat, toCsv, toJson } from '../../src/report/tables.js';

const none: Stat = { n: 0, mean: null, std: null };

function row(overrides: Partial<MethodSummary>): MethodSummary {
  return {
    dataset: 'moons',
    model: 'mlp',
    optimizer: 'sgd',
    label: 'SGD',
    runs: 1,
    complete: 1,
    diverged: 0,
    failed: 0,
    incomplete: 0,
    seeds: [0],
    divergedRunIds: [],
    testAccuracy: none,
    testLoss: none,
    trainLoss: none,
    trainAccuracy: none,
    sigmaMax: null,
    trace: null,
    surrogateGap: null,
    ...overrides,
  };
}

const sgd = row({
  runs: 4,
  complete: 3,
  diverged: 1,
  seeds: [0, 1, 2, 3],
  testAccuracy: { n: 3, mean: 0.87, std: 0.02 },
  testLoss: { n: 3, mean: 0.3, std: 0.02 },
  trainLoss: { n: 3, mean: 0.23, std: 0.02 },
  trainAccuracy: { n: 3, mean: 0.5, std: 0 },
});
const gsamDiverged = row({ optimizer: 'gsam', label: 'GSAM', diverged: 1, complete: 0 });
const samMeasured = row({
  dataset: 'mnist',
  model: 'cnn',
  optimizer: 'sam',
  label: 'SAM',
  runs: 2,
  complete: 2,
  seeds: [0, 1],
  testAccuracy: { n: 2, mean: 0.96, std: 0.0141421356 },
  sigmaMax: { n: 2, mean: 12, std: Math.sqrt(8) },
  trace: { n: 2, mean: 110, std: Math.sqrt(200) },
  surrogateGap: { n: 2, mean: 0.02, std: Math.sqrt(0.0002) },
});

test('formatStat: mean ± std with the digits and scale asked for, the mean alone for one value, — for none', () => {
  assert.equal(formatStat({ n: 2, mean: 0.5, std: 0.25 }, 1, 100), '50.0 ± 25.0');
  assert.equal(formatStat({ n: 1, mean: 0.5, std: null }, 2), '0.50');
  assert.equal(formatStat(none, 2), '—');
  assert.equal(formatStat(null, 2), '—');
});

test('Markdown table: one row per summary, — where nothing completed, sharpness columns only when measured', () => {
  const lines = formatMarkdownTable([sgd, gsamDiverged]).trim().split('\n');
  assert.equal(lines.length, 2 + 2);
  assert.equal(lines[0], '| Dataset | Model | Method | Runs | Diverged | Test acc. (%) | Test loss | Train loss |');
  assert.equal(lines[1], '| --- | --- | --- | ---: | ---: | ---: | ---: | ---: |');
  assert.equal(lines[2], '| moons | mlp | SGD | 4 | 1 | 87.00 ± 2.00 | 0.3000 ± 0.0200 | 0.2300 ± 0.0200 |');
  assert.equal(lines[3], '| moons | mlp | GSAM | 1 | 1 | — | — | — |');

  const md = formatMarkdownTable([sgd, samMeasured]);
  assert.match(md, /\| Train loss \| σ_max \| Hessian trace \| Surrogate gap \|\n/);
  // sqrt(8) = 2.828 -> 2.83; sqrt(200) = 14.14 -> 14.1; sqrt(0.0002) = 0.01414 -> 0.0141.
  assert.match(md, /\| mnist \| cnn \| SAM \| 2 \| 0 \| 96\.00 ± 1\.41 \| — \| — \| 12\.0 ± 2\.83 \| 110 ± 14\.1 \| 0\.0200 ± 0\.0141 \|/);
  assert.match(md, /\| 0\.2300 ± 0\.0200 \| — \| — \| — \|\n/, 'an unmeasured row gets — in the sharpness columns');
});

test('Markdown table: failed and unfinished runs are named in the Runs cell; a | in a label is escaped', () => {
  const s = row({ label: 'SAM (a|b)', runs: 3, failed: 1, incomplete: 1, testAccuracy: { n: 1, mean: 0.9, std: null } });
  assert.match(formatMarkdownTable([s]), /\| SAM \(a\\\|b\) \| 3 \(1 failed, 1 unfinished\) \| 0 \| 90\.00 \|/);
});

test('CSV: raw numbers, empty cells and n = 0 for a missing statistic, quoting where needed', () => {
  const quoted = row({ label: 'SAM (rho=0.05, "x")' });
  const csv = toCsv([sgd, samMeasured, quoted]).trim().split('\n');
  assert.equal(csv.length, 4);
  const header = csv[0]!.split(',');
  assert.deepEqual(header.slice(0, 10), [
    'dataset',
    'model',
    'optimizer',
    'label',
    'runs',
    'complete',
    'diverged',
    'failed',
    'incomplete',
    'seeds',
  ]);
  assert.equal(header.length, 10 + 7 * 3);
  const cell = (line: string, name: string): string => line.split(',')[header.indexOf(name)]!;
  assert.equal(cell(csv[1]!, 'seeds'), '0 1 2 3');
  assert.equal(Number(cell(csv[1]!, 'test_accuracy_mean')), 0.87);
  assert.equal(cell(csv[1]!, 'test_accuracy_n'), '3');
  assert.equal(cell(csv[1]!, 'sigma_max_mean'), '');
  assert.equal(cell(csv[1]!, 'sigma_max_n'), '0');
  assert.equal(Number(cell(csv[2]!, 'sigma_max_mean')), 12);
  assert.equal(cell(csv[2]!, 'test_loss_mean'), '', 'a null mean is an empty cell');
  // RFC 4180: a cell with a comma or quote is quoted, inner quotes doubled.
  assert.ok(csv[3]!.includes(',"SAM (rho=0.05, ""x"")",'), csv[3]);
});

test('JSON: the summary objects, pretty-printed, round-trip', () => {
  const text = toJson([sgd, samMeasured]);
  assert.ok(text.endsWith('}\n]\n'));
  assert.deepEqual(JSON.parse(text), [sgd, samMeasured]);
});
