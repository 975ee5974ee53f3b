/**
 * `flatminima measure`: the sharpness of a saved model (a run directory, or a model directory with
 * model.json) on examples of its dataset: the Hessian's top eigenvalue sigma_max (power iteration),
 * its trace (Hutchinson), the surrogate gap h at rho and Lemma 3's estimate 2h/rho². rho defaults
 * to MEASURE_RHO, the one radius the runner measures every run at (not the run's training rho), so
 * numbers from different runs and methods compare like with like.
 */
import { existsSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { Option, type Command } from 'commander';
import { UsageError } from '../errors.js';
import { nonNegativeInt, nonNegativeNumber, openUnitInterval, positiveInt, positiveNumber } from '../parsers.js';
import { BACKENDS, DATASETS, validateSpec, checkBackendFlags } from '../specs.js';
import { backendLine } from '../backend-line.js';
import type { RunRecord, RunSpec } from '../../experiments/schema.js';
import { MEASURE_RHO } from '../../experiments/measurement.js';

interface MeasureFlags {
  run: string;
  dataset?: (typeof DATASETS)[number];
  dataDir?: string;
  n?: number;
  noise?: number;
  testFraction?: number;
  split: 'train' | 'test';
  examples: number;
  rho?: number;
  seed: number;
  samples: number;
  maxIterations: number;
  tol: number;
  method: 'auto' | 'double-backprop' | 'finite-difference';
  json?: boolean;
  backend?: (typeof BACKENDS)[number];
  threads?: number;
}

/** Finds the model directory and, when there is one, the run record of `--run`. */
async function locate(runArg: string): Promise<{ modelDir: string; record: RunRecord | null }> {
  const dir = resolve(runArg);
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new UsageError(`--run ${runArg}: no such directory`);
  const { readRecordFile } = await import('../../experiments/store.js');
  const read = (file: string): RunRecord => {
    try {
      return readRecordFile(file);
    } catch (err) {
      throw new UsageError(`--run ${runArg}: ${(err as Error).message}`);
    }
  };
  if (existsSync(join(dir, 'record.json'))) {
    const record = read(join(dir, 'record.json'));
    const modelDir = join(dir, record.modelDir ?? 'model');
    if (!existsSync(join(modelDir, 'model.json'))) {
      throw new UsageError(`--run ${runArg}: the run (status ${record.status}) has no saved model; only finished runs save one`);
    }
    return { modelDir, record };
  }
  if (existsSync(join(dir, 'model.json'))) {
    const parentRecord = join(dirname(dir), 'record.json');
    return { modelDir: dir, record: existsSync(parentRecord) ? read(parentRecord) : null };
  }
  throw new UsageError(`--run ${runArg}: neither a run directory (record.json) nor a model directory (model.json)`);
}

/** The spec whose data the model is measured on: the run's, with dataset flags applied. */
function dataSpec(record: RunRecord | null, flags: MeasureFlags): RunSpec {
  const given = flags.dataset !== undefined;
  if (!record && !given) throw new UsageError('--run names a model without a run record, so --dataset is required');
  let dataset: Record<string, unknown>;
  if (given && (!record || record.spec.dataset.name !== flags.dataset)) dataset = { name: flags.dataset };
  else dataset = { ...record!.spec.dataset };
  if (flags.dataDir !== undefined) dataset.dir = flags.dataDir;
  if (flags.n !== undefined) dataset.n = flags.n;
  if (flags.noise !== undefined) dataset.noise = flags.noise;
  if (flags.testFraction !== undefined) dataset.testFraction = flags.testFraction;
  // Only the dataset (and its split seed) matters here; the rest makes the spec valid.
  const base: RunSpec = record?.spec ?? {
    dataset: { name: 'moons' },
    model: flags.dataset === 'moons' ? 'mlp' : 'cnn',
    optimizer: { name: 'sgd' },
    base: { name: 'sgd', learningRate: 0.1 },
    epochs: 1,
    batchSize: 1,
    seed: flags.seed,
  };
  const model = dataset.name === 'moons' ? 'mlp' : base.model;
  return validateSpec({ ...base, dataset, model }, 'the dataset flags');
}

/** Registers `measure` on the program. */
export function registerMeasure(program: Command): void {
  program
    .command('measure')
    .description('measure the sharpness of a saved model: sigma_max, Hessian trace, surrogate gap, 2h/rho^2')
    .requiredOption('--run <dir>', 'a run directory (<results>/<runId>) or a model directory (model.json)')
    .addOption(new Option('--dataset <name>', "dataset (default: the run's)").choices(DATASETS))
    .option('--data-dir <dir>', 'directory of IDX files for --dataset idx')
    .option('--n <count>', 'moons points / mnist digits to load', positiveInt)
    .option('--noise <sd>', 'moons noise', nonNegativeNumber)
    .option('--test-fraction <f>', 'fraction held out for testing', openUnitInterval)
    .addOption(new Option('--split <which>', "examples from the run's train or test split").choices(['train', 'test']).default('test'))
    .option('--examples <count>', 'number of examples (the first ones of the split)', positiveInt, 512)
    .option('--rho <r>', `surrogate-gap radius (default ${MEASURE_RHO}, the radius every run's record is measured at, whatever rho it trained with)`, positiveNumber)
    .option('--seed <seed>', 'seed of the random start and probe vectors (and of the split without a record)', nonNegativeInt, 0)
    .option('--samples <count>', 'Hutchinson probes for the trace', positiveInt, 20)
    .option('--max-iterations <count>', 'power-iteration cap', positiveInt, 100)
    .option('--tol <t>', 'power-iteration relative tolerance', openUnitInterval, 1e-4)
    .addOption(
      new Option('--method <m>', 'Hessian-vector products').choices(['auto', 'double-backprop', 'finite-difference']).default('auto'),
    )
    .option('--json', 'print the measures as JSON')
    .addOption(new Option('--backend <name>', 'tfjs backend (default auto)').choices(BACKENDS))
    .option('--threads <count>', 'wasm threads', positiveInt)
    .action(async (flags: MeasureFlags) => {
      checkBackendFlags(flags);
      if (flags.samples < 2) throw new UsageError("option '--samples <count>' argument must be >= 2 (the trace's standard error needs two probes)");
      if (flags.maxIterations < 2) throw new UsageError("option '--max-iterations <count>' argument must be >= 2");
      const { modelDir, record } = await locate(flags.run);
      const spec = dataSpec(record, flags);
      const rho = flags.rho ?? MEASURE_RHO;
      const rhoNote = flags.rho === undefined ? 'the common measuring radius, the same for every run; --rho to change' : 'set by --rho';

      const { initBackend } = await import('../../backend/index.js');
      const backend = await initBackend({
        ...(flags.backend !== undefined ? { backend: flags.backend } : {}),
        ...(flags.threads !== undefined ? { threads: flags.threads } : {}),
      });
      process.stderr.write(`${backendLine(backend)}\n`);
      const tf = await import('@tensorflow/tfjs');
      const { loadModel } = await import('../../experiments/modelStore.js');
      const { loadRunData, runSeeds } = await import('../../experiments/runData.js');
      const { toTensors } = await import('../../data/index.js');
      const sharp = await import('../../sharpness/index.js');

      const model = await loadModel(modelDir);
      const { train, test } = loadRunData(spec, runSeeds(spec.seed));
      const ds = flags.split === 'train' ? train : test;
      const n = Math.min(flags.examples, ds.size);
      if (n === 0) throw new UsageError(`the ${flags.split} split of ${ds.name} has no examples`);
      const inputShape = model.inputs[0]!.shape.slice(1) as number[];
      const perExample = inputShape.reduce((a, b) => a * b, 1);
      const dsPerExample = ds.exampleShape.reduce((a, b) => a * b, 1);
      if (perExample !== dsPerExample) {
        throw new UsageError(
          `the model takes inputs of shape [${inputShape}] but ${ds.name} examples have shape [${ds.exampleShape}]; pass the model's --dataset`,
        );
      }
      const { x: rawX, y } = toTensors(ds, Int32Array.from({ length: n }, (_, i) => i));
      const x = rawX.reshape([n, ...inputShape]);
      const started = performance.now();
      try {
        const obj = sharp.modelObjective(model, x, y);
        const eig = sharp.hessianTopEigenvalue(obj, { seed: flags.seed, maxIterations: flags.maxIterations, tol: flags.tol, method: flags.method });
        const trace = sharp.hessianTrace(obj, { seed: flags.seed, samples: flags.samples, method: flags.method });
        const gap = sharp.surrogateGap(obj, { rho });
        const seconds = (performance.now() - started) / 1000;
        const result = {
          model: modelDir,
          dataset: spec.dataset,
          split: flags.split,
          examples: n,
          backend: backend.name,
          loss: gap.loss,
          sigmaMax: eig,
          trace,
          surrogateGap: { rho, rhoIsCommon: flags.rho === undefined, ...gap },
          seconds,
        };
        if (flags.json) {
          process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
          return;
        }
        const p = (v: number): string => (Number.isFinite(v) ? v.toPrecision(5) : String(v));
        process.stdout.write(
          [
            `model ${modelDir}`,
            `  on the first ${n} ${flags.split} examples of ${spec.dataset.name} (backend ${backend.name}), loss ${p(gap.loss)}`,
            `  sigma_max      ${p(eig.value)}  (power iteration, ${eig.iterations} Hessian-vector products, ${eig.converged ? 'converged' : 'NOT converged'} at tol ${flags.tol}, ${eig.method})`,
            `  Hessian trace  ${p(trace.value)} ± ${p(trace.stdError)}  (Hutchinson, ${trace.samples} Rademacher probes, ${trace.method}; ± is the standard error)`,
            `  surrogate gap  ${p(gap.gap)}  at rho ${rho} (${rhoNote})  (L(w+e) = ${p(gap.perturbedLoss)}, L(w) = ${p(gap.loss)})`,
            `  Lemma 3        2h/rho^2 = ${p(gap.lemma3SigmaMax)}  (near a minimum this approximates sigma_max = ${p(eig.value)})`,
            `  ${seconds.toFixed(1)} s`,
          ].join('\n') + '\n',
        );
      } finally {
        tf.dispose([rawX, x, y]);
        model.dispose();
      }
    });
}
