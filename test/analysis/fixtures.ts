/**
 * Constructed, schema-valid run records for the analysis tests: every final metric and every
 * epoch's validation accuracy and duration is given by the test, so expected figures can be worked
 * out by hand from the numbers written in the test itself.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { RunRecordSchema, type RunRecord, type RunSpec } from '../../src/experiments/schema.js';
import { Rng } from '../../src/util/random.js';

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

/**
 * A small constructed sweep: GSAM and Adaptive-GSAM over rho {0.02, 0.05, 0.2} x alpha {0.1, 0.3},
 * SAM over the three rhos, SGD at one point, three seeds each (48 runs, 4 epochs), with one diverged
 * GSAM run at rho 0.2, alpha 0.3. Values come from a fixed formula plus seeded noise.
 */
export function sweepRecords(): RunRecord[] {
  const rng = new Rng(5);
  const out: RunRecord[] = [];
  const rhos = [0.02, 0.05, 0.2];
  const top: Record<string, number> = { sgd: 0.85, sam: 0.875, gsam: 0.88, agsam: 0.885 };
  const slope: Record<string, number> = { sam: 0.03, gsam: 0.05, agsam: 0.01 };
  for (const method of ['sgd', 'sam', 'gsam', 'agsam'] as const) {
    const points: Array<{ rho?: number; alpha?: number }> =
      method === 'sgd' ? [{}] : rhos.flatMap((rho) => (method === 'sam' ? [{ rho }] : [0.1, 0.3].map((alpha) => ({ rho, alpha }))));
    for (const p of points) {
      const drop = p.rho === undefined ? 0 : slope[method] * Math.abs(Math.log10(p.rho / 0.05)) + (p.alpha === 0.3 ? 0.004 : 0);
      for (let seed = 0; seed < 3; seed++) {
        const val = top[method] - drop + 0.003 * (rng.next() - 0.5);
        const test = val - 0.002 + 0.003 * (rng.next() - 0.5);
        const curve = [0.6, 0.75, 0.85, 1].map((f) => 0.5 + (val - 0.5) * f);
        const status = method === 'gsam' && p.rho === 0.2 && p.alpha === 0.3 && seed === 2 ? 'diverged' : 'complete';
        out.push(makeRecord({ method, seed, ...p, val, test, curve, seconds: [1, 1, 1, 1], status }));
      }
    }
  }
  return out;
}
