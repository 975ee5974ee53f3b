/**
 * `flatminima measure`: the sharpness of a saved model (a run directory, or a model directory with
 * model.json) on examples of its dataset: the Hessian's top eigenvalue sigma_max (power iteration),
 * its trace (Hutchinson), the surrogate gap h at rho and Lemma 3's estimate 2h/rho², and on request
 * the k largest eigenvalues, the spectral density and per-layer blocks. rho defaults to MEASURE_RHO,
 * the one radius the runner measures every run at (not the run's training rho), so numbers from
 * different runs and methods compare like with like. This module reads flags and prints; the work is
 * experiments/measureModel.ts's measureSavedModel.
 */
import { existsSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { InvalidArgumentError, Option, type Command } from 'commander';
import { UsageError } from '../errors.js';
import { nonNegativeInt, nonNegativeNumber, openUnitInterval, positiveInt, positiveNumber, threadCount } from '../parsers.js';
import { BACKENDS, DATASETS, validateSpec, checkBackendFlags } from '../specs.js';
import { backendLine } from '../backend-line.js';
import type { RunRecord, RunSpec } from '../../experiments/schema.js';
import type { SavedModelMeasurement } from '../../experiments/measureModel.js';
import { MEASURE_RHO } from '../../experiments/measurement.js';

interface MeasureFlags {
  run: string;
  dataset?: (typeof DATASETS)[number];
  dataDir?: string;
  n?: number;
  noise?: number;
  testFraction?: number;
  split: 'train' | 'test';
  examples: number | 'all';
  chunkSize: number;
  rho?: number;
  seed: number;
  samples: number;
  maxIterations: number;
  tol: number;
  method: 'auto' | 'double-backprop' | 'finite-difference';
  topK?: number;
  density?: boolean;
  densityRuns?: number;
  densityIterations?: number;
  sigma?: number;
  gridPoints?: number;
  layers?: boolean;
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

/** `--examples`: a whole number >= 1 or 'all'. */
function examplesCount(value: string): number | 'all' {
  if (value === 'all') return 'all';
  try {
    return positiveInt(value);
  } catch {
    throw new InvalidArgumentError("Expected a whole number >= 1 or 'all'.");
  }
}

/** Flags that only mean something with --density. */
const DENSITY_FLAGS = [
  ['densityRuns', '--density-runs'],
  ['densityIterations', '--density-iterations'],
  ['sigma', '--sigma'],
  ['gridPoints', '--grid-points'],
] as const;

const p = (v: number): string => (Number.isFinite(v) ? v.toPrecision(5) : String(v));

/** The measurement as readable lines. */
function describe(r: SavedModelMeasurement, flags: MeasureFlags, backend: string, rhoNote: string): string[] {
  const m = r.measures;
  const eig = m.topEigenvalue;
  const trace = m.trace;
  const gap = m.surrogateGap;
  const lines = [
    `model ${r.modelDir}`,
    `  on the first ${r.examples} ${r.split} examples of ${r.dataset.name} (backend ${backend}), loss ${p(m.loss)}`,
    `  sigma_max      ${p(eig.value)}  (power iteration, ${eig.iterations} Hessian-vector products, ${eig.converged ? 'converged' : 'NOT converged'} at tol ${flags.tol}, ${eig.method})`,
    `  Hessian trace  ${p(trace.value)} ± ${p(trace.stdError)}  (Hutchinson, ${trace.samples} Rademacher probes, ${trace.method}; ± is the standard error)`,
    `  surrogate gap  ${p(gap.gap)}  at rho ${gap.rho} (${rhoNote})  (L(w+e) = ${p(gap.perturbedLoss)}, L(w) = ${p(gap.loss)})`,
    `  Lemma 3        2h/rho^2 = ${p(gap.lemma3SigmaMax)}  (near a minimum this approximates sigma_max = ${p(eig.value)})`,
  ];
  if (m.topEigenvalues) {
    const t = m.topEigenvalues;
    const missed = t.converged.filter((c) => !c).length;
    lines.push(
      `  top-${t.values.length} eigenvalues  ${t.values.map(p).join(', ')}  (Lanczos, ${t.iterations} Hessian-vector products, ${missed === 0 ? 'all converged' : `${missed} NOT converged`})`,
    );
  }
  if (m.density) {
    const d = m.density;
    const width = d.grid[1] - d.grid[0];
    const negative = d.density.reduce((s, v, i) => s + (d.grid[i] < 0 ? v * width : 0), 0);
    const ritz = d.runs.flatMap((run) => run.ritzValues);
    lines.push(
      `  density        ${d.runs.length} Lanczos runs, ${d.iterations} Hessian-vector products; Ritz values from ${p(Math.min(...ritz))} to ${p(Math.max(...ritz))}; ` +
        `sigma ${p(d.sigma)}; mass below 0: ${p(negative)}  (the grid and density are in --json)`,
    );
  }
  if (m.layers) {
    lines.push('  per layer (diagonal Hessian block of each variable):');
    for (const l of m.layers.layers) {
      const trace = l.traceMethod === 'exact' ? `${p(l.trace)} (exact)` : `${p(l.trace)} ± ${p(l.traceStdError)}`;
      lines.push(
        `    ${l.name} [${l.shape.join('x')}]  top eigenvalue ${p(l.topEigenvalue)}${l.topEigenvalueConverged ? '' : ' (NOT converged)'}  trace ${trace}`,
      );
    }
  }
  lines.push(`  ${r.seconds.toFixed(1)} s`);
  return lines;
}

/** The measurement as JSON (the same fields as before the spectrum, plus the spectrum when asked). */
function toJson(r: SavedModelMeasurement, backend: string, rhoIsCommon: boolean): Record<string, unknown> {
  const m = r.measures;
  const { rho, ...gap } = m.surrogateGap;
  const out: Record<string, unknown> = {
    model: r.modelDir,
    dataset: r.dataset,
    split: r.split,
    examples: r.examples,
    backend,
    loss: m.loss,
    sigmaMax: m.topEigenvalue,
    trace: m.trace,
    surrogateGap: { rho, rhoIsCommon, ...gap },
  };
  if (m.topEigenvalues) out.topEigenvalues = m.topEigenvalues;
  if (m.density) out.density = m.density;
  if (m.layers) out.layers = m.layers;
  out.seconds = r.seconds;
  return out;
}

/** Registers `measure` on the program. */
export function registerMeasure(program: Command): void {
  program
    .command('measure')
    .description(
      'measure the sharpness of a saved model: sigma_max, Hessian trace, surrogate gap, 2h/rho^2; top-k eigenvalues, spectral density, per layer',
    )
    .requiredOption('--run <dir>', 'a run directory (<results>/<runId>) or a model directory (model.json)')
    .addOption(new Option('--dataset <name>', "dataset (default: the run's)").choices(DATASETS))
    .option('--data-dir <dir>', 'directory of IDX files for --dataset idx')
    .option('--n <count>', 'moons points / mnist digits to load', positiveInt)
    .option('--noise <sd>', 'moons noise', nonNegativeNumber)
    .option('--test-fraction <f>', 'fraction held out for testing', openUnitInterval)
    .addOption(new Option('--split <which>', "examples from the run's train or test split").choices(['train', 'test']).default('test'))
    .option('--examples <count>', "number of examples (the first ones of the split), or 'all'", examplesCount, 512)
    .option('--chunk-size <count>', 'examples per chunk of the Hessian-vector products (memory holds one chunk)', positiveInt, 512)
    .option(
      '--rho <r>',
      `surrogate-gap radius (default ${MEASURE_RHO}, the radius every run's record is measured at, whatever rho it trained with)`,
      positiveNumber,
    )
    .option('--seed <seed>', 'seed of the random start and probe vectors (and of the split without a record)', nonNegativeInt, 0)
    .option('--samples <count>', 'Hutchinson probes for the trace', positiveInt, 20)
    .option('--max-iterations <count>', 'power-iteration cap', positiveInt, 100)
    .option('--tol <t>', 'power-iteration relative tolerance', openUnitInterval, 1e-4)
    .addOption(
      new Option('--method <m>', 'Hessian-vector products').choices(['auto', 'double-backprop', 'finite-difference']).default('auto'),
    )
    .option('--top-k <k>', 'also the k largest Hessian eigenvalues (Lanczos with full re-orthogonalisation)', positiveInt)
    .option('--density', 'also the eigenvalue spectral density (stochastic Lanczos quadrature)')
    .option('--density-runs <count>', 'with --density: Lanczos runs from independent start vectors (default 5)', positiveInt)
    .option('--density-iterations <count>', 'with --density: Lanczos steps per run (default 40)', positiveInt)
    .option(
      '--sigma <s>',
      "with --density: width of the Gaussian smoothing, in eigenvalue units (default 1% of the Ritz values' spread)",
      positiveNumber,
    )
    .option('--grid-points <count>', 'with --density: cells of the density grid (default 512)', positiveInt)
    .option('--layers', "also each layer variable's top Hessian eigenvalue and trace (its diagonal block)")
    .option('--json', 'print the measures as JSON')
    .addOption(new Option('--backend <name>', 'tfjs backend (default auto)').choices(BACKENDS))
    .option('--threads <count>', 'wasm threads', threadCount)
    .action(async (flags: MeasureFlags) => {
      checkBackendFlags(flags);
      if (flags.samples < 2)
        throw new UsageError("option '--samples <count>' argument must be >= 2 (the trace's standard error needs two probes)");
      if (flags.maxIterations < 2) throw new UsageError("option '--max-iterations <count>' argument must be >= 2");
      const stray = DENSITY_FLAGS.filter(([key]) => flags[key] !== undefined && !flags.density).map(
        ([, flag]) => `${flag} applies only with --density`,
      );
      if (stray.length > 0) throw new UsageError(stray);
      const { modelDir, record } = await locate(flags.run);
      const spec = dataSpec(record, flags);
      const rhoNote = flags.rho === undefined ? 'the common measuring radius, the same for every run; --rho to change' : 'set by --rho';

      const { initBackend } = await import('../../backend/index.js');
      const backend = await initBackend({
        ...(flags.backend !== undefined ? { backend: flags.backend } : {}),
        ...(flags.threads !== undefined ? { threads: flags.threads } : {}),
      });
      process.stderr.write(`${backendLine(backend)}\n`);
      const { measureSavedModel } = await import('../../experiments/measureModel.js');
      let result: SavedModelMeasurement;
      try {
        result = await measureSavedModel({
          modelDir,
          spec,
          split: flags.split,
          examples: flags.examples,
          chunkSize: flags.chunkSize,
          rho: flags.rho ?? MEASURE_RHO,
          seed: flags.seed,
          // The probes have always been drawn from --seed itself (a run's record uses seed + 1).
          traceSeed: flags.seed,
          traceSamples: flags.samples,
          maxIterations: flags.maxIterations,
          tol: flags.tol,
          method: flags.method,
          ...(flags.topK !== undefined ? { topK: flags.topK } : {}),
          ...(flags.density
            ? {
                density: { runs: flags.densityRuns, iterations: flags.densityIterations, sigma: flags.sigma, gridPoints: flags.gridPoints },
              }
            : {}),
          ...(flags.layers ? { layers: true } : {}),
        });
      } catch (err) {
        if (err instanceof RangeError && /examples have shape|has no examples/.test(err.message)) {
          throw new UsageError(
            err.message.replace(/^measureSavedModel: /, '') +
              (/examples have shape/.test(err.message) ? "; pass the model's --dataset" : ''),
          );
        }
        if (err instanceof RangeError && /measureSharpness: topK/.test(err.message)) throw new UsageError(`--top-k: ${err.message}`);
        throw err;
      }
      if (flags.json) {
        process.stdout.write(`${JSON.stringify(toJson(result, backend.name, flags.rho === undefined), null, 2)}\n`);
        return;
      }
      process.stdout.write(describe(result, flags, backend.name, rhoNote).join('\n') + '\n');
    });
}
