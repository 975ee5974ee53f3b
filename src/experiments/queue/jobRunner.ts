/**
 * The child process of a queue worker ({@link QueueWorker}): runs one validated run job with
 * {@link runSpec}, its checkpoints in Redis (or a shared directory), streams progress to the worker
 * over IPC, uploads the final model to Redis, and answers with the record. Training blocks its event
 * loop; this keeps it out of the worker's, which must stay free to renew the job's lock.
 *
 * Stopping: on a `stop` message, on SIGTERM (a service manager stops the whole process group), or when
 * the worker goes away (IPC disconnect: the worker died), the run stops after its current step, writes
 * a checkpoint at that step, and the child answers `stopped` (if anyone still listens) and exits.
 * SIGINT is ignored: a Ctrl-C in the worker's terminal reaches this process too, and the worker
 * decides what happens (it sends `stop`).
 */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Redis } from 'ioredis';
import { DirectoryCheckpointStore, type CheckpointStore } from '../checkpointStore.js';
import { runSpec, type Progress } from '../runner.js';
import type { RunRecord } from '../schema.js';
import { closeRedisClient, createRedisClient, targetOf, type RedisSettings, type RedisTarget } from './connection.js';
import { parseRunJob, runJobData, type RunJob } from './jobSchema.js';
import { RUN_JOB_NAME } from './keys.js';
import { uploadModel } from './modelTransfer.js';
import { RedisCheckpointStore } from './redisCheckpointStore.js';

/** Worker -> job runner: the job to run. */
export interface JobRunnerRequest {
  type: 'run';
  job: RunJob;
  /** wasm threads (only for backends with threads). */
  threads?: number;
  /** Where the run's record and model are written while it runs (a folder of the worker's own). */
  scratchDir: string;
  redis: RedisSettings;
  queue: string;
  /** Checkpoints in this shared directory instead of Redis. */
  checkpointDir?: string;
  /** Seconds the uploaded model waits in Redis. */
  modelTtlSeconds?: number;
}

/** Worker -> job runner: stop after the current step. */
export interface JobRunnerStop {
  type: 'stop';
}

/** Job runner -> worker. */
export type JobRunnerMessage =
  | { type: 'progress'; progress: Progress }
  /** The run ended (complete or diverged); a complete run's model is in Redis. */
  | { type: 'done'; record: RunRecord }
  /** The run stopped when told to; its checkpoint (at the step reached) is saved. */
  | { type: 'stopped'; record: RunRecord; epoch: number; step: number }
  | { type: 'error'; message: string };

/** Minimum milliseconds between progress messages (the last step of each epoch is always sent). */
const PROGRESS_EVERY_MS = 100;
/** How long a child whose worker is gone waits for its run to stop before exiting anyway. */
const STOP_GRACE_MS = 10_000;

const stop = new AbortController();

function send(msg: JobRunnerMessage): Promise<void> {
  return new Promise((resolve) => {
    if (process.send === undefined || !process.connected) return resolve();
    process.send(msg, undefined, {}, () => resolve());
  });
}

function checkpointStoreFor(req: JobRunnerRequest, client: Redis, target: RedisTarget): CheckpointStore {
  return req.checkpointDir !== undefined
    ? new DirectoryCheckpointStore(req.checkpointDir)
    : new RedisCheckpointStore(client, req.queue, target.display);
}

async function handle(req: JobRunnerRequest): Promise<void> {
  const target = targetOf(req.redis);
  const client = createRedisClient(target, { connectionName: 'flatminima-job-runner' });
  let last = 0;
  let position = { epoch: 0, step: 0 };
  try {
    // The worker validated the job; check again here, where it runs (the IPC message is input too).
    const job = parseRunJob({
      id: req.job.id,
      name: RUN_JOB_NAME,
      data: runJobData(req.job.spec, req.job.backend, req.job.checkpointEvery),
    });
    const record = await runSpec(job.spec, {
      resultsDir: req.scratchDir,
      backend: job.backend,
      checkpointEvery: job.checkpointEvery,
      ...(req.threads !== undefined ? { threads: req.threads } : {}),
      checkpointStore: checkpointStoreFor(req, client, target),
      signal: stop.signal,
      checkpointOnAbort: true,
      onProgress: (progress) => {
        position = { epoch: progress.epoch, step: progress.step };
        const now = Date.now();
        if (now - last >= PROGRESS_EVERY_MS || progress.step === progress.stepsPerEpoch) {
          last = now;
          void send({ type: 'progress', progress });
        }
      },
    });
    if (record.status === 'running') {
      await send({ type: 'stopped', record, ...position });
    } else {
      if (record.status === 'complete' && record.modelDir !== null) {
        await uploadModel(client, req.queue, job.id, join(req.scratchDir, job.id, record.modelDir), req.modelTtlSeconds);
      }
      await send({ type: 'done', record });
    }
  } catch (err) {
    await send({ type: 'error', message: target.redact((err as Error)?.message ?? String(err)) });
  } finally {
    await closeRedisClient(client);
    rmSync(join(req.scratchDir, req.job.id), { recursive: true, force: true });
  }
  process.disconnect?.();
  process.exit(0);
}

if (process.send !== undefined) {
  process.on('SIGINT', () => {});
  process.on('SIGTERM', () => stop.abort());
  process.on('message', (msg: JobRunnerRequest | JobRunnerStop) => {
    if (msg?.type === 'stop') stop.abort();
  });
  process.once('message', (msg: JobRunnerRequest | JobRunnerStop) => {
    if (msg?.type === 'run') void handle(msg);
  });
  process.on('disconnect', () => {
    stop.abort();
    // The run writes its checkpoint at its next step and exits through handle(); this is the backstop.
    setTimeout(() => process.exit(0), STOP_GRACE_MS).unref();
  });
}
