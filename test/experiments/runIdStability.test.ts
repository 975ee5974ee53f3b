/**
 * Run ids of specs that were valid before the method table must never change: a long sweep is
 * running on them, and a run id is a hash of the validated spec (src/experiments/runId.ts).
 *
 * REGRESSION FIXTURE: every expected value below was computed by a small script on the code as it
 * was BEFORE the method table and the new methods (branch `methods` at 80d1eb7), not from the code
 * under test: the two selection sweeps of docs/results expanded by expandSweep (count and a SHA-256
 * digest over the run ids in order), `buildSpec` for each method as `train` and `compare` call it,
 * `completeSpec` as sweep files use it, `reproduce`'s reduced specs, and the DEFAULT_OPTIMIZERS
 * objects themselves. If one of these fails, an existing run would be re-run under a new name.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { buildSpec, type RunFlags } from '../../src/cli/specs.js';
import { REPRODUCE_SETTINGS, experimentSpecs } from '../../src/cli/commands/reproduce.js';
import { DEFAULT_OPTIMIZERS, completeSpec } from '../../src/experiments/defaults.js';
import { runId } from '../../src/experiments/runId.js';
import { expandSweep } from '../../src/experiments/sweep/expand.js';

const digest = (ids: readonly string[]): string => createHash('sha256').update(ids.join('\n')).digest('hex').slice(0, 16);

test('the selection sweeps of docs/results expand to the same runs under the same ids', () => {
  const expected = {
    'moons-selection': {
      count: 147,
      digest: '5d8f0ea3c1415723',
      first: ['moons-mlp-sgd-seed0-e2c102fd', 'moons-mlp-sgd-seed1-c372d8c6', 'moons-mlp-sgd-seed2-860d1a59'],
    },
    'mnist-selection': {
      count: 25,
      digest: 'b279c18f59bbb59a',
      first: ['mnist-cnn-sgd-seed0-d44821e1', 'mnist-cnn-sam-seed0-58e7b9d8', 'mnist-cnn-sam-seed0-98459651'],
    },
  };
  for (const [file, want] of Object.entries(expected)) {
    const sweep = expandSweep(JSON.parse(readFileSync(new URL(`../../docs/results/${file}.json`, import.meta.url), 'utf8')), file);
    const ids = sweep.runs.map((r) => r.runId);
    assert.equal(ids.length, want.count, file);
    assert.deepEqual(ids.slice(0, 3), want.first, file);
    assert.equal(digest(ids), want.digest, file);
  }
});

test('buildSpec (train and compare) gives each method the same spec, so the same id', () => {
  const train: [RunFlags, 'sgd' | 'sam' | 'asam' | 'gsam' | 'agsam', string][] = [
    [{}, 'sgd', 'moons-mlp-sgd-seed3-02620c14'],
    [{}, 'sam', 'moons-mlp-sam-seed3-771ddc1a'],
    [{}, 'asam', 'moons-mlp-asam-seed3-2273f10f'],
    [{}, 'gsam', 'moons-mlp-gsam-seed3-fe6a6b22'],
    [{}, 'agsam', 'moons-mlp-agsam-seed3-45b67d97'],
    [{ eta: 0.02, scope: 'all' }, 'asam', 'moons-mlp-asam-seed3-e09c662c'],
    [{ dataset: 'mnist', rho: 0.1, alpha: 0.3, weightDecay: 5e-4, lrSchedule: 'cosine' }, 'gsam', 'mnist-cnn-gsam-seed3-afc74ac9'],
    [{ rhoSchedule: 'proportional', rhoMin: 0.01, base: 'sgd', lr: 0.1 }, 'sam', 'moons-mlp-sam-seed3-11f19adf'],
  ];
  for (const [flags, opt, id] of train)
    assert.equal(runId(buildSpec(flags, opt, 3, { strictOptimizerFlags: true })), id, `${opt} ${JSON.stringify(flags)}`);
  // compare applies a setting flag to the methods that take it and ignores it for the others.
  const compare = {
    sgd: 'moons-mlp-sgd-seed0-7af099d1',
    sam: 'moons-mlp-sam-seed0-81726aa0',
    asam: 'moons-mlp-asam-seed0-5ae67a1c',
    gsam: 'moons-mlp-gsam-seed0-f45dd61d',
    agsam: 'moons-mlp-agsam-seed0-20e97c03',
  } as const;
  for (const [opt, id] of Object.entries(compare)) {
    assert.equal(
      runId(buildSpec({ rho: 0.1, alpha: 0.2, epochs: 3 }, opt as keyof typeof compare, 0, { strictOptimizerFlags: false })),
      id,
      opt,
    );
  }
});

test('completeSpec (sweep files) and reproduce keep their ids; DEFAULT_OPTIMIZERS is what it was', () => {
  const completed = {
    sgd: 'moons-mlp-sgd-seed1-7297e0cf',
    sam: 'moons-mlp-sam-seed1-5a5f5a81',
    asam: 'moons-mlp-asam-seed1-5c1c9119',
    gsam: 'moons-mlp-gsam-seed1-2dd9c044',
    agsam: 'moons-mlp-agsam-seed1-cea4c59f',
  };
  for (const [name, id] of Object.entries(completed)) assert.equal(runId(completeSpec({ optimizer: { name }, seed: 1 })), id, name);
  assert.equal(
    runId(completeSpec({ dataset: { name: 'mnist', n: 2000 }, optimizer: { name: 'asam', scope: 'all' }, epochs: 5 })),
    'mnist-cnn-asam-seed0-44b5df4c',
  );
  const repro = {
    moons: { count: 15, digest: 'f098e5e849a892f9', first: 'moons-mlp-sgd-seed0-0f837b8c' },
    mnist: { count: 5, digest: 'e108fd3c2c1e6394', first: 'mnist-cnn-sgd-seed0-c6631cad' },
  };
  for (const exp of REPRODUCE_SETTINGS.experiments) {
    const ids = experimentSpecs(exp, exp.reduced, REPRODUCE_SETTINGS.optimizers).map((s) => runId(s));
    assert.equal(ids.length, repro[exp.key].count, exp.key);
    assert.equal(ids[0], repro[exp.key].first, exp.key);
    assert.equal(digest(ids), repro[exp.key].digest, exp.key);
  }
  const before = {
    sgd: { name: 'sgd' },
    sam: { name: 'sam', rho: 0.05 },
    asam: { name: 'asam', rho: 0.5, eta: 0.01 },
    gsam: { name: 'gsam', rho: 0.05, alpha: 0.1 },
    agsam: { name: 'agsam', rho: 0.5, alpha: 0.1, gamma: 0.01 },
  };
  for (const [name, spec] of Object.entries(before)) assert.deepEqual(DEFAULT_OPTIMIZERS[name as keyof typeof before], spec, name);
});
