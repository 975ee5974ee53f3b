/**
 * writeReport end to end: from a small REAL results directory (2 optimisers x 2 seeds of tiny moons
 * runs through runSpec) and from synthetic records that carry every kind of data (landscapes too),
 * every plot is written as a valid SVG and a PNG of the expected size, and the page opens in
 * headless Chromium without console errors, self-contained, with all plots and tables in the DOM.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { runSpec } from '../../src/experiments/runner.js';
import type { RunRecord, RunSpec } from '../../src/experiments/schema.js';
import { PLOT_IDS, optimizerColor, writeReport, type WriteReportResult } from '../../src/report/index.js';
import { syntheticRecord, writeRecords } from './fixtures.js';
import { assertPlotFiles, inspectPage } from './helpers.js';

const tmp = mkdtempSync(join(tmpdir(), 'flatminima-report-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

function tinyMoons(optimizer: RunSpec['optimizer'], seed: number): RunSpec {
  return {
    dataset: { name: 'moons', n: 240, noise: 0.2 },
    model: 'mlp',
    optimizer,
    base: { name: 'sgd', learningRate: 0.2 },
    epochs: 3,
    batchSize: 32,
    seed,
    measureExamples: 48,
  };
}

/** The plot ids the records can give (landscapes and the spectrum only when sharpness was measured with them). */
function expectedPlots(records: RunRecord[]): string[] {
  const done = records.filter((r) => r.status === 'complete');
  return PLOT_IDS.filter((id) => {
    if (id === 'landscape-1d') return done.some((r) => r.sharpness?.landscape1D);
    if (id === 'landscape-2d') return done.some((r) => r.sharpness?.landscape2D);
    if (id === 'decision-regions') return records.some((r) => r.decisionGrid);
    if (id === 'surrogate-gap') return records.some((r) => r.epochs.some((e) => e.surrogateGap !== null));
    if (id === 'spectral-density') return done.some((r) => r.sharpness?.density);
    if (id === 'top-eigenvalues') return done.some((r) => r.sharpness?.topEigenvalues);
    if (id === 'layer-sharpness') return done.some((r) => r.sharpness?.layers);
    return true;
  });
}

async function checkReport(result: WriteReportResult, outDir: string, records: RunRecord[], group: string): Promise<void> {
  const expected = expectedPlots(records);
  assert.equal(result.htmlPath, join(outDir, 'report.html'));
  assert.deepEqual(
    result.files.map((f) => basename(f)),
    expected.flatMap((id) => [`${group}-${id}.svg`, `${group}-${id}.png`]),
  );
  for (const id of expected) assertPlotFiles(join(outDir, `${group}-${id}.svg`), join(outDir, `${group}-${id}.png`), 2);

  const svgFiles = result.files.filter((f) => f.endsWith('.svg'));
  if (!existsSync('/usr/bin/chromium')) {
    // The browser checks need Debian's chromium (`apt-get install -y chromium`); CI installs it.
    assert.ok(!process.env.CI, '/usr/bin/chromium is required in CI (.ci/run installs it)');
    return;
  }
  const page = await inspectPage(result.htmlPath, svgFiles);
  assert.deepEqual(page.consoleErrors, []);
  assert.deepEqual(page.externalRequests, [], 'the page loads nothing from outside');
  assert.deepEqual(page.svgParseErrors, []);
  assert.deepEqual(page.figures, expected, 'one inline SVG figure per plot, in order');
  assert.deepEqual(
    page.skipped,
    PLOT_IDS.filter((id) => !expected.includes(id)),
    'a note for every plot not drawn',
  );
  for (const s of page.inlineSvgs) {
    assert.equal(s.tag.toLowerCase(), 'svg');
    assert.ok(Number(s.width) > 0 && Number(s.height) > 0);
  }
  const optimizers = new Set(records.map((r) => r.spec.optimizer.name));
  assert.equal(page.tableRows[`summary-${group}`], optimizers.size, 'summary table: one row per optimiser');
  assert.equal(page.tableRows.runs, records.length, 'runs table: one row per run');
  assert.ok((page.tableRows.versions ?? 0) > 0, 'versions table filled');

  // Each optimiser keeps its colour across plots: lines in the curves, bars in the bar chart.
  const curves = readFileSync(join(outDir, `${group}-curves.svg`), 'utf8');
  const bars = readFileSync(join(outDir, `${group}-final-bars.svg`), 'utf8');
  for (const name of optimizers) {
    assert.ok(curves.includes(`stroke="${optimizerColor(name)}"`), `${name} line colour in curves`);
    // Bars average complete runs only: an optimiser whose every run diverged has no bar.
    const hasBar = records.some((r) => r.spec.optimizer.name === name && r.status === 'complete');
    assert.equal(bars.includes(`fill="${optimizerColor(name)}"`), hasBar, `${name} bar colour`);
  }
}

describe('writeReport on a real results directory (2 optimisers x 2 seeds, tiny moons)', () => {
  const resultsDir = join(tmp, 'real');
  const records: RunRecord[] = [];

  before(async () => {
    const tensorsBefore = tf.memory().numTensors;
    for (const optimizer of [{ name: 'sgd' as const }, { name: 'sam' as const, rho: 0.05 }]) {
      for (const seed of [0, 1]) records.push(await runSpec(tinyMoons(optimizer, seed), { resultsDir, backend: 'cpu', saveModel: false }));
    }
    assert.equal(tf.memory().numTensors, tensorsBefore, 'training runs leak no tensors');
  });

  test('writes every plot the records can give, as SVG + PNG, into resultsDir by default, and a page that opens cleanly', async () => {
    assert.deepEqual(
      records.map((r) => r.status),
      ['complete', 'complete', 'complete', 'complete'],
    );
    const result = await writeReport(resultsDir);
    await checkReport(result, resultsDir, records, 'moons-mlp');
    const html = readFileSync(result.htmlPath, 'utf8');
    for (const r of records) assert.ok(html.includes(r.runId), `page names run ${r.runId}`);
    assert.ok(html.includes(records[0].backend), 'page names the backend');
    assert.ok(!/<script\b|<link\b|\ssrc="http/i.test(html), 'no external scripts, styles or images');
  });
});

describe('writeReport on synthetic records with every kind of data', () => {
  const resultsDir = join(tmp, 'synthetic');
  const outDir = join(tmp, 'synthetic-out');
  const records = (['sgd', 'sam', 'gsam', 'agsam'] as const).flatMap((o) => [0, 1].map((s) => syntheticRecord(o, s)));
  records.push(
    syntheticRecord('asam', 0, {
      runId: 'moons-mlp-asam-seed0-diverged',
      status: 'diverged',
      final: null,
      sharpness: null,
      decisionGrid: null,
      divergence: { epoch: 2, step: 5, message: 'non-finite loss NaN' },
    }),
  );
  writeRecords(resultsDir, records);

  test('every plot, the diverged run listed, outDir created', async () => {
    const result = await writeReport(resultsDir, { outDir });
    assert.deepEqual(expectedPlots(records), [...PLOT_IDS]);
    await checkReport(result, outDir, records, 'moons-mlp');
    const html = readFileSync(result.htmlPath, 'utf8');
    assert.match(html, /<ul id="diverged">[\s\S]*moons-mlp-asam-seed0-diverged[\s\S]*epoch 2, step 5: non-finite loss NaN/);
    for (const label of ['SGD', 'SAM', 'ASAM', 'GSAM', 'Adaptive-GSAM'])
      assert.ok(html.includes(`${label}</td>`), `summary names ${label}`);
  });

  test('records without sharpness or decision grids: those plots are skipped with a note, the rest drawn', async () => {
    const dir = join(tmp, 'bare');
    const bare = [0, 1].map((s) => syntheticRecord('sgd', s, { sharpness: null, decisionGrid: null }));
    writeRecords(dir, bare);
    const result = await writeReport(dir);
    assert.deepEqual(
      result.files.map((f) => basename(f)),
      ['moons-mlp-curves.svg', 'moons-mlp-curves.png', 'moons-mlp-final-bars.svg', 'moons-mlp-final-bars.png'],
    );
    const html = readFileSync(result.htmlPath, 'utf8');
    for (const id of ['surrogate-gap', 'decision-regions', 'landscape-1d', 'landscape-2d']) {
      assert.match(html, new RegExp(`class="skipped plot-skipped" id="plot-moons-mlp-${id}" data-plot-id="${id}">Not drawn: [^<]+`));
    }
  });

  test('mixed data sets get one section and one set of files each', async () => {
    const dir = join(tmp, 'mixed');
    const mnist = syntheticRecord('sam', 0, { runId: 'mnist-cnn-sam-seed0-synthetic', decisionGrid: null });
    mnist.spec = { ...mnist.spec, dataset: { name: 'mnist', n: 100 }, model: 'cnn' };
    writeRecords(dir, [syntheticRecord('sam', 0), mnist]);
    const result = await writeReport(dir);
    const names = result.files.map((f) => basename(f));
    assert.ok(names.includes('moons-mlp-decision-regions.svg'));
    assert.ok(names.includes('mnist-cnn-curves.svg'));
    assert.ok(!names.includes('mnist-cnn-decision-regions.svg'));
    const html = readFileSync(result.htmlPath, 'utf8');
    assert.ok(html.includes('id="group-moons-mlp"') && html.includes('id="group-mnist-cnn"'));
  });
});

describe('writeReport with one optimiser at two settings', () => {
  test('the table tells the variants apart and the page warns that the plots pool them', async () => {
    const dir = join(tmp, 'variants');
    const a = syntheticRecord('sam', 0);
    const b = syntheticRecord('sam', 1, { runId: 'moons-mlp-sam-seed1-rho02' });
    b.spec = { ...b.spec, optimizer: { name: 'sam', rho: 0.2 } };
    writeRecords(dir, [a, b]);
    const html = readFileSync((await writeReport(dir)).htmlPath, 'utf8');
    assert.match(html, /<p class="warning">Runs of one optimiser in this group differ in settings other than the seed/);
    assert.ok(html.includes('SAM (rho=0.05)</td>') && html.includes('SAM (rho=0.2)</td>'), 'variant labels in the summary');
  });
});

describe('writeReport rejects bad input', () => {
  test('missing results directory names resultsDir', async () => {
    await assert.rejects(writeReport(join(tmp, 'nope')), /resultsDir must be an existing directory/);
  });
  test('a directory without records', async () => {
    const dir = join(tmp, 'empty');
    mkdirSync(dir, { recursive: true });
    await assert.rejects(writeReport(dir), /resultsDir holds no <run>\/record\.json/);
  });
  test('an invalid record names its file and field', async () => {
    const dir = join(tmp, 'invalid');
    const r = syntheticRecord('sam', 0);
    mkdirSync(join(dir, r.runId), { recursive: true });
    writeFileSync(join(dir, r.runId, 'record.json'), JSON.stringify({ ...r, status: 'finished' }));
    await assert.rejects(writeReport(dir), (e: Error) => e.message.includes('record.json') && e.message.includes('status'));
    assert.ok(!existsSync(join(dir, 'report.html')));
  });
  test('empty outDir string', async () => {
    await assert.rejects(writeReport(tmp, { outDir: '' }), /outDir must be a non-empty path string/);
  });
});
