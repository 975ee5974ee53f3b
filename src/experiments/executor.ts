/**
 * Where runs execute. A comparison or a sweep is a list of specs handed to an {@link Executor}: specs
 * in, records out, progress events on the way. The local worker pool is one executor; a queue on Redis
 * whose workers run on other machines is another. Both take the same {@link ExecutionOptions}, checked
 * by one function, so a bad thread count is the same usage error whichever runs the specs.
 */
import { availableParallelism } from 'node:os';
import { MAX_WASM_THREADS } from '../backend/limits.js';
import type { BackendChoice, Progress } from './runner.js';
import type { RunRecord, RunSpec } from './schema.js';

/** Backends a run may ask for. */
export const BACKEND_CHOICES: readonly BackendChoice[] = ['auto', 'wasm', 'cpu', 'tensorflow', 'native'];

/** How runs execute on one machine: shared by the local pool and by queue workers. */
export interface ExecutionOptions {
  /** Runs at once on this machine (default: its number of cores). */
  jobs?: number;
  /** wasm (or native kernel) threads per run, 1..8 (`MAX_WASM_THREADS`; default: the cores shared among the jobs). */
  threads?: number;
  /** Backend of every run (default 'auto'). */
  backend?: BackendChoice;
  /** Write a checkpoint every this many epochs (default 1). */
  checkpointEvery?: number;
}

/** {@link ExecutionOptions} with every default filled in. */
export interface ResolvedExecution {
  jobs: number;
  /** Threads per run, or undefined for a backend without threads (cpu, tensorflow). */
  threads: number | undefined;
  backend: BackendChoice;
  checkpointEvery: number;
}

/**
 * wasm threads per run when the user did not say: the cores shared among the parallel runs (more
 * threads than cores only adds contention), and never more than the wasm backend can start.
 */
export function threadsPerJob(jobs: number, cores = availableParallelism()): number {
  return Math.min(MAX_WASM_THREADS, Math.max(1, Math.floor(cores / jobs)));
}

const isPositiveInt = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v >= 1;

/**
 * Checks and completes execution options.
 * @param names how the caller spells each option in messages (a CLI passes its flags, e.g. `--jobs`).
 * @throws TypeError or RangeError naming the option and what it allows.
 */
export function resolveExecution(
  opts: ExecutionOptions,
  { cores = availableParallelism(), names = {} }: { cores?: number; names?: Partial<Record<keyof ExecutionOptions, string>> } = {},
): ResolvedExecution {
  const name = (k: keyof ExecutionOptions): string => names[k] ?? k;
  const backend = opts.backend ?? 'auto';
  if (!BACKEND_CHOICES.includes(backend)) {
    throw new RangeError(`${name('backend')} must be one of ${BACKEND_CHOICES.join(', ')}, got ${JSON.stringify(backend)}`);
  }
  const jobs = opts.jobs ?? cores;
  if (!isPositiveInt(jobs)) throw new RangeError(`${name('jobs')} must be a whole number >= 1, got ${JSON.stringify(opts.jobs)}`);
  const checkpointEvery = opts.checkpointEvery ?? 1;
  if (!isPositiveInt(checkpointEvery)) {
    throw new RangeError(`${name('checkpointEvery')} must be a whole number >= 1 (epochs), got ${JSON.stringify(opts.checkpointEvery)}`);
  }
  const usesThreads = backend === 'auto' || backend === 'wasm' || backend === 'native';
  if (opts.threads !== undefined) {
    if (!usesThreads) throw new RangeError(`${name('threads')} applies to backend wasm, native or auto, not ${backend}`);
    if (!isPositiveInt(opts.threads) || opts.threads > MAX_WASM_THREADS) {
      throw new RangeError(
        `${name('threads')} must be a whole number from 1 to ${MAX_WASM_THREADS} (the wasm backend's limit), got ${JSON.stringify(opts.threads)}`,
      );
    }
  }
  const threads = usesThreads ? (opts.threads ?? threadsPerJob(jobs, cores)) : undefined;
  return { jobs, threads, backend, checkpointEvery };
}

/** What an executor says while it works. */
export type ExecutorEvent =
  /** The run was already complete (or diverged) in the results: not run again. */
  | {
      /** What happened. */
      type: 'skipped';
      /** The run's id. */
      runId: string;
      /** Its record as found in the results. */
      record: RunRecord;
    }
  /** The run started (or resumed from its checkpoint) on `worker`. */
  | {
      /** What happened. */
      type: 'started';
      /** The run's id. */
      runId: string;
      /** The run's spec. */
      spec: RunSpec;
      /** Who runs it: `local` for the local pool, else the queue worker's name. */
      worker: string;
    }
  /** A training step of a running run (throttled by the executor). */
  | {
      /** What happened. */
      type: 'progress';
      /** Where the run is. */
      progress: Progress;
    }
  /** The run ended: complete, diverged, or stopped on an error (`record.error`). */
  | {
      /** What happened. */
      type: 'finished';
      /** The run's final record. */
      record: RunRecord;
    };

/** Options of one {@link Executor.run}. */
export interface ExecuteOptions {
  /** Where the records (and, for the local pool, checkpoints and models) go. */
  resultsDir: string;
  /** Called with each {@link ExecutorEvent} as the runs go. */
  onEvent?: (event: ExecutorEvent) => void;
}

/**
 * Runs specs somewhere and returns their records. Contract: one record per spec, in spec order
 * (a spec listed twice runs once); complete runs in `resultsDir` are not run again; interrupted runs
 * resume from their checkpoints; a diverged run is a result; a failed run comes back with `error`
 * set and status 'running', never dropped. Specs are validated before anything runs.
 */
export interface Executor {
  /** A line for the header, e.g. `local pool: 2 runs at once, 1 wasm thread each`. */
  readonly description: string;
  /** What happens to the runs when the caller is interrupted (Ctrl-C), for its message; absent for
   * an executor whose runs stop with it (they resume when the same command runs again). */
  readonly interruptNote?: string;
  /** Runs `specs` (see the contract above) and returns their records in spec order. */
  run(specs: readonly RunSpec[], opts: ExecuteOptions): Promise<RunRecord[]>;
  /** Frees what the executor holds (connections, processes). */
  close(): Promise<void>;
}
