/**
 * `flatminima train`: one run with a live progress bar, then a summary of what it gave and where
 * it was written. `--resume <run dir>` continues a checkpointed run from that directory. Ctrl-C
 * stops the run at its next step, prints where its checkpoint is and the exact `--resume` command,
 * and exits with code 130.
 */
import { existsSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { Option, type Command } from 'commander';
import { UsageError, EXIT_FAILURE, EXIT_INTERRUPTED } from '../errors.js';
import { nonNegativeInt } from '../parsers.js';
import {
  OPTIMIZERS,
  RUN_DEFAULTS,
  addRunOptions,
  buildSpec,
  readSpecFile,
  type OptimizerName,
  type RunFlags,
  checkBackendFlags,
} from '../specs.js';
import { createProgressView } from '../progress.js';
import { describeSpec, formatRecordSummary } from '../format.js';
import { backendLine } from '../backend-line.js';
import type { RunRecord, RunSpec } from '../../experiments/schema.js';
import type { Progress } from '../../experiments/runner.js';

/** Flags of `train` beyond the shared run flags. */
interface TrainFlags extends RunFlags {
  optimizer?: OptimizerName;
  seed?: number;
  resume?: string;
}

/** Flags that change what a run is; they cannot be combined with --resume. */
const SPEC_FLAGS = [
  'spec',
  'dataset',
  'dataDir',
  'n',
  'noise',
  'testFraction',
  'maxTrain',
  'maxTest',
  'model',
  'optimizer',
  'rho',
  'alpha',
  'eta',
  'gamma',
  'ascent',
  'scope',
  'rhoSchedule',
  'rhoMin',
  'base',
  'lr',
  'momentum',
  'weightDecay',
  'lrSchedule',
  'epochs',
  'batchSize',
  'seed',
  'measure',
  'results',
] as const;

/** `arg` quoted for a POSIX shell when it holds anything but plainly safe characters. */
function shellQuote(arg: string): string {
  return /^[A-Za-z0-9_./:=@%+-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`;
}

/** The command that resumes the run in `runPath`, with the flags given that do not change the run. */
function resumeCommand(runPath: string, flags: TrainFlags): string {
  const parts = ['flatminima', 'train', '--resume', runPath];
  if (flags.backend !== undefined) parts.push('--backend', flags.backend);
  if (flags.threads !== undefined) parts.push('--threads', String(flags.threads));
  if (flags.checkpointEvery !== undefined) parts.push('--checkpoint-every', String(flags.checkpointEvery));
  return parts.map(shellQuote).join(' ');
}

/** What to tell the user after Ctrl-C stopped the run: where it stopped, its checkpoint, how to go on. */
async function interruptionNote(record: RunRecord, runPath: string, last: Progress | null, flags: TrainFlags): Promise<string> {
  const { loadCheckpoint } = await import('../../experiments/checkpoint.js');
  const where =
    last === null
      ? 'before the first step'
      : last.step === last.stepsPerEpoch
        ? `after epoch ${last.epoch}/${last.epochs}`
        : `in epoch ${last.epoch}/${last.epochs} after step ${last.step}/${last.stepsPerEpoch}`;
  let checkpoint: { file: string; epoch: number } | null = null;
  try {
    const ck = loadCheckpoint(runPath);
    if (ck !== null) checkpoint = { file: ck.file, epoch: ck.data.epoch };
  } catch (err) {
    return `interrupted ${where}; the checkpoint in ${runPath} cannot be read (${(err as Error).message}); start the run again\n`;
  }
  if (checkpoint === null) {
    return (
      `interrupted ${where}, before the run's first checkpoint was written: nothing to resume; ` +
      'run the same command again to start over\n'
    );
  }
  return (
    `interrupted ${where}\n` +
    `  checkpoint (end of epoch ${checkpoint.epoch}/${record.spec.epochs}): ${checkpoint.file}\n` +
    `  resume with: ${resumeCommand(runPath, flags)}\n`
  );
}

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
    throw new UsageError(
      `--resume ${runDirArg}: its record is of run ${id}, but the directory is named ${basename(dir)}; pass the run's own directory`,
    );
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
    // Started here to print what runs (runSpec starts the same backend again, which is cheap).
    const { initBackend } = await import('../../backend/index.js');
    const backend = await initBackend({
      ...(flags.backend !== undefined ? { backend: flags.backend } : {}),
      ...(flags.threads !== undefined ? { threads: flags.threads } : {}),
    });
    process.stderr.write(
      `run ${id}\n  ${describeSpec(spec)}\n  ${backendLine(backend)}\n  results ${runPath}\n` +
        `  (Ctrl-C stops it; \`${resumeCommand(runPath, flags)}\` continues from the last finished epoch)\n`,
    );

    const view = createProgressView();
    // The first Ctrl-C asks the run to stop at its next step (the training loop yields to the event
    // loop often enough for this handler to run); a second one quits at once.
    const stop = new AbortController();
    const onSigint = (): void => {
      if (stop.signal.aborted) process.exit(EXIT_INTERRUPTED);
      stop.abort();
      view.stop();
      process.stderr.write('\nstopping at the next step (Ctrl-C again to quit at once)\n');
    };
    process.on('SIGINT', onSigint);
    let last: Progress | null = null;
    let record: RunRecord;
    try {
      record = await runSpec(spec, {
        resultsDir,
        signal: stop.signal,
        onProgress: (p) => {
          last = p;
          if (!stop.signal.aborted) view.update(p);
          // The final evaluation and measurements do not yield: from here Ctrl-C stops at once again.
          if (p.epoch === p.epochs && p.step === p.stepsPerEpoch) process.off('SIGINT', onSigint);
        },
        ...(flags.backend !== undefined ? { backend: flags.backend } : {}),
        ...(flags.threads !== undefined ? { threads: flags.threads } : {}),
        ...(flags.checkpointEvery !== undefined ? { checkpointEvery: flags.checkpointEvery } : {}),
      });
    } finally {
      process.off('SIGINT', onSigint);
      if (!stop.signal.aborted) view.finish(id); // after Ctrl-C the bars were stopped already
      view.stop();
    }
    if (stop.signal.aborted && record.status === 'running') {
      process.stderr.write(await interruptionNote(record, runPath, last, flags));
      process.exitCode = EXIT_INTERRUPTED;
      return;
    }
    process.stdout.write(formatRecordSummary(record, resultsDir));
    if (record.status !== 'complete') process.exitCode = EXIT_FAILURE;
  });
}
