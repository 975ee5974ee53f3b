/**
 * A queue worker: takes run jobs from the BullMQ queue on Redis and trains them, each in a child
 * process of its own (jobRunner.ts), so this process's event loop stays free to renew the jobs'
 * locks and report progress however long a step takes.
 *
 * Failure semantics (BullMQ's, configured here):
 * - a malformed job (wrong name or shape, unknown keys, a bad spec, an id that is not its spec's run
 *   id) fails at once with an UnrecoverableError naming every problem; the worker goes on;
 * - a run that throws or whose process crashes fails this attempt; BullMQ retries it with the job's
 *   attempts and exponential backoff, and the retry resumes from the run's last checkpoint;
 * - a worker that dies (machine lost, SIGKILL) stops renewing its locks; after `lockDurationMs` another
 *   worker's stalled-job check puts the job back in the queue (up to `maxStalledCount` times), and the
 *   next worker resumes it from its checkpoint;
 * - a diverged run is a result: the job completes with the diverged record;
 * - {@link QueueWorker.stop} (SIGTERM, Ctrl-C): every run stops after its current step and writes a
 *   checkpoint at that step, its job goes back to the queue for another worker, and the worker exits.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { mkdirSync, rmSync } from 'node:fs';
import { UnrecoverableError, WaitingError, Worker, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import { CHECKPOINT_FILE, PREVIOUS_CHECKPOINT_FILE } from '../checkpoint.js';
import { childExecArgv, childModulePath } from '../childModule.js';
import { resolveExecution } from '../executor.js';
import type { Progress } from '../runner.js';
import type { RunRecord } from '../schema.js';
import { runDir } from '../store.js';
import { closeRedisClient, ConnectionLog, connectChecked, createRedisClient, REDIS_URL_ENV, type RedisTarget } from './connection.js';
import { parseRunJob, showJobId, type JobProgress, type RunJob } from './jobSchema.js';
import type { JobRunnerMessage, JobRunnerRequest } from './jobRunner.js';
import { DEFAULT_QUEUE, validQueueName } from './keys.js';
import { MODEL_TTL_SECONDS } from './modelTransfer.js';
import { RedisCheckpointStore } from './redisCheckpointStore.js';

/** Options of {@link QueueWorker.start}. */
export interface QueueWorkerOptions {
  /** The Redis the queue lives on. */
  redis: RedisTarget;
  /** Queue name (default `flatminima-runs`). */
  queue?: string;
  /** This worker's name in logs, progress and the jobs it takes (default `<host>-<pid>`). */
  name?: string;
  /** Runs at once (default: the machine's cores). */
  concurrency?: number;
  /** wasm threads per run, 1..8 (default: the cores shared among the runs). Ignored by jobs on cpu or tensorflow. */
  threads?: number;
  /** Keep checkpoints in this shared directory (e.g. an NFS mount) instead of Redis. */
  checkpointDir?: string;
  /** Where runs write their record and model while they run (default: a folder under the OS temp dir). */
  scratchDir?: string;
  /** Milliseconds a job's lock lasts without renewal: how soon a dead worker's job is taken over (default 30000). */
  lockDurationMs?: number;
  /** Milliseconds between checks for jobs whose worker died (default 30000). */
  stalledIntervalMs?: number;
  /** Times a job may lose its worker before it fails (default 3). */
  maxStalledCount?: number;
  /** Minimum milliseconds between progress reports of a job to Redis (default 1000; every epoch's end is always reported). */
  progressEveryMs?: number;
  /** Seconds a finished run's model waits in Redis to be collected (default 14 days). */
  modelTtlSeconds?: number;
  /** Where log lines go (default stderr). Lines are redacted before they get here. */
  log?: (line: string) => void;
}

/** A worker's name: letters, digits, `.`, `_`, `-`, 1 to 64 of them (it goes into logs and Redis). */
export function validWorkerName(name: string, what = '--name'): string {
  if (typeof name !== 'string' || !/^[A-Za-z0-9._-]{1,64}$/.test(name)) {
    throw new RangeError(`${what} must be 1-64 letters, digits, '.', '_' or '-', got ${JSON.stringify(name)}`);
  }
  return name;
}

const positiveMs = (value: number | undefined, fallback: number, what: string): number => {
  const v = value ?? fallback;
  if (!Number.isInteger(v) || v < 1)
    throw new RangeError(`${what} must be a whole number of milliseconds >= 1, got ${JSON.stringify(value)}`);
  return v;
};

/** The short line a run's end gets in the log. */
function outcomeLine(r: RunRecord): string {
  if (r.status === 'diverged') return `diverged (${r.divergence?.message ?? 'no message'})`;
  const acc = r.final?.testAccuracy;
  return `complete, test accuracy ${typeof acc === 'number' ? `${(acc * 100).toFixed(2)}%` : '—'}, ${r.wallSeconds.toFixed(1)} s`;
}

/** A running queue worker; {@link QueueWorker.stop} ends it. */
export class QueueWorker {
  /** This worker's name. */
  readonly name: string;
  /** A line describing it, e.g. `worker w1: 2 runs at once, 1 wasm thread each, queue flatminima-runs on redis://...`. */
  readonly description: string;
  /** Resolves once the worker has stopped and closed its connections. */
  readonly closed: Promise<void>;
  private readonly queue: string;
  private readonly concurrency: number;
  private readonly threads: number | undefined;
  private readonly scratchDir: string;
  private readonly progressEveryMs: number;
  private readonly children = new Set<ChildProcess>();
  private readonly runnerPath = childModulePath('./jobRunner', import.meta.url);
  private stopping = false;
  private worker!: Worker;
  private client!: Redis;
  private resolveClosed!: () => void;

  private constructor(
    private readonly opts: QueueWorkerOptions,
    private readonly log: (line: string) => void,
  ) {
    this.name = validWorkerName(
      opts.name ??
        `${hostname()
          .replace(/[^A-Za-z0-9._-]/g, '-')
          .slice(0, 40)}-${process.pid}`,
    );
    this.queue = validQueueName(opts.queue ?? DEFAULT_QUEUE);
    const exec = resolveExecution(
      {
        ...(opts.concurrency !== undefined ? { jobs: opts.concurrency } : {}),
        ...(opts.threads !== undefined ? { threads: opts.threads } : {}),
      },
      { names: { jobs: 'concurrency', threads: 'threads' } },
    );
    this.threads = exec.threads;
    this.scratchDir = opts.scratchDir ?? join(tmpdir(), `flatminima-worker-${this.name}`);
    this.progressEveryMs = positiveMs(opts.progressEveryMs, 1000, 'progressEveryMs');
    const each = exec.threads === undefined ? '' : `, ${exec.threads} wasm thread${exec.threads === 1 ? '' : 's'} each (wasm/auto jobs)`;
    const where = opts.checkpointDir !== undefined ? `checkpoints in ${opts.checkpointDir}` : 'checkpoints in Redis';
    this.description = `worker ${this.name}: ${exec.jobs} run${exec.jobs === 1 ? '' : 's'} at once${each}, queue ${this.queue} on ${opts.redis.display}, ${where}`;
    this.closed = new Promise((resolve) => (this.resolveClosed = resolve));
    this.concurrency = exec.jobs;
  }

  /**
   * Connects to Redis (checking it is reachable and >= 6) and starts taking jobs.
   * @throws RangeError for a bad option; Error when Redis cannot be reached.
   */
  static async start(opts: QueueWorkerOptions): Promise<QueueWorker> {
    const target = opts.redis;
    const log = (line: string): void => (opts.log ?? ((l: string) => process.stderr.write(`${l}\n`)))(target.redact(line));
    const self = new QueueWorker(opts, (line) => log(`worker ${self.name}: ${line}`));
    const lockDuration = positiveMs(opts.lockDurationMs, 30_000, 'lockDurationMs');
    const stalledInterval = positiveMs(opts.stalledIntervalMs, 30_000, 'stalledIntervalMs');
    const maxStalledCount = opts.maxStalledCount ?? 3;
    if (!Number.isInteger(maxStalledCount) || maxStalledCount < 0)
      throw new RangeError(`maxStalledCount must be a whole number >= 0, got ${JSON.stringify(opts.maxStalledCount)}`);
    mkdirSync(self.scratchDir, { recursive: true });
    const connection = new ConnectionLog(target, self.log);
    self.client = createRedisClient(target, { connectionName: `flatminima-worker-${self.name}` });
    try {
      await connectChecked(self.client, target);
    } catch (err) {
      await closeRedisClient(self.client);
      throw err;
    }
    connection.watch(self.client);
    self.worker = new Worker(self.queue, (job, token) => self.process(job, token), {
      connection: self.client,
      name: self.name,
      concurrency: self.concurrency,
      lockDuration,
      stalledInterval,
      maxStalledCount,
      autorun: true,
    });
    self.worker.on('error', (err) => connection.error(err));
    self.worker.on('completed', (job) => void self.forgetCheckpoint(String(job.id)));
    self.worker.on('stalled', (jobId) =>
      self.log(`job ${showJobId(jobId)} lost its worker; it goes back to the queue and resumes from its checkpoint`),
    );
    return self;
  }

  /** Handles one job: validate, run in a child, and return the record or hand the job back. */
  private async process(job: Job, token: string | undefined): Promise<RunRecord> {
    let run: RunJob;
    try {
      run = parseRunJob({ id: job.id, name: job.name, data: job.data });
    } catch (err) {
      const message = this.opts.redis.redact((err as Error).message);
      // One line: `invalid job "x": a: ...; b: ...`.
      this.log(
        `rejected ${message
          .replace(/:\n\s*/, ': ')
          .split(/\n\s*/)
          .join('; ')}`,
      );
      throw new UnrecoverableError(message);
    }
    if (this.stopping) return this.handBack(job, token, run.id, 'the worker is stopping');
    const attempts = job.opts.attempts ?? 1;
    this.log(
      `started ${run.id} (attempt ${job.attemptsMade + 1} of ${attempts}${job.stalledCounter > 0 ? `, after ${job.stalledCounter} lost worker${job.stalledCounter === 1 ? '' : 's'}` : ''})`,
    );
    rmSync(runDir(this.scratchDir, run.id), { recursive: true, force: true });
    const outcome = await this.runInChild(run, job);
    if (outcome.type === 'done') {
      this.log(`finished ${run.id}: ${outcomeLine(outcome.record)}`);
      return outcome.record;
    }
    if (outcome.type === 'stopped')
      return this.handBack(job, token, run.id, `stopped in epoch ${outcome.epoch} after step ${outcome.step}, checkpoint written`);
    this.log(`failed ${run.id} (attempt ${job.attemptsMade + 1} of ${attempts}): ${outcome.message}`);
    throw new Error(outcome.message);
  }

  /** Puts a job back in the queue for another worker (no attempt is used up). */
  private async handBack(job: Job, token: string | undefined, id: string, why: string): Promise<never> {
    await job.moveToWait(token);
    this.log(`handed ${id} back to the queue (${why})`);
    throw new WaitingError();
  }

  /** Runs a job in a fresh job-runner process and returns how it ended. */
  private runInChild(run: RunJob, job: Job): Promise<Exclude<JobRunnerMessage, { type: 'progress' }>> {
    // The Redis URL goes over IPC only: not in the child's environment or arguments.
    const env = { ...process.env };
    delete env[REDIS_URL_ENV];
    const child = fork(this.runnerPath, [], { execArgv: childExecArgv(this.runnerPath), stdio: ['ignore', 'ignore', 'pipe', 'ipc'], env });
    this.children.add(child);
    const req: JobRunnerRequest = {
      type: 'run',
      job: run,
      scratchDir: this.scratchDir,
      redis: this.opts.redis.settings,
      queue: this.queue,
      modelTtlSeconds: this.opts.modelTtlSeconds ?? MODEL_TTL_SECONDS,
      ...(this.threads !== undefined && (run.backend === 'auto' || run.backend === 'wasm' || run.backend === 'native')
        ? { threads: this.threads }
        : {}),
      ...(this.opts.checkpointDir !== undefined ? { checkpointDir: this.opts.checkpointDir } : {}),
    };
    child.send(req);
    if (this.stopping) child.send({ type: 'stop' });
    return new Promise((resolve) => {
      let result: Exclude<JobRunnerMessage, { type: 'progress' }> | null = null;
      let stderr = '';
      let lastReport = 0;
      child.stderr?.on('data', (chunk: Buffer) => {
        stderr = (stderr + chunk.toString()).slice(-4000); // the tail names a crash
      });
      child.on('message', (msg: JobRunnerMessage) => {
        if (msg.type === 'progress') {
          const now = Date.now();
          if (now - lastReport >= this.progressEveryMs || msg.progress.step === msg.progress.stepsPerEpoch) {
            lastReport = now;
            this.reportProgress(job, msg.progress);
          }
        } else result = msg;
      });
      child.on('error', (err) => {
        result ??= { type: 'error', message: `could not start the job runner process: ${err.message}` };
      });
      child.on('exit', (code, signal) => {
        this.children.delete(child);
        const tail = this.opts.redis.redact(stderr.trim().split('\n').slice(-5).join('\n'));
        resolve(
          result ?? {
            type: 'error',
            message: `the job runner process exited (${signal ?? `code ${code}`}) before finishing${tail ? `: ${tail}` : ''}`,
          },
        );
      });
    });
  }

  private reportProgress(job: Job, progress: Progress): void {
    const payload: JobProgress = { ...progress, worker: this.name };
    // A report lost to a Redis outage is harmless: the next one replaces it.
    job.updateProgress(payload).catch(() => {});
  }

  /** Deletes a completed run's checkpoint: its record is in Redis now. */
  private async forgetCheckpoint(id: string): Promise<void> {
    try {
      if (this.opts.checkpointDir !== undefined) {
        for (const f of [CHECKPOINT_FILE, PREVIOUS_CHECKPOINT_FILE]) rmSync(join(runDir(this.opts.checkpointDir, id), f), { force: true });
      } else await new RedisCheckpointStore(this.client, this.queue, this.opts.redis.display).remove(id);
    } catch (err) {
      this.log(`could not delete the checkpoint of ${id}: ${(err as Error).message}`);
    }
  }

  /** Jobs running now. */
  get running(): number {
    return this.children.size;
  }

  /**
   * Stops the worker: takes no new job; every run stops after its current step, writes a checkpoint
   * there and goes back to the queue; then the connections close. Resolves when all that is done.
   */
  async stop(): Promise<void> {
    if (!this.stopping) {
      this.stopping = true;
      const n = this.children.size;
      this.log(
        n > 0
          ? `stopping: ${n} run${n === 1 ? '' : 's'} stop after the current step, write a checkpoint and go back to the queue`
          : 'stopping',
      );
      for (const child of this.children) child.send({ type: 'stop' });
      void (async () => {
        await this.worker.close();
        await closeRedisClient(this.client);
        // Only a scratch folder of our own making goes; one given by the user may hold other things.
        if (this.opts.scratchDir === undefined) rmSync(this.scratchDir, { recursive: true, force: true });
        this.log('stopped');
        this.resolveClosed();
      })();
    }
    return this.closed;
  }
}
