import * as tf from '@tensorflow/tfjs';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, test } from 'node:test';
import { CHECKPOINT_FILE, loadCheckpoint, saveCheckpoint, type CheckpointData } from '../../src/experiments/checkpoint.js';
import type { CheckpointStore, StoredCheckpoint } from '../../src/experiments/checkpointStore.js';
import { toTensors } from '../../src/data/index.js';
import { MEASURE_RHO } from '../../src/experiments/measurement.js';
import { loadRunData, runSeeds } from '../../src/experiments/runData.js';
import { modelObjective, surrogateGap } from '../../src/sharpness/index.js';
import { loadModel } from '../../src/experiments/modelStore.js';
import { runId, runSpec, YIELD_EVERY_MS, type Progress } from '../../src/experiments/runner.js';
import { RunRecordSchema, type EpochRecord, type RunSpec } from '../../src/experiments/schema.js';
import { readRecords, recordPath } from '../../src/experiments/store.js';
import { tempResults, tinySpec, withoutTimings } from './helpers.js';

before(async () => {
  await tf.setBackend('cpu');
});

async function modelWeights(resultsDir: string, spec: RunSpec): Promise<Float32Array[]> {
  const model = await loadModel(join(resultsDir, runId(spec), 'model'));
  const values = model.getWeights().map((w) => w.dataSync() as Float32Array);
  model.dispose();
  return values;
}

for (const name of ['sgd', 'sam', 'asam', 'gsam', 'agsam', 'looksam', 'msam', 'esam'] as const) {
  test(`${name}: a tiny moons run completes, its record validates, tensors stay flat`, async () => {
    const dir = tempResults();
    const before = tf.memory().numTensors;
    const counts: number[] = [];
    const progress: Progress[] = [];
    const spec = tinySpec({ optimizer: { name }, batchSize: 8 }); // 40 steps per epoch, 80 in all
    const record = await runSpec(spec, {
      resultsDir: dir,
      backend: 'cpu',
      onProgress: (p) => {
        progress.push(p);
        counts.push(tf.memory().numTensors);
      },
    });
    assert.equal(tf.memory().numTensors, before, 'tensors leaked by the run');
    // After the first step (which creates the optimiser slots) the count never moves.
    assert.equal(Math.max(...counts.slice(1)), Math.min(...counts.slice(1)));
    assert.equal(progress.length, 80);
    assert.deepEqual(progress[0], { ...progress[0], epoch: 1, epochs: 2, step: 1, stepsPerEpoch: 40 });
    RunRecordSchema.parse(record);
    assert.equal(record.status, 'complete');
    assert.equal(record.runId, runId(spec));
    assert.equal(record.epochs.length, 2);
    for (const e of record.epochs) {
      assert.ok(Number.isFinite(e.trainLoss) && e.trainLoss > 0);
      assert.ok(e.testAccuracy >= 0 && e.testAccuracy <= 1 && e.trainAccuracy >= 0 && e.trainAccuracy <= 1);
      // MomentumSAM's one pass is at w + e: it records no separate perturbed loss.
      if (name === 'sgd' || name === 'msam') assert.equal(e.perturbedLoss, null);
      else assert.ok(Math.abs((e.perturbedLoss as number) - e.trainLoss - (e.surrogateGap as number)) < 1e-5, 'gap = Lp - L');
    }
    // The epoch's train loss is the mean of the clean step losses reported as progress.
    const meanLoss = progress.slice(0, 40).reduce((s, p) => s + p.loss, 0) / 40;
    assert.ok(Math.abs(meanLoss - record.epochs[0].trainLoss) < 1e-9);
    assert.deepEqual(record.final, {
      trainLoss: record.epochs[1].trainLoss,
      trainAccuracy: record.epochs[1].trainAccuracy,
      testLoss: record.epochs[1].testLoss,
      testAccuracy: record.epochs[1].testAccuracy,
    });
    assert.ok(record.decisionGrid !== null);
    assert.equal(record.decisionGrid.probs.length, 60);
    assert.equal(record.decisionGrid.points.length, 80); // 20 % of 400 test points, all under the cap of 300
    assert.deepEqual(readRecords(dir), [record]);
  });
}

test('the saved model reproduces the final test metrics', async () => {
  const dir = tempResults();
  const spec = tinySpec({ optimizer: { name: 'gsam' } });
  const record = await runSpec(spec, { resultsDir: dir, backend: 'cpu' });
  const model = await loadModel(join(dir, record.runId, record.modelDir as string));
  const grid = record.decisionGrid!;
  // The grid's top-left probability, recomputed from the loaded model.
  const p = tf.tidy(() => (model.predict(tf.tensor2d([[grid.xs[0], grid.ys[0]]])) as tf.Tensor).dataSync()[1]);
  assert.ok(Math.abs(p - grid.probs[0][0]) < 1e-6);
  model.dispose();
});

test('same spec and seed give the same record; another seed a different one', async () => {
  const spec = tinySpec({ optimizer: { name: 'agsam' } });
  const a = await runSpec(spec, { resultsDir: tempResults(), backend: 'cpu' });
  const b = await runSpec(spec, { resultsDir: tempResults(), backend: 'cpu' });
  const c = await runSpec({ ...spec, seed: 1 }, { resultsDir: tempResults(), backend: 'cpu' });
  assert.deepEqual(withoutTimings(a), withoutTimings(b));
  assert.notEqual(a.runId, c.runId);
  assert.notDeepEqual(
    a.epochs.map((e) => e.trainLoss),
    c.epochs.map((e) => e.trainLoss),
  );
});

const resumeCases: { label: string; spec: RunSpec }[] = [
  { label: 'SAM + momentum', spec: tinySpec({ epochs: 3 }) },
  {
    label: 'GSAM + adam, cosine lr, proportional rho',
    spec: tinySpec({
      epochs: 3,
      optimizer: { name: 'gsam', rho: 0.1, rhoSchedule: 'proportional', rhoMin: 0.01 },
      base: { name: 'adam', learningRate: 0.01, schedule: 'cosine' },
    }),
  },
  {
    label: 'SGD + weight decay, step lr',
    spec: tinySpec({
      epochs: 3,
      optimizer: { name: 'sgd' },
      base: { name: 'sgd', learningRate: 0.1, weightDecay: 1e-3, schedule: 'step' },
    }),
  },
  // The variants' state (LookSAM's stored direction mid-cycle, RST's and ESAM's generators, MSAM's
  // momentum) goes through the checkpoint; ESAM with accumulation takes the per-example loss path.
  {
    label: 'LookSAM k 3 + climbProbability 0.7',
    spec: tinySpec({ epochs: 3, optimizer: { name: 'looksam', k: 3, climbProbability: 0.7 } }),
  },
  {
    label: 'MomentumSAM + weight decay',
    spec: tinySpec({ epochs: 3, optimizer: { name: 'msam' }, base: { name: 'momentum', learningRate: 0.05, weightDecay: 1e-3 } }),
  },
  { label: 'ESAM beta 0.5 gamma 0.5, accumulation 2', spec: tinySpec({ epochs: 3, optimizer: { name: 'esam', accumulation: 2 } }) },
];

for (const { label, spec } of resumeCases) {
  test(`${label}: interrupted mid-epoch or at an epoch boundary and resumed, the run ends identical`, async () => {
    const startTensors = tf.memory().numTensors;
    const whole = tempResults();
    const ref = await runSpec(spec, { resultsDir: whole, backend: 'cpu' });
    const refWeights = await modelWeights(whole, spec);
    // (epoch, step) after which to interrupt: mid-epoch 2, and the end of epoch 2 (a boundary).
    for (const [epoch, step] of [
      [2, 3],
      [2, 10],
    ]) {
      const dir = tempResults();
      const ctl = new AbortController();
      const partial = await runSpec(spec, {
        resultsDir: dir,
        backend: 'cpu',
        signal: ctl.signal,
        onProgress: (p) => {
          if (p.epoch === epoch && p.step === step) ctl.abort();
        },
      });
      assert.equal(partial.status, 'running');
      assert.equal(loadCheckpoint(join(dir, partial.runId))?.data.epoch, step === 10 ? 2 : 1);
      const resumed = await runSpec(spec, { resultsDir: dir, backend: 'cpu' });
      assert.deepEqual(withoutTimings(resumed), withoutTimings(ref));
      assert.deepEqual(await modelWeights(dir, spec), refWeights);
    }
    assert.equal(tf.memory().numTensors, startTensors);
  });
}

test('a complete record is returned at once without re-running', async () => {
  const dir = tempResults();
  const spec = tinySpec({ optimizer: { name: 'sgd' } });
  const first = await runSpec(spec, { resultsDir: dir, backend: 'cpu' });
  let steps = 0;
  const again = await runSpec(spec, { resultsDir: dir, backend: 'cpu', onProgress: () => steps++ });
  assert.equal(steps, 0);
  assert.deepEqual(again, first);
});

test('a huge learning rate diverges cleanly: record says where, no throw, no model saved', async () => {
  const dir = tempResults();
  const before = tf.memory().numTensors;
  // With probabilities clipped at 1e-7 a large step only saturates the net; 1e12 overflows it.
  const spec = tinySpec({ epochs: 4, optimizer: { name: 'sam' }, base: { name: 'sgd', learningRate: 1e12 } });
  const record = await runSpec(spec, { resultsDir: dir, backend: 'cpu' });
  assert.equal(tf.memory().numTensors, before);
  assert.equal(record.status, 'diverged');
  assert.ok(record.divergence !== null);
  const { epoch, step, message } = record.divergence;
  assert.match(
    message,
    new RegExp(`^diverged at epoch ${epoch}, step ${step} of 10: (clean loss is (NaN|-?Infinity)|the weights became non-finite)`),
  );
  assert.equal(record.epochs.length, epoch - 1);
  assert.equal(record.modelDir, null);
  assert.deepEqual(JSON.parse(readFileSync(recordPath(dir, record.runId), 'utf8')), record);
  // Running it again returns the diverged record rather than repeating the divergence.
  assert.deepEqual(await runSpec(spec, { resultsDir: dir, backend: 'cpu' }), record);
});

test('divergence after good epochs keeps the last good checkpoint untouched', async () => {
  const dir = tempResults();
  const spec = tinySpec({ epochs: 3, optimizer: { name: 'gsam' } });
  const ctl = new AbortController();
  await runSpec(spec, { resultsDir: dir, backend: 'cpu', signal: ctl.signal, onProgress: (p) => p.epoch === 2 && ctl.abort() });
  const runFolder = join(dir, runId(spec));
  // Engineer the blow-up: scale the checkpointed weights to 1e30 (the next forward pass overflows).
  const ck = loadCheckpoint(runFolder)!.data;
  assert.equal(ck.epoch, 1);
  for (const w of ck.modelWeights) w.data = (w.data as Float32Array).map((v) => (v === 0 ? 1e30 : v * 1e30));
  saveCheckpoint(runFolder, ck);
  const ckBytes = readFileSync(join(runFolder, CHECKPOINT_FILE));
  const record = await runSpec(spec, { resultsDir: dir, backend: 'cpu' });
  assert.equal(record.status, 'diverged');
  assert.deepEqual(record.divergence && [record.divergence.epoch, record.divergence.step], [2, 1]);
  assert.equal(record.epochs.length, 1, 'the good epoch stays in the record');
  assert.match(record.divergence!.message, /the checkpoint of epoch 1 is kept$/);
  assert.deepEqual(readFileSync(join(runFolder, CHECKPOINT_FILE)), ckBytes, 'the last good checkpoint is kept');
});

test('bad options and specs are rejected with clear errors', async () => {
  await assert.rejects(runSpec(tinySpec(), { resultsDir: '' }), /resultsDir/);
  await assert.rejects(
    runSpec(tinySpec(), { resultsDir: tempResults(), checkpointEvery: 0 }),
    /checkpointEvery must be a positive integer/,
  );
  await assert.rejects(runSpec({ ...tinySpec(), epochs: -1 }, { resultsDir: tempResults() }), /epochs:/);
  const dir = tempResults();
  const spec = tinySpec();
  writeFileSync(join(dir, 'x'), '');
  await runSpec(spec, { resultsDir: dir, backend: 'cpu', checkpointEvery: 5 });
  assert.ok(existsSync(join(dir, runId(spec), CHECKPOINT_FILE)), 'the last epoch always gets a checkpoint');
});

test("measureExamples > 0 stores the final model's sharpness in the record", async () => {
  const before = tf.memory().numTensors;
  const spec = tinySpec({ epochs: 1, optimizer: { name: 'sam', rho: 0.1 }, measureExamples: 40 });
  const t0 = performance.now();
  const dir = tempResults();
  const record = await runSpec(spec, { resultsDir: dir, backend: 'cpu' });
  const seconds = (performance.now() - t0) / 1000;
  assert.equal(tf.memory().numTensors, before);
  RunRecordSchema.parse(record);
  const s = record.sharpness;
  assert.ok(s !== null, 'sharpness missing');
  assert.equal(s.examples, 40);
  // Measured at the common radius, not the run's training rho of 0.1, so runs compare like with like.
  assert.equal(MEASURE_RHO, 0.05);
  assert.equal(s.rho, MEASURE_RHO);
  assert.ok(Number.isFinite(s.sigmaMax) && s.sigmaMax > 0);
  assert.ok(Math.abs(s.lemma3SigmaMax - (2 * s.surrogateGap) / (0.05 * 0.05)) < 1e-6 * Math.max(1, Math.abs(s.lemma3SigmaMax)));
  assert.ok(s.landscape1D !== undefined && s.landscape2D !== undefined);
  assert.ok(seconds < 30, `took ${seconds} s`);
  // The gap really is the one at MEASURE_RHO: recompute it from the saved model on the same examples.
  const model = await loadModel(join(dir, record.runId, record.modelDir as string));
  const { test: testSet } = loadRunData(spec, runSeeds(spec.seed));
  const { x, y } = toTensors(
    testSet,
    Int32Array.from({ length: 40 }, (_, i) => i),
  );
  const gap = surrogateGap(modelObjective(model, x, y), { rho: 0.05 });
  tf.dispose([x, y]);
  model.dispose();
  assert.ok(Math.abs(gap.gap - s.surrogateGap) < 1e-6, `record ${s.surrogateGap}, recomputed at rho 0.05 ${gap.gap}`);
  assert.equal(tf.memory().numTensors, before);
});

test('an abort from a timer stops a run mid-epoch: the training loop yields to the event loop', async () => {
  const before = tf.memory().numTensors;
  // One epoch of 2000 steps (8000 training points, batch 4): far longer than the abort's delay.
  const spec = tinySpec({ dataset: { name: 'moons', n: 10000, noise: 0.2 }, optimizer: { name: 'sgd' }, epochs: 1, batchSize: 4 });
  const ctl = new AbortController();
  let steps = 0;
  let abortedAt = 0;
  const record = await runSpec(spec, {
    resultsDir: tempResults(),
    backend: 'cpu',
    signal: ctl.signal,
    onProgress: () => {
      // A timer can only fire if the loop gives the event loop a turn between steps.
      if (steps++ === 0) {
        setTimeout(() => {
          abortedAt = performance.now();
          ctl.abort();
        }, 50);
      }
    },
  });
  const returnedAfter = performance.now() - abortedAt;
  assert.equal(record.status, 'running');
  assert.ok(abortedAt > 0, 'the timer never fired during training');
  assert.ok(steps < 2000, `all ${steps} steps ran before the abort took effect`);
  // Returned within one yield interval (plus a step and a loaded machine's slack) of the abort.
  assert.ok(returnedAfter < YIELD_EVERY_MS + 1000, `returned ${returnedAfter.toFixed(0)} ms after the abort`);
  assert.equal(tf.memory().numTensors, before);
});

test('onEpoch gets each epoch record once, in order, after the record and checkpoint of that epoch are written', async () => {
  const dir = tempResults();
  const spec = tinySpec({ epochs: 3, optimizer: { name: 'gsam' } });
  const id = runId(spec);
  const seen: { epoch: EpochRecord; runId: string; recordEpochs: number; checkpointEpoch: number | undefined }[] = [];
  const ctl = new AbortController();
  const onEpoch = (epoch: EpochRecord, rid: string): void => {
    const onDisk = JSON.parse(readFileSync(recordPath(dir, rid), 'utf8')) as { epochs: unknown[] };
    seen.push({ epoch, runId: rid, recordEpochs: onDisk.epochs.length, checkpointEpoch: loadCheckpoint(join(dir, rid))?.data.epoch });
  };
  // Interrupted in epoch 2: only epoch 1 was reported.
  await runSpec(spec, {
    resultsDir: dir,
    backend: 'cpu',
    signal: ctl.signal,
    onEpoch,
    onProgress: (p) => p.epoch === 2 && p.step === 4 && ctl.abort(),
  });
  assert.deepEqual(
    seen.map((s) => s.epoch.epoch),
    [1],
  );
  // Resumed: epochs 2 and 3 are reported, none twice, and each equals the record's entry.
  const record = await runSpec(spec, { resultsDir: dir, backend: 'cpu', onEpoch });
  assert.deepEqual(
    seen.map((s) => s.epoch),
    record.epochs,
  );
  for (const s of seen) {
    assert.equal(s.runId, id);
    assert.equal(s.recordEpochs, s.epoch.epoch, 'record.json already holds the epoch');
    assert.equal(s.checkpointEpoch, s.epoch.epoch, 'the checkpoint of the epoch is already written');
  }
});

/** A checkpoint store in memory: a second, real implementation of the interface besides the directory one. */
class MemoryCheckpointStore implements CheckpointStore {
  readonly saved = new Map<string, CheckpointData>();
  loads = 0;
  saves = 0;
  async load(id: string): Promise<StoredCheckpoint | null> {
    this.loads++;
    const data = this.saved.get(id);
    return data === undefined ? null : { data, source: `memory:${id}` };
  }
  async save(id: string, data: CheckpointData): Promise<void> {
    this.saves++;
    this.saved.set(id, data);
  }
}

test('with a custom checkpoint store every checkpoint goes through it: none on disk, and resume from it is exact', async () => {
  const before = tf.memory().numTensors;
  const spec = tinySpec({ epochs: 3, optimizer: { name: 'agsam' }, base: { name: 'adam', learningRate: 0.01 } });
  const ref = await runSpec(spec, { resultsDir: tempResults(), backend: 'cpu' });
  const dir = tempResults();
  const store = new MemoryCheckpointStore();
  const ctl = new AbortController();
  const opts = { resultsDir: dir, backend: 'cpu' as const, checkpointStore: store };
  const partial = await runSpec(spec, { ...opts, signal: ctl.signal, onProgress: (p) => p.epoch === 3 && p.step === 2 && ctl.abort() });
  assert.equal(partial.status, 'running');
  assert.deepEqual([store.loads, store.saves, store.saved.get(partial.runId)?.epoch], [1, 2, 2]);
  const resumed = await runSpec(spec, opts);
  assert.deepEqual(withoutTimings(resumed), withoutTimings(ref));
  assert.deepEqual([store.loads, store.saves], [2, 3]);
  const files = readdirSync(join(dir, resumed.runId));
  assert.ok(!files.some((f) => f.startsWith('checkpoint')), `no checkpoint file in the run folder, got ${files.join(', ')}`);
  assert.equal(tf.memory().numTensors, before);
});

test('a checkpoint from the store that belongs to another spec is refused, naming its source', async () => {
  const store = new MemoryCheckpointStore();
  const spec = tinySpec({ epochs: 1, optimizer: { name: 'sgd' } });
  await runSpec(spec, { resultsDir: tempResults(), backend: 'cpu', checkpointStore: store });
  const ck = store.saved.get(runId(spec))!;
  const other = tinySpec({ epochs: 1, optimizer: { name: 'sam' } });
  store.saved.set(runId(other), ck);
  await assert.rejects(
    runSpec(other, { resultsDir: tempResults(), backend: 'cpu', checkpointStore: store }),
    new RegExp(`checkpoint memory:${runId(other)} belongs to a different spec`),
  );
});

test('a bad checkpointStore or onEpoch is refused with a TypeError naming it', async () => {
  const isTypeError =
    (re: RegExp) =>
    (e: unknown): boolean =>
      e instanceof TypeError && re.test(e.message);
  const spec = tinySpec();
  const bad = (opts: object) => runSpec(spec, { resultsDir: tempResults(), backend: 'cpu', ...opts });
  await assert.rejects(
    bad({ checkpointStore: {} }),
    isTypeError(/^runSpec: opts\.checkpointStore must be an object with load\(runId\) and save\(runId, data\) methods, got object$/),
  );
  await assert.rejects(bad({ checkpointStore: null }), isTypeError(/checkpointStore .* got null$/));
  await assert.rejects(bad({ onEpoch: 5 }), isTypeError(/^runSpec: opts\.onEpoch must be a function .* got number$/));
});

test("a new record names this package's version, as its package.json says", async () => {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  const record = await runSpec(tinySpec({ epochs: 1, optimizer: { name: 'sgd' } }), {
    resultsDir: tempResults(),
    backend: 'cpu',
    saveModel: false,
  });
  assert.equal(record.versions.flatminima, pkg.version);
  assert.equal(record.versions['@tensorflow/tfjs'], tf.version.tfjs);
});
