/**
 * Training checkpoints: one self-checking binary file per run holding the model weights, the
 * optimiser's full state, the data-order RNG state, the epoch reached and the record so far.
 *
 * Layout: 8-byte magic `FMCKPT01`, uint32 LE header length, UTF-8 JSON header, then the tensor
 * bytes. The header stores the SHA-256 of those bytes, so a truncated or damaged file is detected
 * on load. A checkpoint taken at an epoch boundary has header version 1 (as every checkpoint before
 * mid-epoch ones existed); one taken inside an epoch (a worker told to stop) has version 2 and a
 * `partialEpoch` field, so a reader that knows only version 1 refuses it instead of resuming wrongly.
 * Writes go through a temp file + fsync + rename, and the previous checkpoint is kept as
 * `checkpoint.prev.bin`, so a crash at any moment leaves at least one complete checkpoint.
 * Plain arrays only (no tensors) so this module knows nothing about tfjs.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from './atomicFile.js';
import type { RunRecord } from './schema.js';
import type { RngState } from '../util/random.js';
import { parseRunRecord } from './validate.js';

/** File name of the newest checkpoint inside a run's folder. */
export const CHECKPOINT_FILE = 'checkpoint.bin';
/** File name of the previous complete checkpoint, kept until the next one is written. */
export const PREVIOUS_CHECKPOINT_FILE = 'checkpoint.prev.bin';

const MAGIC = Buffer.from('FMCKPT01', 'ascii');
/** Header version of a checkpoint at an epoch boundary. */
const FORMAT_VERSION = 1;
/** Header version of a checkpoint inside an epoch (with `partialEpoch`). */
const PARTIAL_FORMAT_VERSION = 2;

/** A named array of numbers with its tfjs shape and dtype. */
export interface NamedArray {
  /** The weight's name (a model variable's, or an optimiser state entry's). */
  name: string;
  /** The tfjs shape ([] for a scalar). */
  shape: number[];
  /** The tfjs dtype: 'float32', 'int32' or 'bool'. */
  dtype: 'float32' | 'int32' | 'bool';
  /** The values, flat in row-major order: a Float32Array for float32, Int32Array for int32, Uint8Array (0/1) for bool. */
  data: Float32Array | Int32Array | Uint8Array;
}

/** Sums over the steps of an epoch so far, from which its record is computed when it ends. */
export interface EpochSums {
  loss: number;
  correct: number;
  perturbedLoss: number;
  surrogateGap: number;
}

/** Where a run stopped inside epoch `epoch + 1` (a checkpoint taken between two steps). */
export interface PartialEpoch {
  /** Steps of epoch `epoch + 1` already taken (0 <= step < steps per epoch). */
  step: number;
  /** The epoch's step sums so far. */
  sums: EpochSums;
  /** Wall seconds spent in the epoch so far. */
  seconds: number;
}

/** Everything a run needs to continue exactly where it stopped (at an epoch boundary, or between two steps). */
export interface CheckpointData {
  /** Epochs completed. */
  epoch: number;
  /** Optimiser steps taken over the whole run. */
  globalStep: number;
  /** State of the run's data-order generator after `epoch` epochs, i.e. before epoch `epoch + 1`
   * draws its order (also for a partial epoch, which draws the same order again on resume). */
  rngState: RngState;
  /** Set when the checkpoint was taken inside epoch `epoch + 1`; absent at an epoch boundary. */
  partialEpoch?: PartialEpoch;
  /** The record so far (status 'running'). */
  record: RunRecord;
  /** Model weights in `model.getWeights()` order. */
  modelWeights: NamedArray[];
  /** The optimiser's `getWeights()` (slots, step, schedule position). */
  optimizerWeights: NamedArray[];
}

interface TensorEntry {
  name: string;
  shape: number[];
  dtype: NamedArray['dtype'];
  offset: number;
  byteLength: number;
}

interface Header {
  version: number;
  bodyBytes: number;
  sha256: string;
  epoch: number;
  globalStep: number;
  rngState: RngState;
  /** Version 2 only. Non-finite sums are written as strings ('NaN', 'Infinity'), which JSON lacks. */
  partialEpoch?: { step: number; sums: Record<keyof EpochSums, number | string>; seconds: number };
  record: unknown;
  model: TensorEntry[];
  optimizer: TensorEntry[];
}

/** Serialises a checkpoint to bytes (header + tensor data). */
export function encodeCheckpoint(data: CheckpointData): Uint8Array[] {
  const chunks: Uint8Array[] = [];
  let offset = 0;
  const entries = (arrays: NamedArray[]): TensorEntry[] =>
    arrays.map((a) => {
      const size = a.shape.reduce((p, d) => p * d, 1);
      if (a.data.length !== size) throw new Error(`checkpoint tensor ${a.name}: ${a.data.length} values for shape [${a.shape}]`);
      const bytes = new Uint8Array(a.data.buffer, a.data.byteOffset, a.data.byteLength);
      chunks.push(bytes);
      const e: TensorEntry = { name: a.name, shape: [...a.shape], dtype: a.dtype, offset, byteLength: bytes.byteLength };
      offset += bytes.byteLength;
      return e;
    });
  const model = entries(data.modelWeights);
  const optimizer = entries(data.optimizerWeights);
  const hash = createHash('sha256');
  for (const c of chunks) hash.update(c);
  const partial = data.partialEpoch;
  const header: Header = {
    version: partial === undefined ? FORMAT_VERSION : PARTIAL_FORMAT_VERSION,
    bodyBytes: offset,
    sha256: hash.digest('hex'),
    epoch: data.epoch,
    globalStep: data.globalStep,
    rngState: data.rngState,
    ...(partial !== undefined ? { partialEpoch: { step: partial.step, sums: encodeSums(partial.sums), seconds: partial.seconds } } : {}),
    record: data.record,
    model,
    optimizer,
  };
  const headerBytes = Buffer.from(JSON.stringify(header), 'utf8');
  const len = Buffer.alloc(4);
  len.writeUInt32LE(headerBytes.byteLength, 0);
  return [MAGIC, len, headerBytes, ...chunks];
}

/** {@link encodeCheckpoint} as one contiguous buffer (for a store that keeps a value, not a file). */
export function encodeCheckpointBytes(data: CheckpointData): Buffer {
  return Buffer.concat(encodeCheckpoint(data));
}

const SUM_KEYS = ['loss', 'correct', 'perturbedLoss', 'surrogateGap'] as const;

function encodeSums(sums: EpochSums): Record<keyof EpochSums, number | string> {
  return Object.fromEntries(SUM_KEYS.map((k) => [k, Number.isFinite(sums[k]) ? sums[k] : String(sums[k])])) as Record<
    keyof EpochSums,
    number | string
  >;
}

/** The header's partial epoch back as numbers, or a reason it is malformed. */
function decodePartialEpoch(value: unknown): PartialEpoch | string {
  const p = value as { step?: unknown; sums?: Record<string, unknown>; seconds?: unknown } | null;
  if (p === null || typeof p !== 'object') return 'partialEpoch is missing';
  if (typeof p.step !== 'number' || !Number.isInteger(p.step) || p.step < 0)
    return `partialEpoch.step must be a whole number >= 0, got ${JSON.stringify(p.step)}`;
  if (typeof p.seconds !== 'number' || !(p.seconds >= 0))
    return `partialEpoch.seconds must be a number >= 0, got ${JSON.stringify(p.seconds)}`;
  if (p.sums === null || typeof p.sums !== 'object') return 'partialEpoch.sums is missing';
  const sums: Partial<EpochSums> = {};
  for (const k of SUM_KEYS) {
    const v = p.sums[k];
    const n = typeof v === 'number' ? v : v === 'NaN' || v === 'Infinity' || v === '-Infinity' ? Number(v) : undefined;
    if (n === undefined) return `partialEpoch.sums.${k} must be a number, got ${JSON.stringify(v)}`;
    sums[k] = n;
  }
  return { step: p.step, sums: sums as EpochSums, seconds: p.seconds };
}

/**
 * Parses checkpoint bytes, checking magic, lengths and checksum.
 * @throws Error saying what is wrong (prefixed with `name`).
 */
export function decodeCheckpoint(bytes: Uint8Array, name: string): CheckpointData {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const fail = (why: string): never => {
    throw new Error(`checkpoint ${name} is unusable: ${why}`);
  };
  if (buf.byteLength < MAGIC.byteLength + 4) fail(`only ${buf.byteLength} bytes (truncated)`);
  if (!buf.subarray(0, MAGIC.byteLength).equals(MAGIC)) fail('bad magic (not a flatminima checkpoint)');
  const headerLength = buf.readUInt32LE(MAGIC.byteLength);
  const bodyStart = MAGIC.byteLength + 4 + headerLength;
  if (bodyStart > buf.byteLength) fail(`header of ${headerLength} bytes runs past the end of the file (truncated)`);
  let header: Header;
  try {
    header = JSON.parse(buf.subarray(MAGIC.byteLength + 4, bodyStart).toString('utf8')) as Header;
  } catch (err) {
    return fail(`header is not JSON (${(err as Error).message})`);
  }
  if (header.version !== FORMAT_VERSION && header.version !== PARTIAL_FORMAT_VERSION) {
    fail(`format version ${header.version}, expected ${FORMAT_VERSION} or ${PARTIAL_FORMAT_VERSION}`);
  }
  let partialEpoch: PartialEpoch | undefined;
  if (header.version === PARTIAL_FORMAT_VERSION) {
    const decoded = decodePartialEpoch(header.partialEpoch);
    if (typeof decoded === 'string') fail(decoded);
    partialEpoch = decoded as PartialEpoch;
  }
  const body = buf.subarray(bodyStart);
  if (body.byteLength !== header.bodyBytes) fail(`tensor data is ${body.byteLength} bytes, header says ${header.bodyBytes} (truncated?)`);
  if (createHash('sha256').update(body).digest('hex') !== header.sha256) fail('checksum mismatch (damaged file)');
  const record = parseRunRecord(header.record, `record inside checkpoint ${name}`);
  // Copy each tensor out so the typed arrays are aligned and independent of the file buffer.
  const arrays = (entries: TensorEntry[]): NamedArray[] =>
    entries.map((e) => {
      if (e.offset < 0 || e.offset + e.byteLength > body.byteLength) fail(`tensor ${e.name} lies outside the data`);
      const raw = new Uint8Array(body.subarray(e.offset, e.offset + e.byteLength));
      const data = e.dtype === 'float32' ? new Float32Array(raw.buffer) : e.dtype === 'int32' ? new Int32Array(raw.buffer) : raw;
      const size = e.shape.reduce((p, d) => p * d, 1);
      if (data.length !== size) fail(`tensor ${e.name} has ${data.length} values for shape [${e.shape}]`);
      return { name: e.name, shape: e.shape, dtype: e.dtype, data };
    });
  return {
    epoch: header.epoch,
    globalStep: header.globalStep,
    rngState: header.rngState,
    ...(partialEpoch !== undefined ? { partialEpoch } : {}),
    record,
    modelWeights: arrays(header.model),
    optimizerWeights: arrays(header.optimizer),
  };
}

/** Atomically writes a checkpoint into `dir` (a run's folder), keeping the previous one as backup. */
export function saveCheckpoint(dir: string, data: CheckpointData): void {
  writeFileAtomic(join(dir, CHECKPOINT_FILE), encodeCheckpoint(data), { backupPath: join(dir, PREVIOUS_CHECKPOINT_FILE) });
}

/**
 * The newest complete checkpoint in `dir`: `checkpoint.bin`, or `checkpoint.prev.bin` when the
 * newest is missing or damaged (a crash mid-write). Null when `dir` has no checkpoint at all.
 * @throws Error naming both files when checkpoints exist but none is usable.
 */
export function loadCheckpoint(dir: string): { data: CheckpointData; file: string } | null {
  const errors: string[] = [];
  for (const file of [CHECKPOINT_FILE, PREVIOUS_CHECKPOINT_FILE]) {
    const path = join(dir, file);
    if (!existsSync(path)) continue;
    try {
      return { data: decodeCheckpoint(readFileSync(path), path), file: path };
    } catch (err) {
      errors.push((err as Error).message);
    }
  }
  if (errors.length > 0) throw new Error(`no usable checkpoint in ${dir}:\n  ${errors.join('\n  ')}`);
  return null;
}
