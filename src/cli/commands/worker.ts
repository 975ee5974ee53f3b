/**
 * `flatminima worker --redis <url>`: a queue worker on this machine. Takes run jobs that `sweep` or
 * `compare` with `--redis` submitted, trains them (each in a child process), reports progress, and
 * returns the records through Redis. SIGTERM or Ctrl-C: the runs stop after their current step, write
 * a checkpoint and go back to the queue for another worker; a second signal exits at once (the jobs
 * are then taken over when their locks expire, from their last checkpoint).
 */
import { availableParallelism } from 'node:os';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { EXIT_INTERRUPTED, UsageError } from '../errors.js';
import { positiveInt, threadCount } from '../parsers.js';

interface WorkerFlags {
  redis?: string;
  queue?: string;
  concurrency?: number;
  threads?: number;
  name?: string;
  checkpointDir?: string;
  scratchDir?: string;
  lockDuration?: number;
  stalledInterval?: number;
  progressEvery?: number;
}

/** Registers `worker` on the program. */
export function registerWorker(program: Command): void {
  program
    .command('worker')
    .description('take runs from a queue on Redis and train them (start one per machine; stop with SIGTERM or Ctrl-C)')
    .option('--redis <url>', "the queue's Redis: redis://[user:password@]host:port[/db], rediss:// for TLS (default $FLATMINIMA_REDIS)")
    .option('--queue <name>', 'queue name (default flatminima-runs)')
    .option('--concurrency <count>', `runs at once (default: number of cores, here ${availableParallelism()})`, positiveInt)
    .option('--threads <count>', 'wasm threads per run (1-8; default: the cores shared among the runs)', threadCount)
    .option('--name <id>', "this worker's name in logs and progress (default <host>-<pid>)")
    .option('--checkpoint-dir <dir>', 'keep checkpoints in this directory shared by all workers (e.g. NFS) instead of Redis')
    .option('--scratch-dir <dir>', 'where runs write their files while they run (default: a folder in the OS temp dir)')
    .option(
      '--lock-duration <ms>',
      "how long a job stays locked without renewal: a dead worker's job is taken over after this (default 30000)",
      positiveInt,
    )
    .option('--stalled-interval <ms>', 'how often to look for jobs whose worker died (default 30000)', positiveInt)
    .option(
      '--progress-every <ms>',
      'least time between two progress reports of a run to Redis; the end of every epoch is always reported (default 1000)',
      positiveInt,
    )
    .action(async (flags: WorkerFlags) => {
      const { redisTargetFrom } = await import('../../experiments/queue/connection.js');
      const { QueueWorker } = await import('../../experiments/queue/queueWorker.js');
      let target;
      try {
        target = redisTargetFrom(flags.redis);
      } catch (err) {
        if (err instanceof RangeError) throw new UsageError(err.message);
        throw err;
      }
      if (target === undefined) throw new UsageError("give the queue's Redis: --redis redis://host:6379 (or set FLATMINIMA_REDIS)");
      let worker;
      try {
        worker = await QueueWorker.start({
          redis: target,
          ...(flags.queue !== undefined ? { queue: flags.queue } : {}),
          ...(flags.concurrency !== undefined ? { concurrency: flags.concurrency } : {}),
          ...(flags.threads !== undefined ? { threads: flags.threads } : {}),
          ...(flags.name !== undefined ? { name: flags.name } : {}),
          ...(flags.checkpointDir !== undefined ? { checkpointDir: resolve(flags.checkpointDir) } : {}),
          ...(flags.scratchDir !== undefined ? { scratchDir: resolve(flags.scratchDir) } : {}),
          ...(flags.lockDuration !== undefined ? { lockDurationMs: flags.lockDuration } : {}),
          ...(flags.stalledInterval !== undefined ? { stalledIntervalMs: flags.stalledInterval } : {}),
          ...(flags.progressEvery !== undefined ? { progressEveryMs: flags.progressEvery } : {}),
        });
      } catch (err) {
        // Option names as the worker module spells them, mapped to the flags.
        if (err instanceof RangeError) {
          throw new UsageError(err.message.replace(/^(concurrency|threads|name|queue)\b/, '--$1'));
        }
        throw err;
      }
      process.stderr.write(`${worker.description}\n`);
      let signals = 0;
      let exitCode = 0;
      const onSignal = (signal: NodeJS.Signals): void => {
        signals++;
        if (signal === 'SIGINT') exitCode = EXIT_INTERRUPTED;
        if (signals > 1) {
          process.stderr.write(
            `${signal} again: exiting now; the runs resume elsewhere from their last checkpoints once their locks expire\n`,
          );
          process.exit(exitCode || EXIT_INTERRUPTED);
        }
        void worker.stop();
      };
      process.on('SIGTERM', onSignal);
      process.on('SIGINT', onSignal);
      await worker.closed;
      process.off('SIGTERM', onSignal);
      process.off('SIGINT', onSignal);
      process.exitCode = exitCode;
    });
}
