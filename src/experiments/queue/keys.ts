/**
 * Names in Redis. BullMQ keeps its queue under `bull:<queue>:...`; what flatminima adds beside it
 * (checkpoints of running jobs, models of finished ones) lives under `flatminima:<queue>:...`, so
 * `redis-cli --scan --pattern 'flatminima:*'` shows exactly what is ours.
 */

/** The queue every submitter and worker uses unless told otherwise. */
export const DEFAULT_QUEUE = 'flatminima-runs';

/** BullMQ job name of a training run (the only name a worker accepts). */
export const RUN_JOB_NAME = 'run';

/**
 * Checks a queue name: letters, digits, `-` and `_`, 1 to 64 of them (BullMQ reserves `:`).
 * @throws RangeError naming `what`.
 */
export function validQueueName(name: string, what = '--queue'): string {
  if (typeof name !== 'string' || !/^[A-Za-z0-9_-]{1,64}$/.test(name)) {
    throw new RangeError(`${what} must be 1-64 letters, digits, '-' or '_', got ${JSON.stringify(name)}`);
  }
  return name;
}

/** Key of the newest checkpoint of a queued run. */
export function checkpointKey(queue: string, runId: string): string {
  return `flatminima:${queue}:checkpoint:${runId}`;
}

/** Key of the saved final model of a finished run (a hash: file name -> bytes). */
export function modelKey(queue: string, runId: string): string {
  return `flatminima:${queue}:model:${runId}`;
}
