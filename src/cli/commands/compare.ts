/**
 * `flatminima compare`: every listed optimiser x every seed on the same data and budget, in
 * parallel; prints the mean ± std table and writes summary.md/.csv/.json and the HTML report.
 * Re-running with the same results directory resumes interrupted runs and skips finished ones.
 */
import { availableParallelism } from 'node:os';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { EXIT_FAILURE, UsageError } from '../errors.js';
import { choiceList, nonNegativeInt, positiveInt } from '../parsers.js';
import {
  OPTIMIZERS,
  OPTIMIZER_PARAMS,
  REPORT_OPTIMIZERS,
  RUN_DEFAULTS,
  addRunOptions,
  buildSpec,
  readSpecFile,
  type OptimizerName,
  type RunFlags,
  checkBackendFlags,
} from '../specs.js';
import { buildReport, runBatch, summarizeWithNotes, writeSummaries } from '../batch.js';
import { addQueueOptions, executeWithProgress, queueExecutorFrom, submitOrCollect, type QueueFlags } from '../queueRun.js';
import { formatMarkdownTable } from '../../report/tables.js';
import { describeSpec } from '../format.js';
import type { RunSpec } from '../../experiments/schema.js';

interface CompareFlags extends RunFlags, QueueFlags {
  optimizers?: OptimizerName[];
  seeds?: number;
  firstSeed?: number;
  jobs?: number;
}

/** Optimiser-setting flags and the spec key each sets, to check that each applies to some method. */
const SETTING_FLAGS = [
  ['rho', '--rho'],
  ['alpha', '--alpha'],
  ['eta', '--eta'],
  ['gamma', '--gamma'],
  ['ascent', '--ascent'],
  ['scope', '--scope'],
  ['rhoSchedule', '--rho-schedule'],
  ['rhoMin', '--rho-min'],
] as const;

/** Registers `compare` on the program. */
export function registerCompare(program: Command): void {
  const cmd = program
    .command('compare')
    .description('run several optimisers over several seeds and tabulate mean ± std (parallel)')
    .option('--optimizers <list>', `comma-separated optimisers (default ${REPORT_OPTIMIZERS.join(',')})`, choiceList(OPTIMIZERS))
    .option('--seeds <count>', 'number of seeds per optimiser (default 5)', positiveInt)
    .option('--first-seed <seed>', 'seeds run from this one upwards (default 0)', nonNegativeInt)
    .option('--jobs <count>', `parallel runs (default: number of cores, here ${availableParallelism()})`, positiveInt);
  addRunOptions(cmd);
  addQueueOptions(cmd);
  cmd.action(async (flags: CompareFlags) => {
    checkBackendFlags(flags);
    const optimizers = flags.optimizers ?? [...REPORT_OPTIMIZERS];
    for (const [key, flag] of SETTING_FLAGS) {
      if (flags[key] !== undefined && !optimizers.some((o) => OPTIMIZER_PARAMS[o].includes(key))) {
        const takers = OPTIMIZERS.filter((o) => OPTIMIZER_PARAMS[o].includes(key));
        throw new UsageError(`${flag} applies to none of --optimizers ${optimizers.join(',')} (it applies to ${takers.join(', ')})`);
      }
    }
    const fileSpec = flags.spec !== undefined ? readSpecFile(flags.spec) : undefined;
    const seeds = Array.from({ length: flags.seeds ?? 5 }, (_, i) => (flags.firstSeed ?? 0) + i);
    const specs: RunSpec[] = [];
    for (const opt of optimizers) {
      for (const seed of seeds) specs.push(buildSpec(flags, opt, seed, { strictOptimizerFlags: false, fileSpec }));
    }
    const resultsDir = resolve(flags.results ?? RUN_DEFAULTS.results);
    const jobs = flags.jobs ?? availableParallelism();
    const queue = await queueExecutorFrom(flags, {
      ...(flags.backend !== undefined ? { backend: flags.backend } : {}),
      ...(flags.checkpointEvery !== undefined ? { checkpointEvery: flags.checkpointEvery } : {}),
    });
    process.stderr.write(
      `compare: ${optimizers.join(', ')} x seeds ${seeds.join(',')} = ${specs.length} runs, ${queue?.description ?? `${jobs} in parallel`}\n` +
        specs
          .filter((s) => s.seed === seeds[0])
          .map((s) => `  ${describeSpec(s).replace(/; seed \d+$/, '')}\n`)
          .join('') +
        `  results ${resultsDir}\n`,
    );
    const mode = flags.detach ? 'detach' : flags.collect ? 'collect' : null;
    const records =
      queue === null
        ? await runBatch(specs, {
            resultsDir,
            jobs,
            ...(flags.backend !== undefined ? { backend: flags.backend } : {}),
            ...(flags.threads !== undefined ? { threads: flags.threads } : {}),
          })
        : mode === null
          ? await executeWithProgress(queue, specs, resultsDir)
          : await submitOrCollect(queue, mode, specs, resultsDir);
    if (records === null) return;
    const { summary, notes, failed } = summarizeWithNotes(records);
    process.stdout.write(`\n${formatMarkdownTable(summary)}`);
    process.stdout.write('(mean ± sample std over seeds of the final epoch; diverged runs are counted, not averaged)\n');
    for (const n of notes) process.stdout.write(`${n}\n`);
    if (failed > 0) process.exitCode = EXIT_FAILURE;
    const files = writeSummaries(resultsDir, summary);
    process.stdout.write(`summaries: ${files.markdown}, ${files.csv}, ${files.json}\n`);
    const report = await buildReport(resultsDir);
    if ('htmlPath' in report) process.stdout.write(`report: ${report.htmlPath}\n`);
    else process.stderr.write(`warning: the HTML report could not be written: ${report.error}\n`);
  });
}
