/**
 * Checkpoints of queued runs in Redis, so whichever worker takes a job next resumes it. The value is
 * the checkpoint file's exact bytes (checkpoint.ts: magic, header with the SHA-256 of the tensor
 * data, tensors), so a damaged value is detected on load as a damaged file is.
 *
 * A save never goes backwards: the key keeps the run's optimiser step beside the bytes, and a save
 * from a worker that is behind (one that lost its job's lock but still runs, say) is dropped by a
 * script that compares the two atomically. Training is deterministic, so two writers at the same
 * step write the same state.
 */
import type { Redis } from 'ioredis';
import { decodeCheckpoint, encodeCheckpointBytes, type CheckpointData } from '../checkpoint.js';
import type { CheckpointStore, StoredCheckpoint } from '../checkpointStore.js';
import { checkpointKey, validQueueName } from './keys.js';

/** HSET the checkpoint unless the stored one is further along (KEYS[1]; ARGV: step, bytes). */
const SAVE_UNLESS_BEHIND = `
local stored = redis.call('HGET', KEYS[1], 'step')
if stored and tonumber(stored) > tonumber(ARGV[1]) then return 0 end
redis.call('HSET', KEYS[1], 'step', ARGV[1], 'bytes', ARGV[2])
return 1`;

/** A {@link CheckpointStore} on a Redis server shared by the queue's workers. */
export class RedisCheckpointStore implements CheckpointStore {
  /**
   * @param client a connected ioredis client.
   * @param queue the queue's name (keys are `flatminima:<queue>:checkpoint:<runId>`).
   * @param where the server as it may be shown (a masked URL), for messages.
   */
  constructor(
    private readonly client: Redis,
    private readonly queue: string,
    private readonly where: string,
  ) {
    validQueueName(queue, 'RedisCheckpointStore: queue');
  }

  /** The run's checkpoint, or null when it has none. @throws Error when the stored bytes are unusable. */
  async load(runId: string): Promise<StoredCheckpoint | null> {
    const key = checkpointKey(this.queue, runId);
    const bytes = await this.client.hgetBuffer(key, 'bytes');
    if (bytes === null) return null;
    const source = `${key} on ${this.where}`;
    return { data: decodeCheckpoint(bytes, source), source };
  }

  /** Stores `data` as the run's checkpoint unless the stored one has more optimiser steps. */
  async save(runId: string, data: CheckpointData): Promise<void> {
    await this.client.eval(SAVE_UNLESS_BEHIND, 1, checkpointKey(this.queue, runId), String(data.globalStep), encodeCheckpointBytes(data));
  }

  /** Deletes the run's checkpoint (once its record is safe). */
  async remove(runId: string): Promise<void> {
    await this.client.del(checkpointKey(this.queue, runId));
  }
}
