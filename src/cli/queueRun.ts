/**
 * What `sweep` and `compare` share to run on the queue: the flags (`--redis`, `--queue`, `--detach`,
 * `--collect`, `--attempts`), their checks, and the three ways of using it: wait for every record with
 * one progress bar (the default), submit and exit (`--detach`), gather what has finished (`--collect`).
 * The queue code is loaded only when a queue is asked for, so a local run never loads BullMQ.
 */
import type { Command } from 'commander';
import { EXIT_INTERRUPTED, EXIT_PENDING, UsageError } from './errors.js';
import { positiveInt } from './parsers.js';
import { SweepProgress } from './sweepProgress.js';
import type { BackendChoice } from '../experiments/runner.js';
import type { Executor } from '../experiments/executor.js';
import type { RunRecord, RunSpec } from '../experiments/schema.js';
import type { QueueExecutor } from '../experiments/queue/queueExecutor.js';

/** The queue flags as commander gives them. */
export interface QueueFlags {
  redis?: string;
  queue?: string;
  detach?: boolean;
  collect?: boolean;
  attempts?: number;
}

/** Adds the queue flags to a command that runs specs. */
export function addQueueOptions(cmd: Command): Command {
  return cmd
    .option(
      '--redis <url>',
      'run on the queue at this Redis (redis://[user:password@]host:port[/db], rediss:// for TLS; default $FLATMINIMA_REDIS); start workers with flatminima worker',
    )
    .option('--queue <name>', 'queue name (default flatminima-runs; workers must use the same)')
    .option('--detach', 'with a queue: submit the runs and exit; gather them later with --collect')
    .option('--collect', 'with a queue: gather the records of the runs that have finished, say which have not, and analyse when all have')
    .option('--attempts <count>', 'with a queue: tries per run for crashes and errors (default 3; exponential backoff)', positiveInt);
}

/**
 * The queue executor the flags ask for, or null to run locally. With a queue, `--jobs` and `--threads`
 * are usage errors: each worker's own `--concurrency` and `--threads` decide those.
 * @throws UsageError for a bad URL, a bad queue name, or flags that do not go together.
 */
export async function queueExecutorFrom(
  flags: QueueFlags & { jobs?: number; threads?: number },
  run: { backend?: BackendChoice; checkpointEvery?: number },
): Promise<QueueExecutor | null> {
  const { redisTargetFrom } = await import('../experiments/queue/connection.js');
  let target;
  try {
    target = redisTargetFrom(flags.redis);
  } catch (err) {
    if (err instanceof RangeError) throw new UsageError(err.message);
    throw err;
  }
  if (target === undefined) {
    const queueOnly = (['queue', 'detach', 'collect', 'attempts'] as const).filter((k) => flags[k] !== undefined);
    if (queueOnly.length > 0) throw new UsageError(`--${queueOnly[0]} needs a queue: give --redis <url> (or set FLATMINIMA_REDIS)`);
    return null;
  }
  if (flags.detach && flags.collect) throw new UsageError('--detach submits and --collect gathers: give one of them');
  for (const k of ['jobs', 'threads'] as const) {
    if (flags[k] !== undefined) {
      throw new UsageError(
        `--${k} is the local pool's; on a queue each worker decides (flatminima worker --concurrency <n> --threads <t>)`,
      );
    }
  }
  const { QueueExecutor } = await import('../experiments/queue/queueExecutor.js');
  try {
    return new QueueExecutor({
      redis: target,
      ...(flags.queue !== undefined ? { queue: flags.queue } : {}),
      ...(flags.attempts !== undefined ? { attempts: flags.attempts } : {}),
      ...(run.backend !== undefined ? { backend: run.backend } : {}),
      ...(run.checkpointEvery !== undefined ? { checkpointEvery: run.checkpointEvery } : {}),
    });
  } catch (err) {
    // The executor names its options as in code (checkpointEvery); the user typed flags.
    if (err instanceof RangeError)
      throw new UsageError(`--${err.message.replace(/^[a-zA-Z]+/, (k) => k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`))}`);
    throw err;
  }
}

/**
 * Runs `specs` on any executor with the sweep-wide progress bar; Ctrl-C exits with the executor's
 * note on what happens to the runs. Closes the executor.
 */
export async function executeWithProgress(executor: Executor, specs: readonly RunSpec[], resultsDir: string): Promise<RunRecord[]> {
  const progress = new SweepProgress(specs.length);
  const onSigint = (): void => {
    progress.stop();
    process.stderr.write(`\ninterrupted; ${executor.interruptNote ?? 'run the same command again to resume from the last checkpoints'}\n`);
    process.exit(EXIT_INTERRUPTED);
  };
  process.once('SIGINT', onSigint);
  try {
    return await executor.run(specs, { resultsDir, onEvent: (e) => progress.handle(e) });
  } finally {
    process.off('SIGINT', onSigint);
    progress.stop();
    await executor.close();
  }
}

/**
 * `--detach` and `--collect`: submits, or gathers, and prints what it did. Returns the records when
 * every run has one (the caller analyses them), null otherwise (the exit code is then set:
 * {@link EXIT_PENDING} while runs are unfinished). Closes the executor.
 */
export async function submitOrCollect(
  executor: QueueExecutor,
  mode: 'detach' | 'collect',
  specs: readonly RunSpec[],
  resultsDir: string,
): Promise<RunRecord[] | null> {
  // The command to type later: this one minus the mode flag, its password masked.
  const again = ['flatminima', ...process.argv.slice(2).filter((a) => a !== '--detach' && a !== '--collect')]
    .map((a) => executor.redact(/^[\w./:=@,%+-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`))
    .join(' ');
  try {
    if (mode === 'detach') {
      const s = await executor.submit(specs, { resultsDir });
      const todo = s.submitted.length + s.queued.length + s.retried.length;
      process.stderr.write(
        `submitted to ${executor.where}: ${s.submitted.length} new, ${s.queued.length} already queued, ` +
          `${s.retried.length} queued again after failing, ${s.finished.length} finished already\n`,
      );
      if (todo > 0) process.stderr.write(`workers take them: flatminima worker --redis <url>\ngather the records: ${again} --collect\n`);
      return null;
    }
    const { records, pending } = await executor.collect(specs, { resultsDir });
    const have = records.filter((r) => r !== null).length;
    if (pending.length === 0) {
      process.stderr.write(`collected: all ${have} runs have their record in ${resultsDir}\n`);
      return records as RunRecord[];
    }
    process.stderr.write(`collected ${have} of ${records.length} runs into ${resultsDir}; ${pending.length} not finished:\n`);
    const shown = pending.slice(0, 20);
    for (const p of shown) process.stderr.write(`  ${p.runId}: ${p.state}\n`);
    if (pending.length > shown.length) process.stderr.write(`  ... and ${pending.length - shown.length} more\n`);
    if (pending.some((p) => p.state === 'not submitted')) process.stderr.write(`submit the missing runs: ${again} --detach\n`);
    process.stderr.write(`gather again later: ${again} --collect (or ${again} to wait for them)\n`);
    process.exitCode = EXIT_PENDING;
    return null;
  } finally {
    await executor.close();
  }
}
