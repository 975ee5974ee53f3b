/**
 * Where a run's checkpoints live. The runner reads and writes checkpoints only through a
 * {@link CheckpointStore}, so the place can change (a local directory today; a shared directory or
 * a key-value server for a distributed queue later) without touching the training loop.
 *
 * The methods return promises because a networked store can only answer asynchronously; the
 * directory store does its file work synchronously and resolves at once.
 */
import { mkdirSync } from 'node:fs';
import { loadCheckpoint, saveCheckpoint, type CheckpointData } from './checkpoint.js';
import { runDir } from './store.js';

/** A checkpoint read back from a store, with where it came from (for messages). */
export interface StoredCheckpoint {
  /** The checkpoint itself. */
  data: CheckpointData;
  /** Where the checkpoint was read from, as a person would look for it (a file path for the directory store). */
  source: string;
}

/** Saves and loads the newest checkpoint of each run, keyed by run id. */
export interface CheckpointStore {
  /**
   * The newest usable checkpoint of run `runId`, or null when it has none.
   * Rejects when checkpoints exist but none can be used (the runner then stops rather than start over).
   */
  load(runId: string): Promise<StoredCheckpoint | null>;
  /**
   * Stores `data` as run `runId`'s newest checkpoint. The store may keep `data` itself: the runner
   * hands over fresh arrays and a copy of the record and does not touch them afterwards. A save
   * must be all-or-nothing: after a crash, `load` returns this checkpoint or the one before.
   */
  save(runId: string, data: CheckpointData): Promise<void>;
}

/**
 * The default store: `<resultsDir>/<runId>/checkpoint.bin` (with `checkpoint.prev.bin` as backup),
 * in the file format of checkpoint.ts, so checkpoints written before this store existed still load.
 */
export class DirectoryCheckpointStore implements CheckpointStore {
  /** @param resultsDir the results directory holding one folder per run. */
  constructor(readonly resultsDir: string) {
    if (typeof resultsDir !== 'string' || resultsDir.length === 0) {
      throw new TypeError(`DirectoryCheckpointStore: resultsDir must be a non-empty path string, got ${JSON.stringify(resultsDir)}`);
    }
  }

  /** Reads `checkpoint.bin`, or `checkpoint.prev.bin` when the newest is missing or damaged. */
  async load(runId: string): Promise<StoredCheckpoint | null> {
    const found = loadCheckpoint(runDir(this.resultsDir, runId));
    return found === null ? null : { data: found.data, source: found.file };
  }

  /** Writes `checkpoint.bin` atomically, keeping the previous one as `checkpoint.prev.bin`. */
  async save(runId: string, data: CheckpointData): Promise<void> {
    const dir = runDir(this.resultsDir, runId);
    mkdirSync(dir, { recursive: true });
    saveCheckpoint(dir, data);
  }
}

/** Whether `value` has the two methods of a {@link CheckpointStore}. */
export function isCheckpointStore(value: unknown): value is CheckpointStore {
  const s = value as Partial<CheckpointStore> | null;
  return typeof s === 'object' && s !== null && typeof s.load === 'function' && typeof s.save === 'function';
}
