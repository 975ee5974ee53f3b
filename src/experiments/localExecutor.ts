/**
 * The local worker pool (pool.ts: one child process per run, `jobs` at a time) behind the
 * {@link Executor} interface, so a sweep or a comparison runs on it or on a queue the same way.
 */
import { resolveExecution, type ExecuteOptions, type ExecutionOptions, type Executor, type ResolvedExecution } from './executor.js';
import { runMany } from './pool.js';
import type { RunRecord, RunSpec } from './schema.js';

/** The local worker pool as an {@link Executor}: one child process per run, `jobs` at a time. */
export class LocalPoolExecutor implements Executor {
  readonly description: string;
  private readonly execution: ResolvedExecution;

  constructor(options: ExecutionOptions = {}) {
    this.execution = resolveExecution(options);
    const { jobs, threads, backend } = this.execution;
    // The thread count applies to whichever kernels the backend choice ends at (wasm or native);
    // each run's record names the backend it used.
    const each = threads === undefined ? '' : `, ${threads} kernel thread${threads === 1 ? '' : 's'} each`;
    this.description = `local pool: ${jobs} run${jobs === 1 ? '' : 's'} at once, backend ${backend}${each}`;
  }

  /** Runs `specs` in the local worker pool; see {@link Executor.run}. */
  async run(specs: readonly RunSpec[], opts: ExecuteOptions): Promise<RunRecord[]> {
    const { jobs, threads, backend, checkpointEvery } = this.execution;
    return runMany([...specs], {
      resultsDir: opts.resultsDir,
      jobs,
      backend,
      checkpointEvery,
      ...(threads !== undefined ? { threads } : {}),
      ...(opts.onEvent ? { onEvent: opts.onEvent } : {}),
    });
  }

  async close(): Promise<void> {}
}
