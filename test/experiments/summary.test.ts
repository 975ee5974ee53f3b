import { test } from 'node:test';
import assert from 'node:assert/strict';
import { summarize, stat } from '../../src/experiments/summary.js';
import { RunRecordSchema, type RunRecord, type RunSpec } from '../../src/experiments/schema.js';

function spec(optimizer: RunSpec['optimizer'], seed: number, dataset: RunSpec['dataset'] = { name: 'moons', n: 100 }): RunSpec {
  return {
    dataset,
    model: dataset.name === 'moons' ? 'mlp' : 'cnn',
    optimizer,
    base: { name: 'sgd', learningRate: 0.1 },
    epochs: 2,
    batchSize: 8,
    seed,
  };
}

function record(
  s: RunSpec,
  final: { testAccuracy: number; testLoss: number; trainLoss: number } | null,
  opts: { status?: RunRecord['status']; sharpness?: { sigmaMax: number; trace: number; surrogateGap: number } } = {},
): RunRecord {
  const r: RunRecord = {
    runId: `${s.dataset.name}-${s.optimizer.name}-seed${s.seed}-${JSON.stringify(s.optimizer).length}`,
    spec: s,
    status: opts.status ?? 'complete',
    epochs: [],
    final: final && { ...final, trainAccuracy: 0.5 },
    sharpness: opts.sharpness
      ? {
          examples: 10,
          sigmaMaxIterations: 5,
          hessianMethod: 'double-backprop',
          rho: 0.05,
          lemma3SigmaMax: 1,
          ...opts.sharpness,
        }
      : null,
    decisionGrid: null,
    divergence: opts.status === 'diverged' ? { epoch: 1, step: 3, message: 'loss is NaN' } : null,
    backend: 'cpu',
    threads: null,
    versions: {},
    startedAt: '2026-01-01T00:00:00Z',
    finishedAt: null,
    wallSeconds: 1,
    modelDir: null,
  };
  return RunRecordSchema.parse(r);
}

const close = (a: number | null, b: number, tol = 1e-12): void => {
  assert.ok(a !== null && Math.abs(a - b) <= tol, `expected ${b}, got ${a}`);
};

test('stat: mean and sample standard deviation computed by hand', () => {
  // values 2, 4, 9: mean 5; deviations -3, -1, 4; squares 9 + 1 + 16 = 26; /(3-1) = 13.
  const s = stat([2, 4, 9]);
  assert.equal(s.n, 3);
  close(s.mean, 5);
  close(s.std, Math.sqrt(13));
  assert.deepEqual(stat([]), { n: 0, mean: null, std: null });
  assert.deepEqual(stat([0.25]), { n: 1, mean: 0.25, std: null });
  assert.throws(() => stat([1, NaN]), /values must be finite/);
});

test('summarize: per-method means/stds, method order, diverged runs counted not averaged', () => {
  const recs = [
    record(spec({ name: 'agsam', rho: 0.5, alpha: 0.1 }, 0), { testAccuracy: 0.9, testLoss: 0.2, trainLoss: 0.3 }),
    record(spec({ name: 'agsam', rho: 0.5, alpha: 0.1 }, 1), { testAccuracy: 0.8, testLoss: 0.4, trainLoss: 0.5 }),
    record(spec({ name: 'sgd' }, 0), { testAccuracy: 0.85, testLoss: 0.3, trainLoss: 0.25 }),
    record(spec({ name: 'sgd' }, 1), { testAccuracy: 0.87, testLoss: 0.28, trainLoss: 0.21 }),
    record(spec({ name: 'sgd' }, 2), { testAccuracy: 0.89, testLoss: 0.32, trainLoss: 0.23 }),
    record(spec({ name: 'sgd' }, 3), { testAccuracy: 0.1, testLoss: 99, trainLoss: 99 }, { status: 'diverged' }),
    record(spec({ name: 'gsam', rho: 0.05, alpha: 0.1 }, 0), null, { status: 'diverged' }),
  ];
  const sum = summarize(recs);
  assert.deepEqual(
    sum.map((s) => s.optimizer),
    ['sgd', 'gsam', 'agsam'],
  );
  const [sgd, gsam, agsam] = sum;
  // sgd: completed accuracies 0.85, 0.87, 0.89 -> mean 0.87, std sqrt((0.02² + 0 + 0.02²)/2) = 0.02.
  assert.equal(sgd!.runs, 4);
  assert.equal(sgd!.diverged, 1);
  assert.equal(sgd!.complete, 3);
  assert.deepEqual(sgd!.seeds, [0, 1, 2, 3]);
  assert.equal(sgd!.testAccuracy.n, 3);
  close(sgd!.testAccuracy.mean, 0.87, 1e-12);
  close(sgd!.testAccuracy.std, 0.02, 1e-12);
  // test loss 0.3, 0.28, 0.32 -> mean 0.3, std 0.02; train loss 0.25, 0.21, 0.23 -> 0.23, 0.02.
  close(sgd!.testLoss.mean, 0.3, 1e-12);
  close(sgd!.testLoss.std, 0.02, 1e-12);
  close(sgd!.trainLoss.mean, 0.23, 1e-12);
  close(sgd!.trainLoss.std, 0.02, 1e-12);
  assert.equal(sgd!.sigmaMax, null);
  // agsam: 0.9, 0.8 -> mean 0.85, std sqrt(2 * 0.05²) = 0.0707106...
  close(agsam!.testAccuracy.mean, 0.85, 1e-12);
  close(agsam!.testAccuracy.std, Math.sqrt(0.005), 1e-12);
  assert.equal(agsam!.label, 'Adaptive-GSAM');
  // gsam: the only run diverged: shown with no mean.
  assert.equal(gsam!.runs, 1);
  assert.equal(gsam!.diverged, 1);
  assert.equal(gsam!.testAccuracy.mean, null);
  assert.deepEqual(gsam!.divergedRunIds, [recs[6]!.runId]);
});

test('summarize: sharpness statistics, datasets grouped separately, variants labelled', () => {
  const sh = (sigmaMax: number, trace: number, surrogateGap: number) => ({ sharpness: { sigmaMax, trace, surrogateGap } });
  const mn = { name: 'mnist' as const, n: 500 };
  const recs = [
    record(spec({ name: 'sam', rho: 0.05 }, 0, mn), { testAccuracy: 0.95, testLoss: 0.1, trainLoss: 0.05 }, sh(10, 100, 0.01)),
    record(spec({ name: 'sam', rho: 0.05 }, 1, mn), { testAccuracy: 0.97, testLoss: 0.08, trainLoss: 0.04 }, sh(14, 120, 0.03)),
    record(spec({ name: 'sam', rho: 0.05 }, 0), { testAccuracy: 0.88, testLoss: 0.3, trainLoss: 0.3 }),
    record(spec({ name: 'sam', rho: 0.1 }, 0), { testAccuracy: 0.86, testLoss: 0.35, trainLoss: 0.3 }),
  ];
  const sum = summarize(recs);
  assert.deepEqual(
    sum.map((s) => [s.dataset, s.label]),
    [
      ['moons', 'SAM (rho=0.05)'],
      ['moons', 'SAM (rho=0.1)'],
      ['mnist', 'SAM'],
    ],
  );
  const m = sum[2]!;
  close(m.sigmaMax!.mean, 12);
  close(m.sigmaMax!.std, Math.sqrt(8)); // (2² + 2²)/1
  close(m.trace!.mean, 110);
  close(m.trace!.std, Math.sqrt(200));
  close(m.surrogateGap!.mean, 0.02);
  close(m.surrogateGap!.std, Math.sqrt(0.0002), 1e-12);
});

test('summarize: failed and unfinished runs are counted and shown, not averaged', () => {
  const ok = record(spec({ name: 'sam', rho: 0.05 }, 0), { testAccuracy: 0.9, testLoss: 0.2, trainLoss: 0.2 });
  const failed = { ...record(spec({ name: 'sam', rho: 0.05 }, 1), null, { status: 'running' }), error: 'worker process exited (SIGKILL)' };
  const unfinished = record(
    spec({ name: 'sam', rho: 0.05 }, 2),
    { testAccuracy: 0.5, testLoss: 0.7, trainLoss: 0.7 },
    { status: 'running' },
  );
  const [s] = summarize([ok, failed, unfinished]);
  assert.equal(s!.runs, 3);
  assert.equal(s!.complete, 1);
  assert.equal(s!.failed, 1);
  assert.equal(s!.incomplete, 1);
  assert.deepEqual(s!.testAccuracy, { n: 1, mean: 0.9, std: null });
});

test('summarize: bad input', () => {
  assert.throws(() => summarize('x' as unknown as RunRecord[]), /records must be an array/);
  assert.deepEqual(summarize([]), []);
});
