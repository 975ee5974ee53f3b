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
  | { type: 'progress'; progress: Progress }
  | { type: 'done'; record: RunRecord }
  | { type: 'error'; message: string };

/** Minimum milliseconds between progress messages (the last step of each epoch is always sent). */
const PROGRESS_EVERY_MS = 100;

function send(msg: WorkerMessage): Promise<void> {
  return new Promise((resolve) => {
    if (process.send === undefined) return resolve();
    process.send(msg, undefined, {}, () => resolve());
  });
}

async function handle(req: WorkerRequest): Promise<void> {
  let last = 0;
  try {
    const record = await runSpec(req.spec as Parameters<typeof runSpec>[0], {
      resultsDir: req.resultsDir,
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
    await send({ type: 'done', record });
  } catch (err) {
    const e = err as Error;
    await send({ type: 'error', message: e?.message ?? String(err) });
  }
  process.disconnect?.();
}

if (process.send !== undefined) {
  // The parent went away: nothing left to report to, and the checkpoint allows a resume.
  process.on('disconnect', () => process.exit(0));
  process.once('message', (msg: WorkerRequest) => {
    if (msg?.type === 'run') void handle(msg);
  });
}
