/**
 * The spectrum plots: what they draw matches the records (the density of each optimiser's first-seed
 * run with the log-axis floor, every run's top-k as points, per-layer means and sample standard
 * deviations over seeds), plots without data are skipped with a reason, and the specs render.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { RunRecord } from '../../src/experiments/schema.js';
import { groupRecords, isSkipped, planPlots, vegaLiteToSvg, type PlannedPlot, type PlotId } from '../../src/report/index.js';
import { DENSITY_FLOOR, layerLabel } from '../../src/report/spectrumCharts.js';
import { syntheticRecord } from './fixtures.js';

type Row = Record<string, unknown>;

function plot(records: RunRecord[], id: PlotId): PlannedPlot {
  const p = planPlots(groupRecords(records)[0]).find((q) => q.id === id);
  assert.ok(p && !isSkipped(p), `plot ${id} planned`);
  return p;
}

function values(spec: unknown, panel?: number): Row[] {
  const s = spec as { data?: { values: Row[] }; hconcat?: Array<{ data: { values: Row[] } }> };
  return panel === undefined ? s.data!.values : s.hconcat![panel].data.values;
}

function withSharpness(r: RunRecord, patch: Partial<NonNullable<RunRecord['sharpness']>>): RunRecord {
  return { ...r, sharpness: { ...r.sharpness!, ...patch } };
}

describe('spectrum plots', () => {
  test('density: the first seed of each optimiser, values below the floor put under the log axis', () => {
    const sgd0 = withSharpness(syntheticRecord('sgd', 0), { density: { grid: [0, 1, 2], density: [4, 0, 1e-9], sigma: 0.1, runs: [] } });
    const sgd1 = withSharpness(syntheticRecord('sgd', 1), { density: { grid: [5, 6], density: [100, 100], sigma: 0.1, runs: [] } });
    const sam0 = withSharpness(syntheticRecord('sam', 0), { density: { grid: [0, 1], density: [2, 1], sigma: 0.2, runs: [] } });
    const p = plot([sgd1, sam0, sgd0], 'spectral-density');
    const rows = values(p.spec);
    const floor = 4 * DENSITY_FLOOR; // the highest plotted peak is SGD seed 0's 4; seed 1 is not plotted
    assert.deepEqual(
      rows.map((r) => [r.optimizer, r.x, r.y]),
      [
        ['SGD', 0, 4],
        ['SGD', 1, floor / 10],
        ['SGD', 2, floor / 10],
        ['SAM', 0, 2],
        ['SAM', 1, 1],
      ],
    );
    const enc = (p.spec as unknown as { spec: { encoding: { y: { scale: { type: string; domain: number[] } } } } }).spec.encoding.y.scale;
    assert.equal(enc.type, 'log');
    assert.deepEqual(enc.domain, [floor, 8]);
    assert.match(p.caption, /seed 0 \(SGD\), 0 \(SAM\)/);
  });

  test('top eigenvalues: one point per run and rank', () => {
    const a = withSharpness(syntheticRecord('gsam', 0), { topEigenvalues: [3, 2] });
    const b = withSharpness(syntheticRecord('gsam', 1), { topEigenvalues: [4, Number.NaN] });
    const rows = values(plot([a, b], 'top-eigenvalues').spec);
    assert.deepEqual(
      rows.map((r) => [r.optimizer, r.seed, r.rank, r.value]),
      [
        ['GSAM', 0, 1, 3],
        ['GSAM', 0, 2, 2],
        ['GSAM', 1, 1, 4],
      ],
    );
  });

  test('layers: mean ± sample std over seeds per variable, labelled by position, type, role and shape', () => {
    const layer = (name: string, shape: number[], top: number, trace: number) => ({
      name,
      shape,
      size: shape.reduce((x, y) => x * y, 1),
      topEigenvalue: top,
      trace,
    });
    const a = withSharpness(syntheticRecord('sam', 0), {
      layers: [layer('dense_Dense1/kernel', [2, 3], 1, 10), layer('dense_Dense1/bias', [3], 5, 6)],
    });
    const b = withSharpness(syntheticRecord('sam', 1), {
      layers: [layer('dense_Dense7/kernel', [2, 3], 3, 14), layer('dense_Dense7/bias', [3], 5, 6)],
    });
    const p = plot([a, b], 'layer-sharpness');
    const tops = values(p.spec, 0);
    const traces = values(p.spec, 1);
    assert.deepEqual(
      tops.map((r) => [r.layer, r.mean, r.runs]),
      [
        ['1. dense kernel 2×3', 2, 2],
        ['2. dense bias 3', 5, 2],
      ],
    );
    const std = Math.SQRT2; // sample std of {1, 3}
    assert.ok(Math.abs((tops[0].hi as number) - (2 + std)) < 1e-12 && Math.abs((tops[0].lo as number) - (2 - std)) < 1e-12);
    assert.equal(tops[1].hi, 5);
    assert.deepEqual(
      traces.map((r) => r.mean),
      [12, 6],
    );
    assert.equal(layerLabel(0, 'conv2d_Conv2D12/kernel', [3, 3, 1, 32]), '1. conv2d kernel 3×3×1×32');
  });

  test('skipped with a reason when no complete run has the data', () => {
    const bare = syntheticRecord('sam', 0);
    const {
      topEigenvalues: _t,
      topEigenvaluesConverged: _c,
      topEigenvaluesIterations: _i,
      density: _d,
      layers: _l,
      ...old
    } = bare.sharpness!;
    const plans = planPlots(groupRecords([{ ...bare, sharpness: old }])[0]);
    for (const id of ['spectral-density', 'top-eigenvalues', 'layer-sharpness']) {
      const p = plans.find((q) => q.id === id);
      assert.ok(p && isSkipped(p), `${id} skipped`);
      assert.match(p.skipped, /--measure-(density|top-k|layers)/);
    }
    const diverged = syntheticRecord('sam', 1, { status: 'diverged' });
    assert.ok(
      planPlots(groupRecords([diverged])[0])
        .filter((q) => q.id.startsWith('spectral'))
        .every(isSkipped),
      'diverged runs are not drawn',
    );
  });

  test('the spectrum specs compile and render to SVG', async () => {
    const recs = (['sgd', 'agsam'] as const).flatMap((o) => [0, 1].map((s) => syntheticRecord(o, s)));
    for (const id of ['spectral-density', 'top-eigenvalues', 'layer-sharpness'] as const) {
      const svg = await vegaLiteToSvg(plot(recs, id).spec);
      assert.match(svg, /^<svg /);
    }
  });
});
