/**
 * The run queue as an {@link Executor}: specs go into a BullMQ queue on Redis (job id = run id, so the
 * same run is queued once whoever submits it), workers on any number of machines train them
 * (queueWorker.ts), and the records come back into the local results directory as they finish, with
 * one stream of progress events fed by BullMQ's QueueEvents.
 *
 * Nothing depends on the submitter staying up: records wait in Redis (completed jobs are kept) until
 * {@link QueueExecutor.collect} or another {@link QueueExecutor.run} picks them up. The events are a
 * fast path only; every few seconds the executor also asks Redis for the state of the jobs it still
 * waits for, so an event missed during a Redis restart costs a few seconds, never a record.
 */
import { join } from 'node:path';
import { Job, Queue, QueueEvents } from 'bullmq';
import type { Redis } from 'ioredis';
import { resolveExecution, type ExecuteOptions, type Executor, type ExecutorEvent } from '../executor.js';
import type { BackendChoice } from '../runner.js';
import { runId, sameSpec } from '../runId.js';
import type { RunRecord, RunSpec } from '../schema.js';
import { MODEL_DIR, newRecord, readRecord, runDir, writeRecord } from '../store.js';
import { parseRunRecord, parseRunSpec, ValidationError } from '../validate.js';
import { closeRedisClient, ConnectionLog, connectChecked, createRedisClient, type RedisTarget } from './connection.js';
import { JobProgressSchema, runJobData } from './jobSchema.js';
import { DEFAULT_QUEUE, RUN_JOB_NAME, validQueueName } from './keys.js';
import { downloadModel } from './modelTransfer.js';

/** Options of a {@link QueueExecutor}. */
export interface QueueExecutorOptions {
  /** The Redis the queue lives on. */
  redis: RedisTarget;
  /** Queue name (default `flatminima-runs`); workers must take the same. */
  queue?: string;
  /** Backend of every run, carried in the job (default 'auto'). */
  backend?: BackendChoice;
  /** Checkpoint every this many epochs, carried in the job (default 1). */
  checkpointEvery?: number;
  /** Tries per run before it fails, for crashes and errors (default 3; a lost worker does not use one up). */
  attempts?: number;
  /** First retry delay in milliseconds; each next one doubles (default 10000). */
  backoffMs?: number;
  /** Milliseconds between checks of the jobs still awaited, behind the events (default 5000). */
  reconcileEveryMs?: number;
  /** Where connection notes go (default stderr). Lines are redacted. */
  log?: (line: string) => void;
}

/** What {@link QueueExecutor.submit} did with each run. */
export interface SubmitSummary {
  /** Runs added to the queue now. */
  submitted: string[];
  /** Runs already in the queue, waiting or running (someone submitted them before). */
  queued: string[];
  /** Runs already finished (in the results directory or the queue): nothing to do. */
  finished: string[];
  /** Runs whose job had failed every attempt, queued again (they resume from their checkpoints). */
  retried: string[];
}

/** What {@link QueueExecutor.collect} found. */
export interface CollectResult {
  /** Per spec, in spec order: its record (complete, diverged, or failed with `error`), or null while it has not finished. */
  records: (RunRecord | null)[];
  /** The runs without a record yet and the state of their job ('waiting', 'active', 'delayed', ... or 'not submitted'). */
  pending: {
    /** The run's id. */
    runId: string;
    /** Its job's state in the queue. */
    state: string;
  }[];
}

/** The runs of a call: validated specs, their ids in spec order, and each run once. */
interface Plan {
  ids: string[];
  unique: Map<string, RunSpec>;
}

/** A job that is over for good: its record has come back or it failed every attempt. */
const FINAL_STATES = new Set(['completed', 'failed']);

/** Jobs whose state one reconciliation round asks Redis for, at most (the rest wait for the next
 * rounds, in turn): a sweep of 10,000 pending runs costs Redis 100 state queries a second, not 2,000. */
const RECONCILE_BATCH = 500;

/** The {@link Executor} on a BullMQ queue. Connects on first use; {@link close} frees the connections. */
export class QueueExecutor implements Executor {
  readonly description: string;
  /** `queue <name> on <masked url>`. */
  readonly where: string;
  readonly interruptNote = 'the runs go on on the workers; collect their records later with --collect (or run the same command again)';
  private readonly queueName: string;
  private readonly backend: BackendChoice;
  private readonly checkpointEvery: number;
  private readonly attempts: number;
  private readonly backoffMs: number;
  private readonly reconcileEveryMs: number;
  private readonly log: (line: string) => void;
  private readonly connectionLog: ConnectionLog;
  private connected: Promise<{ client: Redis; queue: Queue }> | null = null;

  /** @throws RangeError naming the option when one is out of range. */
  constructor(private readonly opts: QueueExecutorOptions) {
    const exec = resolveExecution({
      ...(opts.backend !== undefined ? { backend: opts.backend } : {}),
      ...(opts.checkpointEvery !== undefined ? { checkpointEvery: opts.checkpointEvery } : {}),
    });
    this.backend = exec.backend;
    this.checkpointEvery = exec.checkpointEvery;
    this.queueName = validQueueName(opts.queue ?? DEFAULT_QUEUE, 'queue');
    const count = (v: number | undefined, fallback: number, what: string, min: number): number => {
      const n = v ?? fallback;
      if (!Number.isInteger(n) || n < min) throw new RangeError(`${what} must be a whole number >= ${min}, got ${JSON.stringify(v)}`);
      return n;
    };
    this.attempts = count(opts.attempts, 3, 'attempts', 1);
    this.backoffMs = count(opts.backoffMs, 10_000, 'backoffMs', 0);
    this.reconcileEveryMs = count(opts.reconcileEveryMs, 5000, 'reconcileEveryMs', 1);
    const write = opts.log ?? ((line: string) => process.stderr.write(`${line}\n`));
    this.log = (line) => write(opts.redis.redact(line));
    this.connectionLog = new ConnectionLog(opts.redis, this.log);
    this.where = `queue ${this.queueName} on ${opts.redis.display}`;
    this.description = `${this.where}: the workers taking it run the jobs (their --concurrency and --threads), backend ${this.backend}`;
  }

  /** `text` with the Redis password masked. */
  redact(text: string): string {
    return this.opts.redis.redact(text);
  }

  /** The connection and the queue, made once. */
  private connect(): Promise<{ client: Redis; queue: Queue }> {
    this.connected ??= (async () => {
      const client = createRedisClient(this.opts.redis, { connectionName: 'flatminima-submitter' });
      try {
        await connectChecked(client, this.opts.redis);
      } catch (err) {
        await closeRedisClient(client);
        this.connected = null;
        throw err;
      }
      this.connectionLog.watch(client);
      const queue = new Queue(this.queueName, { connection: client });
      queue.on('error', (err) => this.connectionLog.error(err));
      return { client, queue };
    })();
    return this.connected;
  }

  /** Validates every spec (all problems at once) and lists each run once. */
  private plan(specs: readonly RunSpec[]): Plan {
    if (!Array.isArray(specs)) throw new TypeError('QueueExecutor: specs must be an array of run specs');
    const issues: string[] = [];
    const valid = specs.map((s, i) => {
      try {
        return parseRunSpec(s, `spec [${i}]`);
      } catch (err) {
        if (err instanceof ValidationError) issues.push(...err.issues.map((line) => `[${i}].${line}`));
        else throw err;
        return null;
      }
    });
    if (issues.length > 0) throw new ValidationError('run specs', issues);
    const ids = valid.map((s) => runId(s as RunSpec));
    const unique = new Map<string, RunSpec>();
    ids.forEach((id, i) => unique.has(id) || unique.set(id, valid[i] as RunSpec));
    return { ids, unique };
  }

  /** A complete or diverged record of the run in the results directory, or null. */
  private localFinished(resultsDir: string, id: string, spec: RunSpec): RunRecord | null {
    try {
      const r = readRecord(resultsDir, id);
      return r !== null && r.status !== 'running' && sameSpec(r.spec, spec) ? r : null;
    } catch {
      return null; // unreadable: the queue's record replaces it
    }
  }

  /** Adds the runs not in the queue yet; with `retryFailed`, re-queues those that failed every attempt. */
  private async enqueue(
    queue: Queue,
    runs: Map<string, RunSpec>,
    retryFailed: boolean,
  ): Promise<Omit<SubmitSummary, 'finished'> & { completed: string[] }> {
    const summary = { submitted: [] as string[], queued: [] as string[], retried: [] as string[], completed: [] as string[] };
    const ids = [...runs.keys()];
    const states = await Promise.all(ids.map((id) => queue.getJobState(id)));
    const toAdd: string[] = [];
    for (const [i, id] of ids.entries()) {
      const state = states[i];
      if (state === 'unknown') toAdd.push(id);
      else if (state === 'completed' || (state === 'failed' && !retryFailed)) summary.completed.push(id);
      else if (state === 'failed') {
        const job = await Job.fromId(queue, id);
        // Another submitter may have re-queued it a moment ago: then it is queued, which is all we want.
        await job?.retry('failed', { resetAttemptsMade: true }).catch(() => {});
        summary.retried.push(id);
      } else summary.queued.push(id);
    }
    // A job id that exists already is not added again (BullMQ keeps the first), so two submitters
    // racing here still queue each run once.
    await queue.addBulk(
      toAdd.map((id) => ({
        name: RUN_JOB_NAME,
        data: runJobData(runs.get(id) as RunSpec, this.backend, this.checkpointEvery),
        opts: {
          jobId: id,
          attempts: this.attempts,
          backoff: { type: 'exponential', delay: this.backoffMs },
          removeOnComplete: false,
          removeOnFail: false,
        },
      })),
    );
    summary.submitted.push(...toAdd);
    return summary;
  }

  /** The record of a job that is over (completed or failed), written to the results directory; null while it is not. */
  private async settle(client: Redis, queue: Queue, id: string, spec: RunSpec, resultsDir: string): Promise<RunRecord | null> {
    const job = await Job.fromId(queue, id);
    if (job === undefined) return null;
    const state = await job.getState();
    if (state === 'completed') return this.fromCompleted(client, job, id, spec, resultsDir);
    if (state === 'failed')
      return this.failure(id, spec, resultsDir, this.opts.redis.redact(job.failedReason || 'the job failed (no reason given)'));
    return null;
  }

  /** The checked record of a completed job, with its model fetched from Redis. */
  private async fromCompleted(client: Redis, job: Job, id: string, spec: RunSpec, resultsDir: string): Promise<RunRecord> {
    let record: RunRecord;
    try {
      // The queue is input: a worker of another version, or anyone who can write to Redis, could
      // have put anything there. Only a record of exactly this run is kept.
      record = parseRunRecord(job.returnvalue, `the record job ${id} returned`);
      if (record.runId !== id) throw new Error(`its runId is ${JSON.stringify(record.runId)}`);
      if (!sameSpec(record.spec, spec)) throw new Error('its spec is not the spec of the job');
      if (record.status === 'running') throw new Error('its status is running');
      if (record.modelDir !== null && record.modelDir !== MODEL_DIR)
        throw new Error(`its modelDir must be null or "${MODEL_DIR}", got ${JSON.stringify(record.modelDir)}`);
    } catch (err) {
      return this.failure(
        id,
        spec,
        resultsDir,
        `the worker returned an unusable record: ${this.opts.redis.redact((err as Error).message)}`,
      );
    }
    if (record.modelDir !== null) {
      const got = await downloadModel(client, this.queueName, id, join(runDir(resultsDir, id), MODEL_DIR), record.weightsSha256);
      if (!got.written) {
        this.log(`${id}: the final model was not collected (${got.why}); the record is`);
        record = { ...record, modelDir: null };
      }
    }
    writeRecord(resultsDir, record);
    return record;
  }

  /** A record saying the run failed, written to the results directory (as the local pool does). */
  private failure(id: string, spec: RunSpec, resultsDir: string, message: string): RunRecord {
    let existing: RunRecord | null;
    try {
      existing = readRecord(resultsDir, id);
    } catch {
      existing = null; // a damaged record file: a fresh failure record replaces it
    }
    const base = existing ?? newRecord(id, spec, { backend: this.backend, threads: null, versions: {} });
    const record: RunRecord = { ...base, status: base.status === 'complete' ? 'running' : base.status, error: message };
    writeRecord(resultsDir, record);
    return record;
  }

  /**
   * Queues the runs not finished yet and waits for all of them; returns one record per spec, in spec
   * order. Runs finished in `resultsDir` are skipped; runs finished in the queue are collected at
   * once; a run whose job had failed every attempt is queued again (it resumes from its checkpoint).
   * @throws ValidationError when a spec is invalid (all are checked before anything is queued).
   */
  async run(specs: readonly RunSpec[], opts: ExecuteOptions): Promise<RunRecord[]> {
    const { ids, unique } = this.plan(specs);
    const emit = (e: ExecutorEvent): void => opts.onEvent?.(e);
    const byId = new Map<string, RunRecord>();
    const pending = new Map<string, RunSpec>();
    for (const [id, spec] of unique) {
      const done = this.localFinished(opts.resultsDir, id, spec);
      if (done !== null) {
        byId.set(id, done);
        emit({ type: 'skipped', runId: id, record: done });
      } else pending.set(id, spec);
    }
    if (pending.size > 0) await this.awaitRecords(pending, opts.resultsDir, emit, byId);
    return ids.map((id) => byId.get(id) as RunRecord);
  }

  /** Queues `pending` and resolves when each has a record in `byId`. */
  private async awaitRecords(
    pending: Map<string, RunSpec>,
    resultsDir: string,
    emit: (e: ExecutorEvent) => void,
    byId: Map<string, RunRecord>,
  ): Promise<void> {
    const { client, queue } = await this.connect();
    const eventsClient = createRedisClient(this.opts.redis, { connectionName: 'flatminima-submitter-events' });
    this.connectionLog.watch(eventsClient);
    const events = new QueueEvents(this.queueName, { connection: eventsClient });
    events.on('error', (err) => this.connectionLog.error(err));
    let failed: (err: unknown) => void = () => {};
    let allDone: () => void = () => {};
    const finished = new Promise<void>((resolve, reject) => {
      allDone = resolve;
      failed = reject;
    });
    finished.catch(() => {}); // awaited below; this only keeps an early failure from counting as unhandled
    const busy = new Set<string>();
    /** The 'started' announcements in flight, by run id. */
    const announcing = new Map<string, Promise<void>>();
    const check = async (id: string): Promise<void> => {
      const spec = pending.get(id);
      if (spec === undefined || busy.has(id)) return;
      busy.add(id);
      try {
        const record = await this.settle(client, queue, id, spec, resultsDir);
        // A run's 'started' (under way when its job ended) goes out before its 'finished'.
        if (record !== null) await announcing.get(id);
        if (record !== null && pending.delete(id)) {
          byId.set(id, record);
          emit({ type: 'finished', record });
          if (pending.size === 0) allDone();
        }
      } catch (err) {
        failed(err);
      } finally {
        busy.delete(id);
      }
    };
    const announce = (id: string): Promise<void> => {
      // The spec is read before the lookup of the worker: a short job may end meanwhile.
      const spec = pending.get(id);
      if (spec === undefined) return Promise.resolve();
      const started = Job.fromId(queue, id)
        .catch(() => undefined)
        .then((job) => emit({ type: 'started', runId: id, spec, worker: job?.processedBy ?? 'a worker' }))
        .finally(() => {
          if (announcing.get(id) === started) announcing.delete(id);
        });
      announcing.set(id, started);
      return started;
    };
    events.on('active', ({ jobId }) => void (pending.has(jobId) && announce(jobId)));
    events.on('completed', ({ jobId }) => void check(jobId));
    events.on('failed', ({ jobId }) => void check(jobId));
    events.on('progress', ({ jobId, data }) => {
      if (!pending.has(jobId)) return;
      const parsed = JobProgressSchema.safeParse(data);
      if (!parsed.success || parsed.data.runId !== jobId) return; // not a report of ours: ignore it
      const { worker: _worker, ...progress } = parsed.data;
      emit({ type: 'progress', progress });
    });
    // Behind the events: ask Redis itself every few seconds, up to RECONCILE_BATCH jobs a round in
    // turn (a job removed meanwhile is queued again).
    let cursor = 0;
    const reconcile = async (): Promise<void> => {
      const ids = [...pending.keys()];
      const start = cursor % Math.max(1, ids.length);
      const batch = [...ids.slice(start), ...ids.slice(0, start)].slice(0, RECONCILE_BATCH);
      cursor = start + batch.length;
      const states = await Promise.all(batch.map((id) => queue.getJobState(id)));
      for (const [i, id] of batch.entries()) {
        const spec = pending.get(id);
        if (spec === undefined) continue;
        if (states[i] === 'unknown') await this.enqueue(queue, new Map([[id, spec]]), true);
        else if (FINAL_STATES.has(states[i])) await check(id);
      }
    };
    let reconciling = false;
    const timer = setInterval(() => {
      if (reconciling) return;
      reconciling = true;
      reconcile()
        .catch(failed)
        .finally(() => (reconciling = false));
    }, this.reconcileEveryMs);
    try {
      await events.waitUntilReady();
      const summary = await this.enqueue(queue, pending, true);
      for (const id of summary.queued) {
        if ((await queue.getJobState(id)) === 'active') void announce(id);
      }
      await Promise.all([...pending.keys()].map(check));
      if (pending.size > 0) await finished;
    } finally {
      clearInterval(timer);
      await events.close().catch(() => {});
      await closeRedisClient(eventsClient);
    }
  }

  /**
   * Queues the runs not finished yet and returns at once (`--detach`). Runs whose job failed every
   * attempt are queued again.
   * @throws ValidationError when a spec is invalid.
   */
  async submit(specs: readonly RunSpec[], opts: Pick<ExecuteOptions, 'resultsDir'>): Promise<SubmitSummary> {
    const { unique } = this.plan(specs);
    const finished: string[] = [];
    const todo = new Map<string, RunSpec>();
    for (const [id, spec] of unique) {
      if (this.localFinished(opts.resultsDir, id, spec) !== null) finished.push(id);
      else todo.set(id, spec);
    }
    if (todo.size === 0) return { submitted: [], queued: [], retried: [], finished };
    const { queue } = await this.connect();
    const { completed, ...rest } = await this.enqueue(queue, todo, true);
    return { ...rest, finished: [...finished, ...completed] };
  }

  /**
   * Gathers the records of the runs that have finished (into the results directory) and says which
   * have not (`--collect`); queues nothing.
   * @throws ValidationError when a spec is invalid.
   */
  async collect(specs: readonly RunSpec[], opts: ExecuteOptions): Promise<CollectResult> {
    const { ids, unique } = this.plan(specs);
    const byId = new Map<string, RunRecord>();
    const pending: CollectResult['pending'] = [];
    for (const [id, spec] of unique) {
      const done = this.localFinished(opts.resultsDir, id, spec);
      if (done !== null) {
        byId.set(id, done);
        opts.onEvent?.({ type: 'skipped', runId: id, record: done });
        continue;
      }
      const { client, queue } = await this.connect();
      const record = await this.settle(client, queue, id, spec, opts.resultsDir);
      if (record !== null) {
        byId.set(id, record);
        opts.onEvent?.({ type: 'finished', record });
      } else {
        const state = await queue.getJobState(id);
        pending.push({ runId: id, state: state === 'unknown' ? 'not submitted' : state });
      }
    }
    return { records: ids.map((id) => byId.get(id) ?? null), pending };
  }

  async close(): Promise<void> {
    if (this.connected === null) return;
    const pending = this.connected;
    this.connected = null;
    const { client, queue } = await pending.catch(() => ({ client: null, queue: null }));
    await queue?.close().catch(() => {});
    if (client !== null) await closeRedisClient(client);
  }
}
