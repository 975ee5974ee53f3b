/**
 * Runs one spec: a custom training loop (not `model.fit`, which gives no control over data order or
 * resumption) with per-epoch evaluation, atomic checkpoints, exact resume, divergence detection,
 * and a record written to `<resultsDir>/<runId>/record.json`.
 *
 * Exact resume: all randomness is seeded from the spec, the data order comes from a {@link Rng}
 * whose state is checkpointed, and the checkpoint holds the model weights and the optimiser's
 * full state, so a run restarted from a checkpoint replays the same steps bit for bit.
 *
 * The loop yields to the event loop every {@link YIELD_EVERY_MS} of training, so an AbortSignal,
 * a signal handler (Ctrl-C) or a pool worker's 'disconnect' can act while a run trains.
 */
import * as tf from '@tensorflow/tfjs';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { initBackend, type BackendName } from '../backend/index.js';
import { nativeVersionTag } from '../backend/native.js';
import { toTensors, type Dataset } from '../data/index.js';
import { measureSharpness, modelObjective } from '../sharpness/index.js';
import { Rng, type RngState } from '../util/random.js';
import { loadCheckpoint, saveCheckpoint, type CheckpointData, type NamedArray } from './checkpoint.js';
import { correctCount, crossEntropy, decisionGrid, evaluate, toModelInput } from './evaluate.js';
import { saveModel } from './modelStore.js';
import { buildOptimizer } from './optimizerFactory.js';
import { repairRestoredOptimizer } from './tfjsFixes.js';
import { createRunModel, loadRunData, modelInputShape, runSeeds } from './runData.js';
import type { EpochRecord, RunRecord, RunSpec, SharpnessRecord } from './schema.js';
import { MODEL_DIR, newRecord, readRecord, runDir, writeRecord } from './store.js';
import { parseRunSpec } from './validate.js';
import { MEASURE_RHO } from './measurement.js';

/**
 * Longest stretch of training, in milliseconds, between two yields to the event loop. A yield
 * (one setImmediate turn) costs microseconds; a step costs milliseconds or more, so yielding by time
 * rather than every step keeps the cost negligible while timers, signals and IPC still get a turn
 * within about this delay.
 */
export const YIELD_EVERY_MS = 200;

/** Lets pending I/O callbacks (signals, IPC, timers) run: one trip through the event loop. */
function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** Training progress, reported after every optimiser step. */
export interface Progress {
  runId: string;
  /** 1-based epoch in progress. */
  epoch: number;
  epochs: number;
  /** 1-based step within the epoch. */
  step: number;
  stepsPerEpoch: number;
  /** Clean loss of this step's batch. */
  loss: number;
  /** Accuracy on this step's batch (at w, before the update). */
  accuracy: number;
}

/** Backends a run may ask for (see src/backend). */
export type BackendChoice = 'auto' | BackendName;

/** Options of {@link runSpec}. */
export interface RunOptions {
  /** Where `<runId>/` (record, checkpoints, model) goes. */
  resultsDir: string;
  /** Called after every step. */
  onProgress?: (p: Progress) => void;
  /** Write a checkpoint every this many epochs (default 1; the last epoch always gets one). */
  checkpointEvery?: number;
  /** Backend to initialise through src/backend (default 'auto'). */
  backend?: BackendChoice;
  /** Thread count for the wasm backend. */
  threads?: number;
  /** Stops the run at the next step when aborted; the record returned has status 'running' and the
   * run can be resumed from its last checkpoint (a graceful interruption, e.g. on Ctrl-C). Training
   * yields to the event loop at least every {@link YIELD_EVERY_MS}, so an abort from a timer or a
   * signal handler takes effect within about that delay plus one step. The final evaluation and
   * sharpness measurement after the last epoch do not check it. */
  signal?: AbortSignal;
  /** Save the final model to `<runId>/model/` (default true). */
  saveModel?: boolean;
}

/** Keys sorted recursively, so equal specs always serialise (and hash) the same. */
function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

/**
 * A deterministic, readable id for a spec: `<dataset>-<model>-<optimizer>-seed<seed>-<hash8>`, the
 * hash covering the whole spec so two specs that differ anywhere get different ids.
 */
export function runId(spec: RunSpec): string {
  const valid = parseRunSpec(spec);
  const hash = createHash('sha256').update(canonicalJson(valid)).digest('hex').slice(0, 8);
  return `${valid.dataset.name}-${valid.model}-${valid.optimizer.name}-seed${valid.seed}-${hash}`;
}

/** Whether two specs are the same run (canonical JSON equality). */
export function sameSpec(a: RunSpec, b: RunSpec): boolean {
  return canonicalJson(a) === canonicalJson(b);
}

let cachedVersion: string | null = null;

/** This package's version, from the nearest package.json named flatminima above this module. */
function packageVersion(): string {
  if (cachedVersion !== null) return cachedVersion;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    const p = join(dir, 'package.json');
    if (existsSync(p)) {
      const pkg = JSON.parse(readFileSync(p, 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'flatminima' && typeof pkg.version === 'string') return (cachedVersion = pkg.version);
    }
    dir = dirname(dir);
  }
  return (cachedVersion = 'unknown');
}

/** Initialises the requested backend (src/backend) and reports what is in use. */
async function setUpBackend(opts: RunOptions): Promise<{ backend: string; threads: number | null; native: Record<string, string> }> {
  const info = await initBackend({ backend: opts.backend ?? 'auto', ...(opts.threads !== undefined ? { threads: opts.threads } : {}) });
  // The native kernels' oneDNN and the instruction set it runs on decide float rounding: the record names them.
  const native: Record<string, string> = info.name === 'native' ? { oneDNN: nativeVersionTag() } : {};
  return { backend: info.name, threads: info.threads, native };
}

/** Reads tensors into plain arrays for a checkpoint. */
async function toNamedArrays(items: { name: string; tensor: tf.Tensor }[]): Promise<NamedArray[]> {
  const out: NamedArray[] = [];
  for (const { name, tensor } of items) {
    const dtype = tensor.dtype;
    if (dtype !== 'float32' && dtype !== 'int32' && dtype !== 'bool') throw new Error(`cannot checkpoint tensor ${name} of dtype ${dtype}`);
    const values = await tensor.data();
    const data = dtype === 'float32' ? Float32Array.from(values as Float32Array) : dtype === 'int32' ? Int32Array.from(values as Int32Array) : Uint8Array.from(values as Uint8Array);
    out.push({ name, shape: [...tensor.shape], dtype, data });
  }
  return out;
}

function fromNamedArray(a: NamedArray): tf.Tensor {
  return tf.tensor(a.data, a.shape, a.dtype);
}

function validCheckpointEvery(value: number | undefined): number {
  const v = value ?? 1;
  if (!Number.isInteger(v) || v < 1) throw new Error(`checkpointEvery must be a positive integer (epochs), got ${String(value)}`);
  return v;
}

/**
 * Runs `spec` to completion (or divergence) and returns its record, also written to
 * `<resultsDir>/<runId>/record.json`. Resumes from `<resultsDir>/<runId>/checkpoint.bin` when one
 * exists; returns at once if the run already has a complete (or diverged) record.
 * Divergence (non-finite clean loss or weights) does not throw: the record says status 'diverged'
 * and names the epoch and step, and the last good checkpoint stays.
 * @throws ValidationError for a bad spec; Error for bad options or unreadable data.
 */
export async function runSpec(spec: RunSpec, opts: RunOptions): Promise<RunRecord> {
  const valid = parseRunSpec(spec);
  if (opts === null || typeof opts !== 'object' || typeof opts.resultsDir !== 'string' || opts.resultsDir.length === 0) {
    throw new Error('opts.resultsDir must be a non-empty directory path');
  }
  const checkpointEvery = validCheckpointEvery(opts.checkpointEvery);
  const id = runId(valid);
  const dir = runDir(opts.resultsDir, id);
  mkdirSync(dir, { recursive: true });

  const existing = readRecord(opts.resultsDir, id);
  if (existing !== null && existing.status !== 'running') {
    if (!sameSpec(existing.spec, valid)) throw new Error(`results folder ${dir} holds a different spec under the same id`);
    return existing;
  }
  const checkpoint = loadCheckpoint(dir);
  if (checkpoint !== null && !sameSpec(checkpoint.data.record.spec, valid)) {
    throw new Error(`checkpoint ${checkpoint.file} belongs to a different spec`);
  }

  const sessionStart = performance.now();
  const { backend, threads, native } = await setUpBackend(opts);
  const seeds = runSeeds(valid.seed);
  const { train, test } = loadRunData(valid, seeds);
  if (train.size === 0) throw new Error(`dataset ${train.name} has no training examples`);
  const inputShape = modelInputShape(valid, train);
  const stepsPerEpoch = Math.ceil(train.size / valid.batchSize);
  const totalSteps = valid.epochs * stepsPerEpoch;

  const model = createRunModel(valid, train, seeds);
  const built = buildOptimizer(valid, totalSteps);
  const vars = model.trainableWeights.map((w) => w.read() as tf.Variable);
  const orderRng = new Rng(seeds.order);

  let record: RunRecord;
  let startEpoch = 0;
  let globalStep = 0;
  let priorWallSeconds = 0;
  let lastCheckpointEpoch = checkpoint?.data.epoch ?? 0;
  try {
    if (checkpoint !== null) {
      const ck = checkpoint.data;
      const weights = ck.modelWeights.map(fromNamedArray);
      model.setWeights(weights);
      tf.dispose(weights);
      const optWeights = ck.optimizerWeights.map((a) => ({ name: a.name, tensor: fromNamedArray(a) }));
      await built.optimizer.setWeights(optWeights);
      // setWeights makes its own variables from these (sharing data by reference count).
      tf.dispose(optWeights.map((w) => w.tensor));
      repairRestoredOptimizer(built.base);
      orderRng.setState(ck.rngState);
      startEpoch = ck.epoch;
      globalStep = ck.globalStep;
      record = { ...ck.record, backend, threads, versions: { ...ck.record.versions, ...native } };
      priorWallSeconds = ck.record.wallSeconds;
    } else {
      record = newRecord(id, valid, {
        backend,
        threads,
        versions: { flatminima: packageVersion(), '@tensorflow/tfjs': tf.version.tfjs, node: process.versions.node, ...native },
      });
    }
    const wall = (): number => priorWallSeconds + (performance.now() - sessionStart) / 1000;
    let lastYield = performance.now();

    for (let epoch = startEpoch; epoch < valid.epochs; epoch++) {
      const epochStart = performance.now();
      const order = orderRng.permutation(train.size);
      let lossSum = 0;
      let correctSum = 0;
      let perturbedSum = 0;
      let gapSum = 0;
      for (let s = 0; s < stepsPerEpoch; s++) {
        if (performance.now() - lastYield >= YIELD_EVERY_MS) {
          await yieldToEventLoop();
          lastYield = performance.now();
        }
        if (opts.signal?.aborted) {
          record.wallSeconds = wall();
          return record; // interrupted: the run resumes from its last checkpoint
        }
        const idx = order.subarray(s * valid.batchSize, Math.min(train.size, (s + 1) * valid.batchSize));
        const { x: rawX, y } = toTensors(train, idx);
        const x = toModelInput(rawX, inputShape);
        built.setStep(globalStep);
        let calls = 0;
        let correct: tf.Scalar | null = null;
        // The sharpness-aware optimisers call this twice per step, first at w (clean), then at
        // w + e; the batch accuracy is taken from the first call only.
        const lossFn = (): tf.Scalar => {
          const probs = model.apply(x, { training: true }) as tf.Tensor;
          if (calls++ === 0) correct = tf.keep(correctCount(probs, y));
          return crossEntropy(probs, y);
        };
        let cost: tf.Scalar | null = null;
        let stepError: Error | null = null;
        try {
          cost = built.optimizer.minimize(lossFn, true, vars);
        } catch (err) {
          stepError = err as Error;
        }
        const readings = tf.tidy(() => {
          const weightSum = tf.addN(vars.map((v) => tf.sum(tf.abs(v))));
          return tf.stack([cost ?? tf.scalar(NaN), correct ?? tf.scalar(0), weightSum]);
        });
        const [loss, nCorrect, weightSum] = readings.dataSync();
        tf.dispose([readings, rawX, x, y, ...(cost ? [cost] : []), ...(correct ? [correct] : [])]);
        globalStep++;
        const stepInfo = `epoch ${epoch + 1}, step ${s + 1} of ${stepsPerEpoch}`;
        const why = stepError
          ? `the optimiser step failed (${stepError.message})`
          : !Number.isFinite(loss)
            ? `clean loss is ${loss}`
            : !Number.isFinite(weightSum)
              ? 'the weights became non-finite after the update (non-finite gradient)'
              : null;
        if (why !== null) {
          const kept = lastCheckpointEpoch > 0 ? `the checkpoint of epoch ${lastCheckpointEpoch} is kept` : 'no checkpoint was written yet';
          const message = `diverged at ${stepInfo}: ${why}; ${kept}`;
          record.status = 'diverged';
          record.divergence = { epoch: epoch + 1, step: s + 1, message };
          record.finishedAt = new Date().toISOString();
          record.wallSeconds = wall();
          writeRecord(opts.resultsDir, record);
          return record;
        }
        const accuracy = nCorrect / idx.length;
        lossSum += loss;
        correctSum += nCorrect;
        if (built.perturbs && built.sharpnessAware !== null) {
          perturbedSum += built.sharpnessAware.lastPerturbedLoss ?? NaN;
          gapSum += built.sharpnessAware.lastSurrogateGap ?? NaN;
        }
        opts.onProgress?.({ runId: id, epoch: epoch + 1, epochs: valid.epochs, step: s + 1, stepsPerEpoch, loss, accuracy });
      }
      const testMetrics = test.size > 0 ? evaluate(model, test, inputShape) : { loss: NaN, accuracy: NaN };
      const epochRecord: EpochRecord = {
        epoch: epoch + 1,
        trainLoss: lossSum / stepsPerEpoch,
        trainAccuracy: correctSum / train.size,
        testLoss: testMetrics.loss,
        testAccuracy: testMetrics.accuracy,
        perturbedLoss: built.perturbs ? perturbedSum / stepsPerEpoch : null,
        surrogateGap: built.perturbs ? gapSum / stepsPerEpoch : null,
        seconds: (performance.now() - epochStart) / 1000,
      };
      record.epochs.push(epochRecord);
      record.final = {
        trainLoss: epochRecord.trainLoss,
        trainAccuracy: epochRecord.trainAccuracy,
        testLoss: epochRecord.testLoss,
        testAccuracy: epochRecord.testAccuracy,
      };
      record.wallSeconds = wall();
      if ((epoch + 1) % checkpointEvery === 0 || epoch + 1 === valid.epochs) {
        await writeCheckpoint(dir, model, built.optimizer, {
          epoch: epoch + 1,
          globalStep,
          // sfc32 keeps `a` as a signed int32 after its xor; >>> 0 gives the same bits unsigned,
          // which is what Rng.setState accepts (and the stream continues identically).
          rngState: orderRng.getState().map((v) => v >>> 0) as RngState,
          record,
        });
        lastCheckpointEpoch = epoch + 1;
      }
      writeRecord(opts.resultsDir, record);
    }

    // Finishing touches on the final model.
    if (valid.dataset.name === 'moons') record.decisionGrid = decisionGrid(model, train, test);
    if ((valid.measureExamples ?? 0) > 0 && test.size > 0) {
      record.sharpness = measureFinalSharpness(model, valid, test, inputShape);
    }
    if (opts.saveModel ?? true) {
      await saveModel(model, join(dir, MODEL_DIR));
      record.modelDir = MODEL_DIR;
    }
    record.status = 'complete';
    record.finishedAt = new Date().toISOString();
    record.wallSeconds = wall();
    writeRecord(opts.resultsDir, record);
    return record;
  } finally {
    built.dispose();
    model.dispose();
  }
}

/** Writes the model, optimiser, RNG and record state as one atomic checkpoint. */
async function writeCheckpoint(
  dir: string,
  model: tf.LayersModel,
  optimizer: tf.Optimizer,
  state: Pick<CheckpointData, 'epoch' | 'globalStep' | 'rngState' | 'record'>,
): Promise<void> {
  // getWeights() of a model returns its live variables: read, never dispose them.
  const live = model.getWeights();
  const modelWeights = await toNamedArrays(model.weights.map((w, i) => ({ name: w.originalName, tensor: live[i] })));
  const optWeights = await optimizer.getWeights();
  let optimizerWeights: NamedArray[];
  try {
    optimizerWeights = await toNamedArrays(optWeights);
  } finally {
    // Optimisers return their slot variables (kept) plus freshly made scalars such as the step count.
    tf.dispose(optWeights.map((w) => w.tensor).filter((t) => !(t instanceof tf.Variable)));
  }
  saveCheckpoint(dir, { ...state, record: structuredClone(state.record), modelWeights, optimizerWeights });
}

/**
 * Sharpness of the final model on the first `measureExamples` test examples (src/sharpness). The
 * surrogate gap (and Lemma 3's 2h/rho²) is taken at {@link MEASURE_RHO} for every run, whatever rho
 * it trained with, so the columns of a comparison measure the same neighbourhood; the record's
 * `rho` says which radius that was.
 */
function measureFinalSharpness(
  model: tf.LayersModel,
  spec: RunSpec,
  test: Dataset,
  inputShape: number[],
): SharpnessRecord {
  const n = Math.min(spec.measureExamples ?? 0, test.size);
  const idx = Int32Array.from({ length: n }, (_, i) => i);
  const { x: rawX, y } = toTensors(test, idx);
  const x = toModelInput(rawX, inputShape);
  try {
    return measureSharpness(modelObjective(model, x, y), { rho: MEASURE_RHO, seed: spec.seed, landscape: true, examples: n });
  } finally {
    tf.dispose([rawX, x, y]);
  }
}
