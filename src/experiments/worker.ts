/**
 * The child-process side of the run pool ({@link runMany} in pool.ts): receives one run over IPC,
 * runs it with {@link runSpec}, streams progress back, and answers with the record or the error.
 * Each run gets a fresh process, so a crash or a leak in one run cannot touch the others.
 */
import { runSpec, type BackendChoice, type Progress } from './runner.js';
import type { RunRecord } from './schema.js';

/** Parent -> worker: the run to do. */
export interface WorkerRequest {
  type: 'run';
  spec: unknown;
  resultsDir: string;
  backend?: BackendChoice;
  threads?: number;
  checkpointEvery?: number;
}

/** Worker -> parent messages. */
export type WorkerMessage =
  { type: 'progress'; progress: Progress } | { type: 'done'; record: RunRecord } | { type: 'error'; message: string };

/** Minimum milliseconds between progress messages (the last step of each epoch is always sent). */
const PROGRESS_EVERY_MS = 100;

function send(msg: WorkerMessage): Promise<void> {
  return new Promise((resolve) => {
    if (process.send === undefined) return resolve();
    process.send(msg, undefined, {}, () => resolve());
  });
}

/**
 * Aborted when the parent goes away (its IPC channel closes: the parent exited, was killed, or
 * crashed): the run stops at its next step, keeping its last checkpoint, and the worker exits, since
 * nobody is left to report to. The training loop yields to the event loop regularly (see
 * YIELD_EVERY_MS in runner.ts), which is what lets this fire while a run trains.
 */
const parentGone = new AbortController();

/** Whether a run is in progress (a disconnect then waits for it to stop at its next step). */
let running = false;

/** How long a disconnected worker waits for its run to stop before exiting anyway. */
const STOP_GRACE_MS = 3000;

function onDisconnect(): void {
  parentGone.abort();
  if (!running) process.exit(0);
  // The run may be in its final, uninterruptible measurements; its checkpoint is safe on disk anyway.
  setTimeout(() => process.exit(0), STOP_GRACE_MS).unref();
}

async function handle(req: WorkerRequest): Promise<void> {
  let last = 0;
  running = true;
  try {
    const record = await runSpec(req.spec as Parameters<typeof runSpec>[0], {
      resultsDir: req.resultsDir,
      signal: parentGone.signal,
      ...(req.backend !== undefined ? { backend: req.backend } : {}),
      ...(req.threads !== undefined ? { threads: req.threads } : {}),
      ...(req.checkpointEvery !== undefined ? { checkpointEvery: req.checkpointEvery } : {}),
      onProgress: (progress) => {
        const now = Date.now();
        if (now - last >= PROGRESS_EVERY_MS || progress.step === progress.stepsPerEpoch) {
          last = now;
          void send({ type: 'progress', progress });
        }
      },
    });
    if (parentGone.signal.aborted) process.exit(0);
    await send({ type: 'done', record });
  } catch (err) {
    if (parentGone.signal.aborted) process.exit(0);
    const e = err as Error;
    await send({ type: 'error', message: e?.message ?? String(err) });
  }
  running = false;
  process.disconnect?.();
}

if (process.send !== undefined) {
  process.on('disconnect', onDisconnect);
  process.once('message', (msg: WorkerRequest) => {
    if (msg?.type === 'run') void handle(msg);
  });
}
