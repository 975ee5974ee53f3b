/**
 * Constructed, schema-valid run records for the analysis tests: every final metric and every
 * epoch's validation accuracy and duration is given by the test, so expected figures can be worked
 * out by hand from the numbers written in the test itself.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { RunRecordSchema, type RunRecord, type RunSpec } from '../../src/experiments/schema.js';

/** What a constructed record is made of. */
export interface RecordInput {
  method: RunSpec['optimizer']['name'];
  seed: number;
  rho?: number;
  alpha?: number;
  learningRate?: number;
  /** Final validation accuracy (null: the run has no validation split). */
  val: number | null;
  /** Final test accuracy. */
  test: number;
  /** Final train accuracy (default 1 - (1 - val) / 2). */
  train?: number;
  status?: RunRecord['status'];
  /** Per-epoch validation accuracy (default: two epochs, the last one `val`). */
  curve?: number[];
  /** Per-epoch wall seconds (default 1 each). */
  seconds?: number[];
  error?: string;
  dataset?: RunSpec['dataset'];
}

/** One record from {@link RecordInput}; validated with the real schema. */
export function makeRecord(input: RecordInput): RunRecord {
  const optimizer: RunSpec['optimizer'] = { name: input.method };
  if (input.rho !== undefined) optimizer.rho = input.rho;
  if (input.alpha !== undefined) optimizer.alpha = input.alpha;
  const withValidation = input.val !== null;
  const spec: RunSpec = {
    dataset: input.dataset ?? { name: 'moons', n: 2000, noise: 0.3, ...(withValidation ? { validationFraction: 0.1 } : {}) },
    model: 'mlp',
    optimizer,
    base: { name: 'sgd', learningRate: input.learningRate ?? 0.1 },
    epochs: (input.curve ?? [0, 0]).length,
    batchSize: 64,
    seed: input.seed,
  };
  const curve = input.curve ?? [(input.val ?? 0.5) - 0.1, input.val ?? 0.5];
  const status = input.status ?? 'complete';
  const epochs = curve.map((v, i) => ({
    epoch: i + 1,
    trainLoss: 0.5 / (i + 1),
    trainAccuracy: 0.8,
    testLoss: 0.6 / (i + 1),
    testAccuracy: i === curve.length - 1 ? input.test : input.test - 0.05,
    validationLoss: withValidation ? 0.55 / (i + 1) : null,
    validationAccuracy: withValidation ? v : null,
    perturbedLoss: null,
    surrogateGap: null,
    seconds: input.seconds?.[i] ?? 1,
  }));
  const last = epochs[epochs.length - 1];
  const val = input.val;
  const record: RunRecord = {
    runId: `moons-mlp-${input.method}-seed${input.seed}-r${input.rho ?? 'x'}-a${input.alpha ?? 'x'}-lr${input.learningRate ?? 0.1}`,
    spec,
    status,
    epochs: status === 'running' ? [] : epochs,
    final:
      status === 'running'
        ? null
        : {
            trainLoss: last.trainLoss,
            trainAccuracy: input.train ?? (val === null ? 0.8 : 1 - (1 - val) / 2),
            testLoss: 1 - input.test,
            testAccuracy: input.test,
            validationLoss: val === null ? null : 1 - val,
            validationAccuracy: val,
          },
    sharpness: null,
    decisionGrid: null,
    divergence: status === 'diverged' ? { epoch: 1, step: 3, message: 'loss is NaN' } : null,
    backend: 'cpu',
    threads: null,
    versions: { flatminima: '0.1.0' },
    startedAt: '2026-01-01T00:00:00.000Z',
    finishedAt: status === 'running' ? null : '2026-01-01T00:00:05.000Z',
    wallSeconds: 5,
    modelDir: null,
    ...(input.error !== undefined ? { error: input.error } : {}),
  };
  return RunRecordSchema.parse(record);
}

/** Records of one point over several seeds whose final values are given per seed. */
export function pointRecords(
  base: Omit<RecordInput, 'seed' | 'val' | 'test'>,
  vals: ReadonlyArray<number | null>,
  tests: readonly number[],
  seeds: readonly number[] = vals.map((_, i) => i),
): RunRecord[] {
  return seeds.map((seed, i) => makeRecord({ ...base, seed, val: vals[i], test: tests[i] }));
}

/** Writes records as `<dir>/<runId>/record.json`. */
export function writeRecordDir(dir: string, records: readonly RunRecord[]): void {
  for (const r of records) {
    mkdirSync(join(dir, r.runId), { recursive: true });
    writeFileSync(join(dir, r.runId, 'record.json'), JSON.stringify(r, null, 2));
  }
}
