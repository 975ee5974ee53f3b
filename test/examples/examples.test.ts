/**
 * Every example in examples/ runs as a user would run it (`npx tsx examples/<name>.ts`, importing
 * `flatminima` by its package name) at small sizes, and prints what its header promises; the sweep
 * file is the minimal sweep form and names only fields the run-spec schema has. (The type check of
 * the examples is `npm run typecheck`, which includes examples/.)
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { RunSpecSchema } from '../../src/experiments/schema.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const run = promisify(execFile);

/** Runs examples/<name>.ts with `args` from the repository root, as `npx tsx` would. */
async function example(name: string, ...args: string[]): Promise<string> {
  const { stdout } = await run(process.execPath, ['--import', 'tsx', join('examples', name), ...args], { cwd: root, timeout: 240_000 });
  return stdout;
}

const numbers = (line: string): number[] => [...line.matchAll(/-?\d+(?:\.\d+)?(?:e[+-]?\d+)?/g)].map((m) => Number(m[0]));

test('examples/ holds exactly the examples this test runs', () => {
  assert.deepEqual(readdirSync(join(root, 'examples')).sort(), [
    'README.md',
    'custom-loop.ts',
    'fit-gsam.ts',
    'measure-saved-model.ts',
    'sweep.json',
  ]);
});

test('fit-gsam: model.fit with GSAM logs the clean loss, L(w + e) and h = L(w + e) − L(w) per epoch', async () => {
  const out = await example('fit-gsam.ts', '2');
  const epochs = out.split('\n').filter((l) => l.startsWith('epoch '));
  assert.equal(epochs.length, 2);
  for (const line of epochs) {
    const [, loss, perturbed, gap, accuracy] = numbers(line);
    // 800 training points in 25 full batches of 32: the epoch means are means over equal batches, so
    // mean(h) = mean(L_p) − mean(L) up to the 4 decimals printed.
    assert.ok(Math.abs(gap! - (perturbed! - loss!)) <= 2e-4, line);
    assert.ok(gap! > 0, `SAM-type climbs raise the loss: ${line}`);
    assert.ok(accuracy! > 50 && accuracy! <= 100, line);
  }
});

test('custom-loop: sharpnessAwareStep in a hand-written loop trains and leaves no tensor behind', async () => {
  const out = await example('custom-loop.ts', '120');
  const steps = out.split('\n').filter((l) => l.startsWith('step '));
  assert.deepEqual(
    steps.map((l) => numbers(l)[0]),
    [0, 50, 100, 119],
  );
  assert.ok(numbers(steps.at(-1)!)[1]! < numbers(steps[0]!)[1]!, 'the loss went down');
  assert.match(out, /tensors left besides the optimiser's slots: 0\n/);
});

test("measure-saved-model: a saved model's sigma_max, trace, surrogate gap and loss slice", async () => {
  const out = await example('measure-saved-model.ts');
  assert.match(out, /trained a small model and saved it to /);
  const sigma = numbers(out.split('\n').find((l) => l.startsWith('sigma_max'))!);
  assert.ok(sigma[0]! > 0);
  assert.match(out, /double-backprop, converged: true/);
  const trace = numbers(out.split('\n').find((l) => l.startsWith('trace'))!);
  // The trace is the sum of the eigenvalues; near a minimum they are >= 0 and the top one is among them.
  assert.ok(trace[0]! + 3 * trace[1]! >= sigma[0]!, `trace ${trace[0]} ± ${trace[1]} against sigma_max ${sigma[0]}`);
  const slice = numbers(
    out
      .split('\n')
      .find((l) => l.startsWith('loss along'))!
      .split(':')[1]!,
  );
  assert.equal(slice.length, 9);
});

test('sweep.json is the minimal sweep form over real run-spec fields', () => {
  const sweep = JSON.parse(readFileSync(join(root, 'examples', 'sweep.json'), 'utf8')) as {
    base: Record<string, unknown>;
    grid: Record<string, unknown[]>;
    seeds: number;
  };
  assert.deepEqual(Object.keys(sweep).sort(), ['base', 'grid', 'seeds']);
  assert.ok(Number.isInteger(sweep.seeds) && sweep.seeds > 0);
  // Every grid point, laid over the base and completed with the CLI's defaults for the fields the
  // file leaves out, must be a valid run spec (the sweep command itself lands separately).
  const defaults = { model: 'mlp', base: { name: 'momentum', learningRate: 0.05 }, batchSize: 64, seed: 0, optimizer: { name: 'sgd' } };
  for (const name of sweep.grid['optimizer.name']!) {
    for (const rho of sweep.grid['optimizer.rho']!) {
      const spec = { ...defaults, ...sweep.base, optimizer: { name, rho } };
      const parsed = RunSpecSchema.safeParse(spec);
      assert.ok(parsed.success, `${JSON.stringify(spec)}: ${parsed.error?.message}`);
    }
  }
  assert.deepEqual(Object.keys(sweep.grid).sort(), ['optimizer.name', 'optimizer.rho']);
});
