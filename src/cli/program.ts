/**
 * The `flatminima` program: commander wiring and the mapping of errors to exit codes.
 */
import { Command, CommanderError } from 'commander';
import { EXIT_FAILURE, EXIT_USAGE, UsageError } from './errors.js';
import { registerTrain } from './commands/train.js';
import { registerCompare } from './commands/compare.js';
import { registerReproduce } from './commands/reproduce.js';
import { registerMeasure } from './commands/measure.js';
import { registerReport } from './commands/report.js';
import { registerSweep } from './commands/sweep.js';
import { registerAnalyze } from './commands/analyze.js';
import { registerWorker } from './commands/worker.js';
import { registerBuildNative } from './commands/build-native.js';
import { packageVersion } from '../util/version.js';

/** Builds the program (exported so tests and embedders can inspect it without running it). */
export function buildProgram(): Command {
  const program = new Command('flatminima')
    .description('Sharpness-aware training (SAM, ASAM, GSAM, Adaptive-GSAM) on TensorFlow.js')
    .version(packageVersion())
    // Settings set before the subcommands are created are inherited by them.
    .exitOverride()
    .showHelpAfterError('(add --help for usage)')
    .configureOutput({ writeErr: (s) => process.stderr.write(s), writeOut: (s) => process.stdout.write(s) });
  registerTrain(program);
  registerCompare(program);
  registerSweep(program);
  registerWorker(program);
  registerReproduce(program);
  registerMeasure(program);
  registerReport(program);
  registerAnalyze(program);
  registerBuildNative(program);
  return program;
}

/** Runs the CLI on `argv` (as process.argv) and returns the exit code. */
export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
    // An action reports a failed or diverged run through process.exitCode.
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (err) {
    if (err instanceof CommanderError) {
      // commander has printed its message already; help and version are not errors.
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help') return 0;
      if (err.code === 'commander.executeSubCommandAsync') return EXIT_FAILURE;
      return EXIT_USAGE;
    }
    if (err instanceof UsageError) {
      for (const p of err.problems) process.stderr.write(`error: ${p}\n`);
      return EXIT_USAGE;
    }
    const e = err as Error;
    process.stderr.write(`error: ${e?.message ?? String(err)}\n`);
    if (process.env.FLATMINIMA_DEBUG) process.stderr.write(`${e?.stack ?? ''}\n`);
    return EXIT_FAILURE;
  }
}
