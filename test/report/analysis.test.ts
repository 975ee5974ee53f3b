/**
 * The analysis plots and the report's Analysis section: the plot specs draw the analysis numbers
 * (means and CI bounds per rho, grid cells, curve and target), they compile and render, and
 * writeReport adds the section, its tables and three plot files for a sweep, and nothing for runs
 * that are not a sweep.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { after, describe, test } from 'node:test';
import { analyzeRecords } from '../../src/analysis/index.js';
import { ANALYSIS_PLOT_IDS, planAnalysisPlots, vegaLiteToSvg, writeReport, type AnalysisPlot } from '../../src/report/index.js';
import { sweepRecords, writeRecordDir } from '../analysis/fixtures.js';
import { syntheticRecord, writeRecords } from './fixtures.js';
import { assertPlotFiles, inspectPage } from './helpers.js';

const tmp = mkdtempSync(join(tmpdir(), 'flatminima-report-analysis-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

type Row = Record<string, unknown>;
const group = analyzeRecords(sweepRecords()).groups[0];
const plans = planAnalysisPlots(group);
const planned = (id: string): AnalysisPlot => {
  const p = plans.find((q) => q.id === id);
  assert.ok(p && !('skipped' in p), `plot ${id} planned`);
  return p as AnalysisPlot;
};

describe('analysis plots', () => {
  test('sensitivity: one line per method with a rho sweep, mean and CI per rho, SGD as a reference', () => {
    const spec = planned('sensitivity').spec as unknown as {
      hconcat: Array<{ data: { values: Row[] }; layer: Array<{ data?: { values: Row[] } }> }>;
    };
    assert.equal(spec.hconcat.length, 2, 'validation and test accuracy panels');
    const rows = spec.hconcat[0].data.values;
    assert.deepEqual([...new Set(rows.map((r) => r.optimizer))], ['SAM', 'GSAM', 'Adaptive-GSAM']);
    const agsam = group.sensitivity.find((s) => s.method === 'agsam')!.metrics[0].rhoCurve!;
    const drawn = rows.filter((r) => r.optimizer === 'Adaptive-GSAM');
    assert.deepEqual(
      drawn.map((r) => r.x),
      [0.02, 0.05, 0.2],
    );
    drawn.forEach((r, i) => {
      assert.equal(r.mean, agsam[i].estimate!.mean);
      assert.equal(r.lo, agsam[i].estimate!.ci!.lower);
      assert.equal(r.hi, agsam[i].estimate!.ci!.upper);
    });
    const ref = spec.hconcat[1].layer[2].data!.values;
    assert.deepEqual(ref, [{ optimizer: 'SGD', mean: group.selection[0].testAccuracy!.mean }]);
  });

  test('grid: a cell per (rho, alpha) of the methods that sweep both, diverged cells marked', () => {
    const rows = (planned('sensitivity-grid').spec as unknown as { data: { values: Row[] } }).data.values;
    assert.deepEqual([...new Set(rows.map((r) => r.optimizer))], ['GSAM', 'Adaptive-GSAM']);
    assert.equal(rows.length, 12);
    const marked = rows.filter((r) => String(r.label).endsWith('*'));
    assert.deepEqual(
      marked.map((r) => [r.optimizer, r.rho, r.alpha]),
      [['GSAM', '0.2', '0.3']],
    );
    const cell = group.sensitivity
      .find((s) => s.method === 'agsam')!
      .metrics[0].grid!.cells.find((c) => c.rho === 0.05 && c.alpha === 0.1)!;
    const row = rows.find((r) => r.optimizer === 'Adaptive-GSAM' && r.rho === '0.05' && r.alpha === '0.1')!;
    assert.equal(row.mean, cell.estimate.mean);
    assert.equal(row.label, (cell.estimate.mean! * 100).toFixed(1));
  });

  test('convergence: the mean curve per method and the target line', () => {
    const spec = planned('convergence').spec as unknown as { data: { values: Row[] }; layer: Array<{ data?: { values: Row[] } }> };
    const rows = spec.data.values;
    assert.equal(rows.filter((r) => r.optimizer === 'SAM').length, 4, 'four epochs');
    assert.deepEqual(spec.layer[2].data!.values, [{ target: group.convergence.target }]);
  });

  test('every analysis plot compiles and renders', async () => {
    for (const p of plans) {
      assert.ok(!('skipped' in p), p.id);
      const svg = await vegaLiteToSvg((p as AnalysisPlot).spec);
      assert.match(svg, /^<svg/);
    }
  });

  test('a group without a rho sweep skips the sensitivity plots with a reason', () => {
    const flat = analyzeRecords(sweepRecords().filter((r) => r.spec.optimizer.rho === 0.05 || r.spec.optimizer.name === 'sgd'));
    const ps = planAnalysisPlots(flat.groups[0]);
    assert.deepEqual(
      ps.map((p) => ('skipped' in p ? `${p.id}: ${p.skipped}` : p.id)),
      ['sensitivity: no method has points at more than one rho', 'sensitivity-grid: no method varies both rho and alpha', 'convergence'],
    );
  });
});

describe('writeReport with an Analysis section', () => {
  test('a sweep gets the section, its tables and the three plots', async () => {
    const dir = join(tmp, 'sweep');
    writeRecordDir(dir, sweepRecords());
    const result = await writeReport(dir);
    const names = result.files.map((f) => basename(f));
    for (const id of ANALYSIS_PLOT_IDS) {
      assert.ok(names.includes(`moons-mlp-${id}.svg`) && names.includes(`moons-mlp-${id}.png`), id);
      assertPlotFiles(join(dir, `moons-mlp-${id}.svg`), join(dir, `moons-mlp-${id}.png`), 2);
    }
    const html = readFileSync(result.htmlPath, 'utf8');
    assert.match(html, /<section class="analysis" id="analysis-moons-mlp">/);
    if (!existsSync('/usr/bin/chromium')) {
      assert.ok(!process.env.CI, '/usr/bin/chromium is required in CI');
      return;
    }
    const page = await inspectPage(
      result.htmlPath,
      result.files.filter((f) => f.endsWith('.svg')),
    );
    assert.deepEqual(page.consoleErrors, []);
    assert.deepEqual(page.externalRequests, []);
    for (const id of ANALYSIS_PLOT_IDS) assert.ok(page.figures.includes(id), `figure ${id}`);
    assert.equal(page.tableRows['analysis-selection-moons-mlp'], 4, 'one row per method');
    assert.equal(page.tableRows['analysis-comparisons-moons-mlp'], 6, 'one row per pair');
    assert.equal(page.tableRows['analysis-sensitivity-moons-mlp'], 6, 'three methods x two metrics');
    assert.equal(page.tableRows['analysis-convergence-moons-mlp'], 4);
    assert.equal(page.tableRows['analysis-points-moons-mlp'], 16);
  });

  test('runs without a validation split: the section says why instead of failing the report', async () => {
    const dir = join(tmp, 'noval');
    const recs = sweepRecords().map((r) => ({
      ...r,
      final: r.final && { ...r.final, validationAccuracy: null, validationLoss: null },
      epochs: r.epochs.map((e) => ({ ...e, validationAccuracy: null, validationLoss: null })),
    }));
    writeRecordDir(dir, recs);
    const result = await writeReport(dir);
    assert.match(
      readFileSync(result.htmlPath, 'utf8'),
      /<p class="warning">Not computed: moons \(MLP\): the runs have no validation split/,
    );
    assert.ok(!result.files.some((f) => f.includes('sensitivity')));
  });

  test('runs that are not a sweep get no section, unless analysis options are given', async () => {
    const dir = join(tmp, 'flat');
    writeRecords(dir, [syntheticRecord('sgd', 0), syntheticRecord('sgd', 1), syntheticRecord('sam', 0), syntheticRecord('sam', 1)]);
    const plain = await writeReport(dir);
    assert.ok(!readFileSync(plain.htmlPath, 'utf8').includes('class="analysis"'));
    assert.ok(!plain.files.some((f) => /sensitivity|convergence/.test(f)));
    const asked = await writeReport(dir, { analysis: { selectBy: 'trainAccuracy' } });
    assert.match(readFileSync(asked.htmlPath, 'utf8'), /id="analysis-selection-moons-mlp"/);
    await assert.rejects(writeReport(dir, { analysis: { selectBy: 'testAccuracy' } }), RangeError);
  });
});
