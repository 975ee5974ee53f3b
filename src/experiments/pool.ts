/**
 * Runs many specs in parallel child processes (one process per run, `jobs` at a time), so a
 * comparison uses every core and one crashing run cannot take the others down. Specs and records
 * cross the process boundary as plain JSON, the same shape a distributed queue would carry.
 */
import { fork } from 'node:child_process';
import { childExecArgv, childModulePath } from './childModule.js';
import { runId, sameSpec, type BackendChoice, type Progress } from './runner.js';
import type { RunRecord, RunSpec } from './schema.js';
import { newRecord, readRecord, writeRecord } from './store.js';
import { parseRunSpec, ValidationError } from './validate.js';
import type { WorkerMessage, WorkerRequest } from './worker.js';
import type { ExecutorEvent } from './executor.js';

/** Options of {@link runMany}. */
export interface RunManyOptions {
  resultsDir: string;
  /** Runs at once (child processes), a positive integer. */
  jobs: number;
  /** Progress of every run (throttled to about 10 per second per run). */
  onProgress?: (p: Progress) => void;
  /** Every run's start, progress and end, and the runs skipped as already finished. */
  onEvent?: (event: ExecutorEvent) => void;
  backend?: BackendChoice;
  threads?: number;
  checkpointEvery?: number;
}

/** The worker module's path: worker.js next to this file when built, worker.ts under tsx. */
function workerPath(): string {
  return childModulePath('./worker', import.meta.url);
}

/** A record for a run that failed before or without writing a usable one. */
function failureRecord(spec: RunSpec, id: string, resultsDir: string, message: string, backend: string): RunRecord {
  let existing: RunRecord | null;
  try {
    existing = readRecord(resultsDir, id);
  } catch {
    existing = null; // a damaged record file: fall back to a fresh failure record
  }
  const base = existing ?? newRecord(id, spec, { backend, threads: null, versions: {} });
  return { ...base, status: base.status === 'complete' ? 'running' : base.status, error: message };
}

/** The record of a complete or diverged run of `spec`, or null when it still has to run. */
function finishedRecord(resultsDir: string, id: string, spec: RunSpec): RunRecord | null {
  try {
    const r = readRecord(resultsDir, id);
    return r !== null && r.status !== 'running' && sameSpec(r.spec, spec) ? r : null;
  } catch {
    return null; // unreadable: let the worker deal with (and report) it
  }
}

function runInChild(worker: string, req: WorkerRequest, onProgress?: (p: Progress) => void): Promise<RunRecord | { error: string }> {
  return new Promise((resolve) => {
    const child = fork(worker, [], { execArgv: childExecArgv(worker), stdio: ['ignore', 'ignore', 'pipe', 'ipc'] });
    let result: RunRecord | { error: string } | null = null;
    let stderr = '';
    child.stderr?.on('data', (chunk: Buffer) => {
      stderr = (stderr + chunk.toString()).slice(-4000); // the tail names the crash
    });
    child.on('message', (msg: WorkerMessage) => {
      if (msg.type === 'progress') onProgress?.(msg.progress);
      else if (msg.type === 'done') result = msg.record;
      else if (msg.type === 'error') result = { error: msg.message };
    });
    child.on('error', (err) => {
      result ??= { error: `could not start the run's worker process: ${err.message}` };
    });
    child.on('exit', (code, signal) => {
      const tail = stderr.trim().split('\n').slice(-5).join('\n');
      resolve(result ?? { error: `worker process exited (${signal ?? `code ${code}`}) before finishing${tail ? `: ${tail}` : ''}` });
    });
    child.send(req);
  });
}

/**
 * Runs `specs` in up to `jobs` parallel child processes and returns their records in spec order.
 * Runs already complete in `resultsDir` return at once; interrupted ones resume from their
 * checkpoints. A diverged run's record says 'diverged'; a run that failed (an error, a killed
 * process) gets a record with `error` set and status 'running' — none is dropped.
 * @throws ValidationError when a spec is invalid (all specs are checked before anything runs).
 */
export async function runMany(specs: RunSpec[], opts: RunManyOptions): Promise<RunRecord[]> {
  if (!Array.isArray(specs)) throw new Error('specs must be an array of run specs');
  if (opts === null || typeof opts !== 'object' || typeof opts.resultsDir !== 'string' || opts.resultsDir.length === 0) {
    throw new Error('opts.resultsDir must be a non-empty directory path');
  }
  if (!Number.isInteger(opts.jobs) || opts.jobs < 1) throw new Error(`jobs must be a positive integer, got ${String(opts.jobs)}`);
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
  // The same run listed twice is run once (two processes must never share a run folder).
  const unique = [...new Set(ids)];
  const byId = new Map<string, RunRecord>();
  const worker = workerPath();
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < unique.length) {
      const id = unique[next++];
      const spec = valid[ids.indexOf(id)] as RunSpec;
      // A finished run needs no process (the worker would return its record at once anyway).
      const done = finishedRecord(opts.resultsDir, id, spec);
      if (done !== null) {
        byId.set(id, done);
        opts.onEvent?.({ type: 'skipped', runId: id, record: done });
        continue;
      }
      const req: WorkerRequest = {
        type: 'run',
        spec,
        resultsDir: opts.resultsDir,
        ...(opts.backend !== undefined ? { backend: opts.backend } : {}),
        ...(opts.threads !== undefined ? { threads: opts.threads } : {}),
        ...(opts.checkpointEvery !== undefined ? { checkpointEvery: opts.checkpointEvery } : {}),
      };
      opts.onEvent?.({ type: 'started', runId: id, spec, worker: 'local' });
      const onProgress = (p: Progress): void => {
        opts.onProgress?.(p);
        opts.onEvent?.({ type: 'progress', progress: p });
      };
      const out = await runInChild(worker, req, onProgress);
      if ('error' in out && typeof out.error === 'string' && !('runId' in out)) {
        const rec = failureRecord(spec, id, opts.resultsDir, out.error, opts.backend ?? 'unknown');
        try {
          writeRecord(opts.resultsDir, rec);
        } catch {
          // Cannot write (disk full, bad directory): the returned record still says what happened.
        }
        byId.set(id, rec);
        opts.onEvent?.({ type: 'finished', record: rec });
      } else {
        byId.set(id, out as RunRecord);
        opts.onEvent?.({ type: 'finished', record: out as RunRecord });
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(opts.jobs, unique.length) }, lane));
  return ids.map((id) => byId.get(id) as RunRecord);
}
