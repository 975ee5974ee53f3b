/** Shared helpers of the experiments tests: tiny specs, temp dirs, timing-free record comparison. */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RunRecord, RunSpec } from '../../src/experiments/schema.js';

/** A fresh empty results directory. */
export function tempResults(prefix = 'fm-exp-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** A tiny moons run: 400 points (320 train), batch 32, 2 epochs. */
export function tinySpec(overrides: Partial<RunSpec> = {}): RunSpec {
  return {
    dataset: { name: 'moons', n: 400, noise: 0.2 },
    model: 'mlp',
    optimizer: { name: 'sam' },
    base: { name: 'momentum', learningRate: 0.05 },
    epochs: 2,
    batchSize: 32,
    seed: 0,
    ...overrides,
  };
}

/** A record without the fields that legitimately differ between identical runs (wall-clock times). */
export function withoutTimings(r: RunRecord): unknown {
  return {
    ...r,
    startedAt: null,
    finishedAt: null,
    wallSeconds: null,
    epochs: r.epochs.map((e) => ({ ...e, seconds: null })),
  };
}
