/**
 * The plot specs: the numbers they draw (mean and min-max over seeds, cell edges, error bars) match
 * hand-computed values, plots without data are skipped with a reason, and every planned spec
 * compiles and renders.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { RunRecord } from '../../src/experiments/schema.js';
import { groupRecords, isSkipped, planPlots, vegaLiteToSvg, type PlannedPlot, type PlotId } from '../../src/report/index.js';
import { syntheticRecord } from './fixtures.js';

type Row = Record<string, unknown>;

function plot(records: RunRecord[], id: PlotId): PlannedPlot {
  const [group] = groupRecords(records);
  const p = planPlots(group).find((q) => q.id === id);
  assert.ok(p && !isSkipped(p), `plot ${id} planned`);
  return p;
}

/** Inline data values of a spec or of its n-th hconcat panel. */
function values(spec: unknown, panel?: number): Row[] {
  const s = spec as { data?: { values: Row[] }; hconcat?: Array<{ data: { values: Row[] } }> };
  return panel === undefined ? s.data!.values : s.hconcat![panel].data.values;
}

function withEpochAccuracies(r: RunRecord, accs: number[]): RunRecord {
  return { ...r, epochs: r.epochs.slice(0, accs.length).map((e, i) => ({ ...e, testAccuracy: accs[i] })) };
}

describe('planPlots', () => {
  test('curves: mean and min-max over seeds per epoch, non-finite epochs dropped', () => {
    const a = withEpochAccuracies(syntheticRecord('sam', 0), [0.5, 0.7, 0.9]);
    const b = withEpochAccuracies(syntheticRecord('sam', 1), [0.6, 0.8, Number.NaN]);
    const rows = values(plot([a, b], 'curves').spec, 0);
    assert.deepEqual(
      rows.map((r) => [r.optimizer, r.x, r.lo, r.hi]),
      [
        ['SAM', 1, 0.5, 0.6],
        ['SAM', 2, 0.7, 0.8],
        ['SAM', 3, 0.9, 0.9],
      ],
    );
    assert.ok(Math.abs((rows[0].mean as number) - 0.55) < 1e-12);
    assert.ok(Math.abs((rows[1].mean as number) - 0.75) < 1e-12);
    assert.equal(rows[2].mean, 0.9);
  });

  test('surrogate gap: only optimisers that have one', () => {
    const rows = values(plot([syntheticRecord('sgd', 0), syntheticRecord('gsam', 0)], 'surrogate-gap').spec);
    assert.deepEqual([...new Set(rows.map((r) => r.optimizer))], ['GSAM']);
  });

  test('decision regions: cells centred on the grid with edges at the midpoints, points on top, first seed per optimiser', () => {
    const r0 = syntheticRecord('sam', 0, {
      decisionGrid: {
        xs: [0, 1, 3],
        ys: [10, 20],
        probs: [
          [0.1, 0.2, 0.3],
          [0.4, 0.5, 0.6],
        ],
        points: [[1, 15, 1]],
      },
    });
    const r1 = syntheticRecord('sam', 1);
    const rows = values(plot([r1, r0], 'decision-regions').spec);
    const cells = rows.filter((r) => r.kind === 'cell');
    assert.equal(cells.length, 6, 'only seed 0 is drawn');
    const first = cells[0];
    // x edges: -0.5 | 0.5 | 2 | 4; y edges 5 | 15 | 25; each cell overlaps its upper neighbours by 3 %.
    assert.deepEqual([first.x, first.y, first.v], [-0.5, 5, 0.1]);
    assert.ok(Math.abs((first.x2 as number) - (0.5 + 0.03)) < 1e-12);
    assert.ok(Math.abs((first.y2 as number) - (15 + 0.3)) < 1e-12);
    const last = cells[5];
    assert.deepEqual([last.x, last.x2, last.y, last.y2, last.v], [2, 4, 15, 25, 0.6]);
    assert.deepEqual(
      rows.filter((r) => r.kind === 'point').map((r) => [r.x, r.y, r.cls]),
      [[1, 15, 'class 1']],
    );
  });

  test('landscape 2-D: losses[i][j] is drawn at (alphas[i], betas[j])', () => {
    const r = syntheticRecord('sam', 0);
    r.sharpness = {
      ...r.sharpness!,
      landscape2D: {
        alphas: [-1, 1],
        betas: [-2, 0, 2],
        losses: [
          [1, 2, 3],
          [4, 5, 6],
        ],
      },
    };
    const cells = values(plot([r], 'landscape-2d').spec);
    const at = (a: number, b: number): unknown =>
      cells.find((c) => (c.x as number) < a && a < (c.x2 as number) && (c.y as number) < b && b < (c.y2 as number))?.v;
    assert.equal(at(-1, -2), 1);
    assert.equal(at(-1, 2), 3);
    assert.equal(at(1, 0), 5);
    assert.equal(at(1, 2), 6);
  });

  test('final bars: mean ± sample std over complete runs', () => {
    const recs = [0.8, 0.9].map((acc, seed) => {
      const r = syntheticRecord('gsam', seed);
      return { ...r, final: { ...r.final!, testAccuracy: acc } };
    });
    const rows = values(plot(recs, 'final-bars').spec, 0);
    assert.equal(rows.length, 1);
    const std = Math.sqrt(((0.8 - 0.85) ** 2 + (0.9 - 0.85) ** 2) / 1);
    assert.ok(Math.abs((rows[0].mean as number) - 0.85) < 1e-12);
    assert.ok(Math.abs((rows[0].hi as number) - (0.85 + std)) < 1e-12);
    assert.ok(Math.abs((rows[0].lo as number) - (0.85 - std)) < 1e-12);
  });

  test('skips what the records lack, with a reason', () => {
    const r = syntheticRecord('sgd', 0, { sharpness: null, decisionGrid: null });
    const plans = planPlots(groupRecords([r])[0]);
    const skipped = plans.filter(isSkipped).map((p) => p.id);
    assert.deepEqual(skipped, [
      'surrogate-gap',
      'decision-regions',
      'landscape-1d',
      'landscape-2d',
      'spectral-density',
      'top-eigenvalues',
      'layer-sharpness',
    ]);
    for (const p of plans.filter(isSkipped)) assert.ok(p.skipped.length > 10);
  });

  test('unfinished runs are not plotted', () => {
    const groups = groupRecords([syntheticRecord('sam', 0, { status: 'running' })]);
    assert.equal(groups[0].records.length, 0);
    assert.equal(groups[0].all.length, 1);
    assert.ok(planPlots(groups[0]).every(isSkipped));
  });

  test('every planned spec compiles and renders to SVG', async () => {
    const recs = (['sgd', 'asam'] as const).flatMap((o) => [0, 1].map((s) => syntheticRecord(o, s)));
    for (const p of planPlots(groupRecords(recs)[0])) {
      assert.ok(!isSkipped(p), `${p.id} planned`);
      const svg = await vegaLiteToSvg(p.spec);
      assert.match(svg, /^<svg /);
    }
  });
});
