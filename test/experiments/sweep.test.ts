import assert from 'node:assert/strict';
import { test } from 'node:test';
import { buildSpec } from '../../src/cli/specs.js';
import { completeSpec } from '../../src/experiments/defaults.js';
import { resolveExecution, threadsPerJob, type ExecutorEvent } from '../../src/experiments/executor.js';
import { LocalPoolExecutor } from '../../src/experiments/localExecutor.js';
import { pointId, runId } from '../../src/experiments/runId.js';
import { expandSweep } from '../../src/experiments/sweep/expand.js';
import { getPath, setPath, SPEC_PATHS } from '../../src/experiments/sweep/paths.js';
import { ValidationError } from '../../src/experiments/validate.js';
import type { RunSpec } from '../../src/experiments/schema.js';
import { Rng } from '../../src/util/random.js';
import { tempResults } from './helpers.js';

const key = (s: RunSpec): string => runId(s);

test('the minimal sweep form: grid product x seeds, base completed by the CLI defaults, 10 % validation', () => {
  const sweep = expandSweep({
    base: { dataset: { name: 'moons', n: 2000 }, epochs: 10 },
    grid: { 'optimizer.name': ['gsam', 'agsam'], 'optimizer.rho': [0.02, 0.05, 0.2] },
    seeds: 3,
  });
  assert.equal(sweep.runs.length, 18);
  assert.equal(sweep.points, 6);
  assert.deepEqual(sweep.seeds, [0, 1, 2]);
  assert.deepEqual(sweep.select, { metric: 'validationAccuracy', validationFraction: 0.1 });
  // Every expected spec, written out by hand from the documented defaults, is there exactly once.
  const expected: RunSpec[] = [];
  for (const name of ['gsam', 'agsam'] as const) {
    for (const rho of [0.02, 0.05, 0.2]) {
      for (const seed of [0, 1, 2]) {
        expected.push({
          dataset: { name: 'moons', n: 2000, noise: 0.3, testFraction: 0.2, validationFraction: 0.1 },
          model: 'mlp',
          optimizer: name === 'gsam' ? { name, rho, alpha: 0.1 } : { name, rho, alpha: 0.1, gamma: 0.01 },
          base: { name: 'momentum', learningRate: 0.05, momentum: 0.9, weightDecay: 0, schedule: 'constant' },
          epochs: 10,
          batchSize: 64,
          seed,
          measureExamples: 500,
        });
      }
    }
  }
  assert.deepEqual(sweep.runs.map((r) => key(r.spec)).sort(), expected.map(key).sort());
  // The three seeds of a point share its point id; different points never do.
  const byPoint = new Map<string, number[]>();
  for (const r of sweep.runs) byPoint.set(r.pointId, [...(byPoint.get(r.pointId) ?? []), r.seed]);
  assert.equal(byPoint.size, 6);
  for (const seeds of byPoint.values()) assert.deepEqual(seeds, [0, 1, 2]);
});

test('methods x grid x random x seeds gives exactly the specs expected, draws reproducible from the seed', () => {
  const sweep = expandSweep({
    base: { dataset: { name: 'moons', n: 300 }, epochs: 2 },
    random: { n: 2, seed: 7, params: { 'base.learningRate': { dist: 'loguniform', low: 0.01, high: 0.1 } } },
    methods: {
      sam: { grid: { 'optimizer.rho': [0.05, 0.1] } },
      gsam: { grid: { 'optimizer.rho': [0.05], 'optimizer.alpha': [0, 0.3] } },
      sgd: {},
    },
    seeds: [0, 5],
    select: false,
  });
  // The draws, recomputed here from the documented rule: exp(log low + (log high - log low) u), 6 digits.
  const rng = new Rng(7);
  const lrs = [0, 1].map(() => Number(Math.exp(Math.log(0.01) + (Math.log(0.1) - Math.log(0.01)) * rng.next()).toPrecision(6)));
  assert.ok(lrs.every((lr) => lr >= 0.01 && lr <= 0.1) && lrs[0] !== lrs[1]);
  const expected: RunSpec[] = [];
  const opts: Array<Record<string, unknown>> = [
    { name: 'sam', rho: 0.05 },
    { name: 'sam', rho: 0.1 },
    { name: 'gsam', rho: 0.05, alpha: 0 },
    { name: 'gsam', rho: 0.05, alpha: 0.3 },
    { name: 'sgd' },
  ];
  for (const optimizer of opts) {
    for (const learningRate of lrs) {
      for (const seed of [0, 5]) {
        expected.push(completeSpec({ dataset: { name: 'moons', n: 300 }, epochs: 2, optimizer, base: { learningRate }, seed }));
      }
    }
  }
  assert.equal(sweep.runs.length, 5 * 2 * 2);
  assert.deepEqual(sweep.runs.map((r) => key(r.spec)).sort(), expected.map(key).sort());
  assert.equal(sweep.select, null);
  assert.ok(sweep.runs.every((r) => r.spec.dataset.validationFraction === undefined));
  // Same file, same runs, same order.
  const again = expandSweep({
    seeds: [0, 5],
    select: false,
    methods: {
      sam: { grid: { 'optimizer.rho': [0.05, 0.1] } },
      gsam: { grid: { 'optimizer.alpha': [0, 0.3], 'optimizer.rho': [0.05] } },
      sgd: {},
    },
    random: { seed: 7, n: 2, params: { 'base.learningRate': { low: 0.01, high: 0.1, dist: 'loguniform' } } },
    base: { epochs: 2, dataset: { n: 300, name: 'moons' } },
  });
  assert.deepEqual(new Set(again.runs.map((r) => r.runId)), new Set(sweep.runs.map((r) => r.runId)));
});

test('a sweep completes specs exactly as the CLI flags do, so both name a run with the same id', () => {
  const fromSweep = completeSpec({ optimizer: { name: 'agsam', rho: 0.3 }, epochs: 4, seed: 2 });
  const fromFlags = buildSpec({ rho: 0.3, epochs: 4 }, 'agsam', 2, { strictOptimizerFlags: true });
  assert.equal(runId(fromSweep), runId(fromFlags));
  const mnist = completeSpec({ dataset: { name: 'mnist', n: 500 }, optimizer: { name: 'sam' } });
  assert.equal(runId(mnist), runId(buildSpec({ dataset: 'mnist', n: 500 }, 'sam', undefined, { strictOptimizerFlags: true })));
});

test('run ids ignore key order and change with every field; point ids ignore only the seed and the name', () => {
  const spec = completeSpec({ dataset: { name: 'moons', n: 500, validationFraction: 0.1 }, optimizer: { name: 'gsam' }, seed: 1 });
  const reverseKeys = (v: unknown): unknown =>
    v !== null && typeof v === 'object'
      ? Object.fromEntries(
          Object.entries(v)
            .reverse()
            .map(([k, x]) => [k, reverseKeys(x)]),
        )
      : v;
  const shuffled = reverseKeys(spec) as RunSpec;
  assert.notEqual(JSON.stringify(shuffled), JSON.stringify(spec));
  assert.equal(runId(shuffled), runId(spec));
  assert.equal(pointId(shuffled), pointId(spec));

  // Change each numeric field the spec has to another valid value: the run id changes every time.
  const ids = new Set([runId(spec)]);
  const numeric = SPEC_PATHS.filter((p) => typeof getPath(spec, p) === 'number');
  assert.ok(numeric.length >= 10, numeric.join(','));
  for (const path of [...numeric, 'seed']) {
    const v = getPath(spec, path) as number;
    const changed = setPath(spec as unknown as Record<string, unknown>, path, v > 0 && v < 1 ? v / 2 : v + 1) as unknown as RunSpec;
    const id = runId(changed);
    assert.ok(!ids.has(id), `changing ${path} must change the run id`);
    ids.add(id);
    if (path === 'seed') assert.equal(pointId(changed), pointId(spec));
    else assert.notEqual(pointId(changed), pointId(spec), path);
  }
  assert.notEqual(runId({ ...spec, optimizer: { ...spec.optimizer, name: 'sam', alpha: undefined } }), runId(spec));
  assert.equal(pointId({ ...spec, name: 'a label' }), pointId(spec));
});

/** The problem lines of a rejected sweep, without the prefix. */
function problems(value: unknown): string[] {
  try {
    expandSweep(value, 'test sweep');
  } catch (err) {
    assert.ok(err instanceof ValidationError, String(err));
    return err.issues;
  }
  assert.fail('the sweep was accepted');
}

test('a bad sweep is rejected before anything runs, one line per problem naming its path', () => {
  const lines = problems({
    base: { dataset: { name: 'moons', n: 200 }, epochs: 1 },
    grid: { 'optimizer.rhoo': [0.1], 'optimizer.rho': [0.1, -0.5, 'big'], 'base.learningRate': [] },
    random: { n: 2, params: { 'optimizer.alpha': { dist: 'normal', mean: 0 } } },
    seeds: 2,
  });
  assert.equal(lines.length, 5, lines.join('\n'));
  assert.match(lines[0], /^grid\["optimizer\.rhoo"\]: unknown spec field \(did you mean optimizer\.rho\?\)/);
  assert.match(lines[1], /^grid\["optimizer\.rho"\]\[1\]: .*>=0.*got -0\.5/);
  assert.match(lines[2], /^grid\["optimizer\.rho"\]\[2\]: .*expected number, received string.*got "big"/);
  assert.match(lines[3], /^grid\["base\.learningRate"\]: must list at least one value/);
  assert.match(lines[4], /^random\.params\["optimizer\.alpha"\]\.dist: must be one of loguniform, uniform, choice, got "normal"/);

  assert.deepEqual(problems({ grid: {}, seeds: 1 }), ['grid: must name at least one spec field']);
  assert.match(problems({ grid: { 'optimizer.rho': [0.1] } })[0], /^seeds: /);
  assert.match(problems({ grid: { 'optimizer.rho': [0.1] }, seeds: 0 })[0], /^seeds: /);
  assert.match(problems({ grid: { 'optimizer.rho': [0.1] }, seeds: 1, extra: true })[0], /^extra: unknown key/);
  assert.deepEqual(problems({ grid: { seed: [1, 2] }, seeds: 1 }), ['grid["seed"]: seeds are set by the sweep\'s "seeds", not by a grid']);
  const ranges = problems({
    random: {
      n: 3,
      params: { 'optimizer.rho': { dist: 'loguniform', low: 0, high: 1 }, 'base.learningRate': { dist: 'uniform', low: 1, high: 0.5 } },
    },
    seeds: 1,
  });
  assert.deepEqual(
    ranges.map((l) => l.split(':')[0]),
    ['random.params["optimizer.rho"].low', 'random.params["base.learningRate"]'],
  );
  // Cross-field rules of the run spec, named by the point they come from.
  const alphaForSam = problems({ grid: { 'optimizer.name': ['sam'], 'optimizer.alpha': [0.1] }, seeds: 1 });
  assert.deepEqual(alphaForSam, [
    'point (optimizer.name="sam", optimizer.alpha=0.1): optimizer.alpha: only used by optimizers "gsam" and "agsam"',
  ]);
  assert.match(problems({ methods: { adam: {} }, seeds: 1 })[0], /^methods\.adam: unknown method; methods: sgd, sam, asam, gsam, agsam/);
});

test('execution options: threads default to the shared cores capped at the wasm limit; out-of-range values are errors', () => {
  assert.equal(threadsPerJob(1, 32), 8);
  assert.equal(threadsPerJob(2, 32), 8);
  assert.equal(threadsPerJob(8, 32), 4);
  assert.equal(threadsPerJob(4, 2), 1);
  assert.deepEqual(resolveExecution({ jobs: 2 }, { cores: 64 }), { jobs: 2, threads: 8, backend: 'auto', checkpointEvery: 1 });
  assert.deepEqual(resolveExecution({ backend: 'cpu' }, { cores: 4 }), { jobs: 4, threads: undefined, backend: 'cpu', checkpointEvery: 1 });
  assert.throws(
    () => resolveExecution({ threads: 9 }),
    (e: unknown) => e instanceof RangeError && /threads must be a whole number from 1 to 8 .*got 9/.test(e.message),
  );
  assert.throws(() => resolveExecution({ threads: 2, backend: 'cpu' }), /threads applies to backend wasm, native or auto, not cpu/);
  assert.throws(
    () => resolveExecution({ jobs: 0 }, { names: { jobs: '--jobs' } }),
    /^RangeError: --jobs must be a whole number >= 1, got 0$/,
  );
});

test('re-running a finished sweep runs nothing; a sweep that gains a point runs only its runs', async () => {
  const dir = tempResults();
  const sweepOf = (rhos: number[]): ReturnType<typeof expandSweep> =>
    expandSweep({
      base: { dataset: { name: 'moons', n: 160 }, epochs: 1, batchSize: 32, measureExamples: 0 },
      grid: { 'optimizer.name': ['sam'], 'optimizer.rho': rhos },
      seeds: 2,
    });
  const executor = new LocalPoolExecutor({ jobs: 2, backend: 'cpu' });
  const run = async (rhos: number[]): Promise<{ started: string[]; skipped: string[]; finished: string[] }> => {
    const events: ExecutorEvent[] = [];
    const sweep = sweepOf(rhos);
    const records = await executor.run(
      sweep.runs.map((r) => r.spec),
      { resultsDir: dir, onEvent: (e) => events.push(e) },
    );
    assert.deepEqual(
      records.map((r) => r.runId),
      sweep.runs.map((r) => r.runId),
    );
    assert.ok(records.every((r) => r.status === 'complete'));
    const ids = (t: ExecutorEvent['type']): string[] =>
      events
        .filter((e) => e.type === t)
        .map((e) => ('runId' in e ? e.runId : 'record' in e ? e.record.runId : ''))
        .sort();
    return { started: ids('started'), skipped: ids('skipped'), finished: ids('finished') };
  };
  const first = await run([0.05]);
  assert.equal(first.started.length, 2);
  assert.deepEqual(first.finished, first.started);
  const second = await run([0.05]);
  assert.deepEqual(second.started, []);
  assert.deepEqual(second.skipped, first.started);
  const third = await run([0.05, 0.2]);
  const newRuns = sweepOf([0.2])
    .runs.map((r) => r.runId)
    .sort();
  assert.deepEqual(third.started, newRuns);
  assert.deepEqual(third.skipped, first.started);
  await executor.close();
});
