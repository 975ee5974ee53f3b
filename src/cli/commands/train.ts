/**
 * `flatminima train`: one run with a live progress bar, then a summary of what it gave and where
 * it was written. `--resume <run dir>` continues a checkpointed run from that directory.
 */
import { existsSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { Option, type Command } from 'commander';
import { UsageError, EXIT_FAILURE } from '../errors.js';
import { nonNegativeInt } from '../parsers.js';
import { OPTIMIZERS, RUN_DEFAULTS, addRunOptions, buildSpec, readSpecFile, type OptimizerName, type RunFlags, checkBackendFlags } from '../specs.js';
import { createProgressView } from '../progress.js';
import { describeSpec, formatRecordSummary } from '../format.js';
import type { RunSpec } from '../../experiments/schema.js';

/** Flags of `train` beyond the shared run flags. */
interface TrainFlags extends RunFlags {
  optimizer?: OptimizerName;
  seed?: number;
  resume?: string;
}

/** Flags that change what a run is; they cannot be combined with --resume. */
const SPEC_FLAGS = [
  'spec', 'dataset', 'dataDir', 'n', 'noise', 'testFraction', 'maxTrain', 'maxTest', 'model', 'optimizer', 'rho', 'alpha',
  'eta', 'gamma', 'ascent', 'scope', 'rhoSchedule', 'rhoMin', 'base', 'lr', 'momentum', 'weightDecay', 'lrSchedule',
  'epochs', 'batchSize', 'seed', 'measure', 'results',
] as const;

/** Reads the spec and results directory of a run directory to resume. */
async function resumeTarget(runDirArg: string): Promise<{ spec: RunSpec; resultsDir: string }> {
  const dir = resolve(runDirArg);
  const recordFile = join(dir, 'record.json');
  if (!existsSync(dir)) throw new UsageError(`--resume ${runDirArg}: no such directory`);
  if (!existsSync(recordFile)) {
    throw new UsageError(
      `--resume ${runDirArg}: not a run directory with a record (pass <results>/<runId>; a run stopped before ` +
        'its first epoch ended has nothing to resume: start it again with the same flags)',
    );
  }
  const { readRecordFile } = await import('../../experiments/store.js');
  let spec: RunSpec;
  try {
    spec = readRecordFile(recordFile).spec;
  } catch (err) {
    throw new UsageError(`--resume ${runDirArg}: ${(err as Error).message}`);
  }
  const { runId } = await import('../../experiments/runner.js');
  const id = runId(spec);
  if (id !== basename(dir)) {
    throw new UsageError(`--resume ${runDirArg}: its record is of run ${id}, but the directory is named ${basename(dir)}; pass the run's own directory`);
  }
  return { spec, resultsDir: dirname(dir) };
}

/** Registers `train` on the program. */
export function registerTrain(program: Command): void {
  const cmd = program
    .command('train')
    .description('train one model with a (sharpness-aware) optimiser, with a live progress bar')
    .addOption(new Option('--optimizer <name>', 'optimiser (default sgd)').choices(OPTIMIZERS))
    .option('--seed <seed>', 'seed of data, initial weights and data order (default 0)', nonNegativeInt)
    .option('--resume <runDir>', 'continue the checkpointed run in <results>/<runId> (no other run flags)');
  addRunOptions(cmd);
  cmd.action(async (flags: TrainFlags, command: Command) => {
    checkBackendFlags(flags);
    let spec: RunSpec;
    let resultsDir: string;
    if (flags.resume !== undefined) {
      const given = SPEC_FLAGS.filter((f) => command.getOptionValueSource(f) === 'cli');
      if (given.length > 0) {
        const names = given.map((f) => `--${f.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`);
        throw new UsageError(`--resume continues a run exactly as it was specified; drop ${names.join(', ')}`);
      }
      ({ spec, resultsDir } = await resumeTarget(flags.resume));
    } else {
      const fileSpec = flags.spec !== undefined ? readSpecFile(flags.spec) : undefined;
      spec = buildSpec(flags, flags.optimizer, flags.seed, { strictOptimizerFlags: true, fileSpec });
      resultsDir = resolve(flags.results ?? RUN_DEFAULTS.results);
    }
    const { runSpec, runId } = await import('../../experiments/runner.js');
    const id = runId(spec);
    const runPath = join(resultsDir, id);
    // Training runs synchronously between checkpoints, so Ctrl-C keeps its default (stop now); the
    // checkpoint of the last finished epoch stays.
    process.stderr.write(
      `run ${id}\n  ${describeSpec(spec)}\n  results ${runPath}\n` +
        `  (if stopped, \`flatminima train --resume ${runPath}\` continues from the last finished epoch)\n`,
    );

    const view = createProgressView();
    let record;
    try {
      record = await runSpec(spec, {
        resultsDir,
        onProgress: (p) => view.update(p),
        ...(flags.backend !== undefined ? { backend: flags.backend } : {}),
        ...(flags.threads !== undefined ? { threads: flags.threads } : {}),
        ...(flags.checkpointEvery !== undefined ? { checkpointEvery: flags.checkpointEvery } : {}),
      });
    } finally {
      view.finish(id);
      view.stop();
    }
    process.stdout.write(formatRecordSummary(record, resultsDir));
    if (record.status !== 'complete') process.exitCode = EXIT_FAILURE;
  });
}
