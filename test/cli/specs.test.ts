import { test } from 'node:test';
import assert from 'node:assert/strict';
import { InvalidArgumentError } from 'commander';
import { buildSpec, DEFAULT_OPTIMIZERS, OPTIMIZERS } from '../../src/cli/specs.js';
import { choiceList, nonNegativeNumber, positiveInt } from '../../src/cli/parsers.js';
import { REPRODUCE_SETTINGS, experimentSpecs } from '../../src/cli/commands/reproduce.js';
import { threadsPerJob } from '../../src/cli/batch.js';
import { UsageError } from '../../src/cli/errors.js';
import { runId } from '../../src/experiments/runner.js';

test('buildSpec: defaults written out explicitly; flags applied; inapplicable flags refused or skipped', () => {
  const s = buildSpec({}, 'agsam', undefined, { strictOptimizerFlags: true });
  assert.deepEqual(s.dataset, { name: 'moons', n: 10000, noise: 0.3, testFraction: 0.2 });
  assert.equal(s.model, 'mlp');
  assert.deepEqual(s.optimizer, DEFAULT_OPTIMIZERS.agsam);
  assert.deepEqual(s.base, { name: 'momentum', learningRate: 0.05, momentum: 0.9, weightDecay: 0, schedule: 'constant' });
  assert.equal(s.epochs, 50);
  assert.equal(s.batchSize, 64);
  assert.equal(s.seed, 0);
  assert.equal(s.measureExamples, 500);

  const m = buildSpec({ dataset: 'mnist', n: 500, lr: 0.01, base: 'adam', lrSchedule: 'cosine', epochs: 2, rho: 0.2 }, 'asam', 4, {
    strictOptimizerFlags: true,
  });
  assert.deepEqual(m.dataset, { name: 'mnist', n: 500, testFraction: 0.2 });
  assert.equal(m.model, 'cnn');
  assert.deepEqual(m.base, { name: 'adam', learningRate: 0.01, weightDecay: 0, schedule: 'cosine' });
  assert.deepEqual(m.optimizer, { ...DEFAULT_OPTIMIZERS.asam, rho: 0.2 });
  assert.equal(m.seed, 4);
  assert.equal(m.measureExamples, 128);
  assert.equal(buildSpec({ measure: 0 }, 'sgd', 0, { strictOptimizerFlags: true }).measureExamples, 0);

  assert.throws(
    () => buildSpec({ gamma: 0.1, noise: 0.2, dataset: 'mnist' }, 'sam', 0, { strictOptimizerFlags: true }),
    (e: unknown) =>
      e instanceof UsageError &&
      e.problems.length === 2 &&
      /--noise applies only to --dataset moons/.test(e.problems[0]!) &&
      /--gamma does not apply to --optimizer sam \(it applies to agsam\)/.test(e.problems[1]!),
  );
  // compare: a setting goes to the methods that take it only.
  const sgd = buildSpec({ alpha: 0.3 }, 'sgd', 0, { strictOptimizerFlags: false });
  assert.deepEqual(sgd.optimizer, { name: 'sgd' });
  assert.equal(buildSpec({ alpha: 0.3 }, 'gsam', 0, { strictOptimizerFlags: false }).optimizer.alpha, 0.3);
});

test('parsers name what is allowed', () => {
  assert.equal(nonNegativeNumber('0'), 0);
  assert.equal(nonNegativeNumber('1e-3'), 0.001);
  assert.throws(() => nonNegativeNumber('-0.1'), InvalidArgumentError);
  assert.throws(() => nonNegativeNumber(''), /Expected a number/);
  assert.throws(() => nonNegativeNumber('Infinity'), /finite/);
  assert.equal(positiveInt('3'), 3);
  assert.throws(() => positiveInt('3.5'), /whole number >= 1/);
  assert.throws(() => positiveInt('0'), /whole number >= 1/);
  assert.deepEqual(choiceList(OPTIMIZERS)('sam, gsam'), ['sam', 'gsam']);
  assert.throws(() => choiceList(OPTIMIZERS)('sam,adam'), /Unknown 'adam'.*sgd, sam, asam, gsam, agsam/);
});

test("REPRODUCE_SETTINGS: full is the report's setup; reduced only shrinks it; specs are valid and distinct", () => {
  const [moons, mnist] = REPRODUCE_SETTINGS.experiments;
  assert.deepEqual([...REPRODUCE_SETTINGS.optimizers], ['sgd', 'sam', 'asam', 'gsam', 'agsam']);
  // The report: moons 10,000 points, noise 0.3, 50 epochs, batch 64, MLP; MNIST (10,000 embedded digits) 25 epochs, CNN.
  assert.equal(moons!.key, 'moons');
  assert.equal(moons!.dataset.noise, 0.3);
  assert.equal(moons!.model, 'mlp');
  assert.equal(moons!.batchSize, 64);
  assert.equal(moons!.full.n, 10000);
  assert.equal(moons!.full.epochs, 50);
  assert.equal(mnist!.key, 'mnist');
  assert.equal(mnist!.model, 'cnn');
  assert.equal(mnist!.full.n, 10000);
  assert.equal(mnist!.full.epochs, 25);
  assert.deepEqual(moons!.report, { gsam: { accuracy: 0.857, loss: 0.33 }, agsam: { accuracy: 0.89, loss: 0.27 } });
  assert.deepEqual(mnist!.report, { gsam: { accuracy: 0.953, loss: 0.04 }, agsam: { accuracy: 0.985, loss: 0.01 } });
  for (const exp of REPRODUCE_SETTINGS.experiments) {
    for (const key of ['n', 'epochs', 'seeds', 'measureExamples'] as const)
      assert.ok(exp.reduced[key] <= exp.full[key], `${exp.key}.${key}`);
    const specs = experimentSpecs(exp, exp.reduced, REPRODUCE_SETTINGS.optimizers);
    assert.equal(specs.length, 5 * exp.reduced.seeds);
    assert.equal(new Set(specs.map((s) => runId(s))).size, specs.length);
    assert.ok(specs.every((s) => s.epochs === exp.reduced.epochs && s.dataset.n === exp.reduced.n && s.batchSize === 64));
  }
});

test('threadsPerJob shares the cores among parallel runs', () => {
  assert.equal(threadsPerJob(2, 2), 1);
  assert.equal(threadsPerJob(1, 2), 2);
  assert.equal(threadsPerJob(3, 16), 5);
  assert.equal(threadsPerJob(8, 2), 1);
});
