/**
 * Turns CLI flags (and an optional spec file) into validated run specs. Every setting is written
 * into the spec explicitly, so a record says exactly what ran; defaults live in one table here.
 */
import { readFileSync, statSync } from 'node:fs';
import { Option, type Command } from 'commander';
import type { OptimizerSpec, RunSpec } from '../experiments/schema.js';
import {
  DATASETS,
  DATASET_RUN_DEFAULTS,
  DEFAULT_OPTIMIZERS,
  OPTIMIZERS,
  OPTIMIZER_PARAMS,
  RUN_DEFAULTS,
  type OptimizerName,
} from '../experiments/defaults.js';
import { METHODS, SPEC_FIELDS, fieldFlag, methodsTaking, type SpecField } from '../optimizers/index.js';
import { ValidationError, parseRunSpec } from '../experiments/validate.js';
import { UsageError } from './errors.js';
import { nativeAddon, nativeRemedy } from '../backend/native.js';
import {
  momentumCoefficient,
  nonNegativeInt,
  nonNegativeNumber,
  numberInRange,
  openUnitInterval,
  positiveInt,
  positiveNumber,
  threadCount,
} from './parsers.js';

export {
  DATASETS,
  DATASET_RUN_DEFAULTS,
  DEFAULT_OPTIMIZERS,
  OPTIMIZERS,
  OPTIMIZER_PARAMS,
  REPORT_OPTIMIZERS,
  RUN_DEFAULTS,
  type OptimizerName,
} from '../experiments/defaults.js';
/** Backends `--backend` accepts. */
export const BACKENDS = ['auto', 'wasm', 'cpu', 'tensorflow', 'native'] as const;

/** The optimiser-setting flags: one per field of the method table, named as the field (commander camel-cases `--looksam-alpha` back to `looksamAlpha`). */
export type OptimizerFlags = Partial<Omit<OptimizerSpec, 'name'>>;

/** The flags shared by `train` and `compare`, as parsed by commander (all optional). */
export interface RunFlags extends OptimizerFlags {
  spec?: string;
  dataset?: (typeof DATASETS)[number];
  dataDir?: string;
  n?: number;
  noise?: number;
  testFraction?: number;
  maxTrain?: number;
  maxTest?: number;
  model?: 'mlp' | 'cnn';
  base?: 'sgd' | 'momentum' | 'adam';
  lr?: number;
  momentum?: number;
  weightDecay?: number;
  lrSchedule?: 'constant' | 'cosine' | 'step';
  epochs?: number;
  batchSize?: number;
  measure?: number;
  measureTopK?: number;
  measureDensity?: boolean;
  measureLayers?: boolean;
  results?: string;
  backend?: (typeof BACKENDS)[number];
  threads?: number;
  checkpointEvery?: number;
}

/** The optimiser-setting fields of the method table, in its order. */
export const OPTIMIZER_FIELDS = Object.keys(SPEC_FIELDS) as (keyof OptimizerFlags & string)[];

/**
 * The help of a field's flag, from the method table: its meaning, the methods that take it and
 * their defaults (`neighbourhood radius of the climb (sam 0.05, asam 0.5, ...)`).
 */
function fieldHelp(field: string, f: SpecField): string {
  const takers = methodsTaking(field);
  const defaults = METHODS.filter((m) => (m.defaults as Record<string, unknown>)[field] !== undefined).map(
    (m) => `${m.name} ${String((m.defaults as Record<string, unknown>)[field])}`,
  );
  const fallback = f.rule.default !== undefined ? `default ${String(f.rule.default)}` : '';
  const said = defaults.length > 0 ? `default: ${defaults.join(', ')}` : fallback;
  const who =
    takers.length === METHODS.length
      ? 'every method'
      : takers.length >= METHODS.length - 1
        ? `all but ${METHODS.filter((m) => !(takers as readonly string[]).includes(m.name))
            .map((m) => m.name)
            .join(', ')}`
        : takers.join('/');
  return `${who}: ${f.rule.help}${said ? ` (${said})` : ''}`;
}

/** Adds one flag per optimiser-setting field of the method table (choices or a range check from its rule). */
function addOptimizerOptions(cmd: Command): Command {
  for (const [field, f] of Object.entries(SPEC_FIELDS)) {
    const rule = f.rule;
    if (rule.type === 'choice') cmd.addOption(new Option(`${fieldFlag(field)} <name>`, fieldHelp(field, f)).choices(rule.choices));
    else cmd.option(`${fieldFlag(field)} <${rule.range.integer ? 'n' : 'x'}>`, fieldHelp(field, f), numberInRange(rule.range));
  }
  return cmd;
}

/** Adds the data, model, optimiser-setting, base-optimiser, budget and backend flags to a command. */
export function addRunOptions(cmd: Command): Command {
  cmd
    .option('--spec <file>', 'a run spec JSON file (see src/experiments/schema.ts); flags override its fields')
    .addOption(new Option('--dataset <name>', 'dataset (default: moons)').choices(DATASETS))
    .option('--data-dir <dir>', 'directory of IDX files (train-images-idx3-ubyte[.gz] ...) for --dataset idx')
    .option('--n <count>', 'moons: number of points (default 10000); mnist: digits used (default all 10000)', positiveInt)
    .option('--noise <sd>', 'moons: Gaussian noise (default 0.3)', nonNegativeNumber)
    .option('--test-fraction <f>', 'fraction held out for testing (moons, mnist; default 0.2)', openUnitInterval)
    .option('--max-train <count>', 'idx: cap on training examples', positiveInt)
    .option('--max-test <count>', 'idx: cap on test examples', positiveInt)
    .addOption(new Option('--model <name>', 'model (default: mlp for moons, cnn otherwise)').choices(['mlp', 'cnn']));
  addOptimizerOptions(cmd);
  return cmd
    .addOption(new Option('--base <name>', 'base optimiser (default momentum)').choices(['sgd', 'momentum', 'adam']))
    .option('--lr <rate>', 'learning rate (default: 0.05 moons, 0.02 mnist/idx)', positiveNumber)
    .option('--momentum <m>', 'momentum coefficient for --base momentum (default 0.9)', momentumCoefficient)
    .option('--weight-decay <wd>', 'coupled L2 weight decay (default 0)', nonNegativeNumber)
    .addOption(new Option('--lr-schedule <s>', 'learning-rate schedule (default constant)').choices(['constant', 'cosine', 'step']))
    .option('--epochs <count>', 'epochs (default: 50 moons, 25 mnist/idx)', positiveInt)
    .option('--batch-size <count>', 'mini-batch size (default 64)', positiveInt)
    .option(
      '--measure <examples>',
      'measure sharpness of the final model on this many test examples (0 = off; default 500 moons, 128 mnist/idx)',
      nonNegativeInt,
    )
    .option('--measure-top-k <k>', 'with --measure: also the k largest Hessian eigenvalues (Lanczos)', positiveInt)
    .option('--measure-density', "with --measure: also the Hessian's eigenvalue spectral density (stochastic Lanczos quadrature)")
    .option('--measure-layers', "with --measure: also each layer variable's top Hessian eigenvalue and trace")
    .option('--results <dir>', `results directory (default ${RUN_DEFAULTS.results})`)
    .option('--checkpoint-every <epochs>', 'write a checkpoint every this many epochs (default 1)', positiveInt)
    .addOption(
      new Option('--backend <name>', 'tfjs backend (default auto: tensorflow, else native, else wasm, else cpu)').choices(BACKENDS),
    )
    .option('--threads <count>', 'wasm (or native kernel) threads', threadCount);
}

/** Whether `path` is an existing directory. */
function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

/**
 * --threads only means something for the wasm and native backends (or auto, which may pick them);
 * --backend native needs the native addon built.
 */
export function checkBackendFlags(flags: { backend?: string; threads?: number }): void {
  if (flags.threads !== undefined && (flags.backend === 'cpu' || flags.backend === 'tensorflow')) {
    throw new UsageError(`--threads applies to --backend wasm, native or auto, not ${flags.backend}`);
  }
  if (flags.backend === 'native') {
    let status: ReturnType<typeof nativeAddon>;
    try {
      status = nativeAddon();
    } catch (err) {
      throw new UsageError(`--backend native: ${(err as Error).message}`);
    }
    if (!status.available) {
      throw new UsageError(`--backend native: the native kernels are ${status.reason}; ${nativeRemedy(status)}, or use --backend wasm`);
    }
  }
}

/** Reads and validates a spec file; every bad field is its own message. */
export function readSpecFile(path: string): RunSpec {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new UsageError(`--spec ${path}: cannot read the file (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new UsageError(`--spec ${path}: not valid JSON (${(err as Error).message})`);
  }
  try {
    return parseRunSpec(json, `spec file ${path}`);
  } catch (err) {
    if (err instanceof ValidationError) throw new UsageError(err.issues.map((i) => `--spec ${path}: ${i}`));
    throw err;
  }
}

/** The flag that sets each spec field, to name flags rather than fields in messages. */
const FIELD_FLAG: Readonly<Record<string, string>> = {
  'dataset.name': '--dataset',
  'dataset.n': '--n',
  'dataset.noise': '--noise',
  'dataset.testFraction': '--test-fraction',
  'dataset.dir': '--data-dir',
  'dataset.maxTrain': '--max-train',
  'dataset.maxTest': '--max-test',
  model: '--model',
  'optimizer.name': '--optimizer',
  ...Object.fromEntries(OPTIMIZER_FIELDS.map((field) => [`optimizer.${field}`, fieldFlag(field)])),
  'base.name': '--base',
  'base.learningRate': '--lr',
  'base.momentum': '--momentum',
  'base.weightDecay': '--weight-decay',
  'base.schedule': '--lr-schedule',
  epochs: '--epochs',
  batchSize: '--batch-size',
  seed: '--seed',
  measureExamples: '--measure',
  'measureSpectrum.topK': '--measure-top-k',
};

/** Validates a spec built from flags (and maybe a spec file); each problem names its flag where one sets the field. */
export function validateSpec(spec: unknown, what: string): RunSpec {
  try {
    return parseRunSpec(spec, what);
  } catch (err) {
    if (!(err instanceof ValidationError)) throw err;
    throw new UsageError(
      err.issues.map((issue) => {
        const colon = issue.indexOf(': ');
        const path = colon >= 0 ? issue.slice(0, colon) : '';
        const flag = FIELD_FLAG[path];
        return flag ? `${flag} (${path}): ${issue.slice(colon + 2)}` : `${what}: ${issue}`;
      }),
    );
  }
}

/** The optimiser settings set by flags (only those given). */
function optimizerFlags(flags: RunFlags): Partial<OptimizerSpec> {
  const given = flags as Readonly<Record<string, unknown>>;
  return Object.fromEntries(OPTIMIZER_FIELDS.filter((field) => given[field] !== undefined).map((field) => [field, given[field]]));
}

/**
 * The spec of one run from flags: start from the spec file (if any) or the defaults, then apply
 * every flag given. With `strictOptimizerFlags`, a setting flag the optimiser does not take is a
 * usage error; otherwise (compare) it is applied to the methods that take it.
 */
export function buildSpec(
  flags: RunFlags,
  optimizer: OptimizerName | undefined,
  seed: number | undefined,
  opts: { strictOptimizerFlags: boolean; fileSpec?: RunSpec },
): RunSpec {
  const file = opts.fileSpec;
  const datasetName = flags.dataset ?? file?.dataset.name ?? 'moons';
  const dd = DATASET_RUN_DEFAULTS[datasetName];
  const problems: string[] = [];

  // Dataset: the file's settings carry over only when it names the same dataset.
  const dataset: Record<string, unknown> = file && file.dataset.name === datasetName ? { ...file.dataset } : { name: datasetName };
  if (!file || file.dataset.name !== datasetName) {
    if (datasetName === 'moons') Object.assign(dataset, { n: DATASET_RUN_DEFAULTS.moons.n, noise: DATASET_RUN_DEFAULTS.moons.noise });
    if (datasetName !== 'idx') dataset.testFraction = DATASET_RUN_DEFAULTS[datasetName as 'moons' | 'mnist'].testFraction;
  }
  const dsFlag = (flag: string, key: string, value: unknown, allowed: readonly string[]): void => {
    if (value === undefined) return;
    if (!allowed.includes(datasetName)) problems.push(`${flag} applies only to --dataset ${allowed.join(' or ')}, not ${datasetName}`);
    else dataset[key] = value;
  };
  dsFlag('--data-dir', 'dir', flags.dataDir, ['idx']);
  dsFlag('--n', 'n', flags.n, ['moons', 'mnist']);
  dsFlag('--noise', 'noise', flags.noise, ['moons']);
  dsFlag('--test-fraction', 'testFraction', flags.testFraction, ['moons', 'mnist']);
  dsFlag('--max-train', 'maxTrain', flags.maxTrain, ['idx']);
  dsFlag('--max-test', 'maxTest', flags.maxTest, ['idx']);
  if (datasetName === 'idx' && dataset.dir === undefined) problems.push('--dataset idx needs --data-dir <dir> (a directory of IDX files)');
  if (flags.dataDir !== undefined && datasetName === 'idx' && !isDirectory(flags.dataDir)) {
    problems.push(`--data-dir ${flags.dataDir}: no such directory`);
  }

  // Optimiser: defaults for the method, then the file's settings (same method), then flags.
  const optName = optimizer ?? file?.optimizer.name ?? 'sgd';
  const allowed = OPTIMIZER_PARAMS[optName];
  const fromFlags = optimizerFlags(flags);
  const optSpec: Record<string, unknown> = { ...DEFAULT_OPTIMIZERS[optName] };
  if (file && file.optimizer.name === optName) Object.assign(optSpec, file.optimizer);
  for (const [key, value] of Object.entries(fromFlags) as [keyof OptimizerSpec, unknown][]) {
    if (allowed.includes(key)) optSpec[key] = value;
    else if (opts.strictOptimizerFlags) {
      const takers = OPTIMIZERS.filter((o) => OPTIMIZER_PARAMS[o].includes(key));
      problems.push(`${fieldFlag(key)} does not apply to --optimizer ${optName} (it applies to ${takers.join(', ')})`);
    }
  }

  const baseName = flags.base ?? file?.base.name ?? RUN_DEFAULTS.base;
  const base: Record<string, unknown> = file && file.base.name === baseName ? { ...file.base } : { name: baseName };
  base.learningRate = flags.lr ?? (base.learningRate as number | undefined) ?? dd.learningRate;
  if (baseName === 'momentum') base.momentum = flags.momentum ?? (base.momentum as number | undefined) ?? RUN_DEFAULTS.momentum;
  else if (flags.momentum !== undefined) problems.push(`--momentum applies only to --base momentum, not ${baseName}`);
  if (flags.weightDecay !== undefined) base.weightDecay = flags.weightDecay;
  base.weightDecay ??= 0;
  if (flags.lrSchedule !== undefined) base.schedule = flags.lrSchedule;
  base.schedule ??= 'constant';

  if (problems.length > 0) throw new UsageError(problems);

  const spec: Record<string, unknown> = {
    dataset,
    model: flags.model ?? (file && file.dataset.name === datasetName ? file.model : dd.model),
    optimizer: optSpec,
    base,
    epochs: flags.epochs ?? file?.epochs ?? dd.epochs,
    batchSize: flags.batchSize ?? file?.batchSize ?? RUN_DEFAULTS.batchSize,
    seed: seed ?? file?.seed ?? RUN_DEFAULTS.seed,
  };
  // A spec file is taken as written (no measureExamples = no measurement); otherwise the dataset's default.
  const measure = flags.measure ?? (file ? file.measureExamples : dd.measureExamples);
  if (measure !== undefined) spec.measureExamples = measure;
  const spectrum: Record<string, unknown> = { ...file?.measureSpectrum };
  if (flags.measureTopK !== undefined) spectrum.topK = flags.measureTopK;
  if (flags.measureDensity) spectrum.density = true;
  if (flags.measureLayers) spectrum.layers = true;
  if (Object.keys(spectrum).length > 0) {
    if (!((measure ?? 0) > 0))
      throw new UsageError('--measure-top-k, --measure-density and --measure-layers need sharpness measured (--measure > 0)');
    spec.measureSpectrum = spectrum;
  }
  // A spec file's own label is kept for a single run only; compare labels runs by method and seed.
  if (file?.name !== undefined && opts.strictOptimizerFlags) spec.name = file.name;
  return validateSpec(spec, file ? 'the spec file with the flags' : 'the flags');
}
