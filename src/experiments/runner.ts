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
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { initBackend, type BackendName } from '../backend/index.js';
import { nativeVersionTag } from '../backend/native.js';
import { toTensors, type Dataset } from '../data/index.js';
import { exampleLosses, type ExampleLossClosure } from '../optimizers/index.js';
import { measureSharpness, modelObjective } from '../sharpness/index.js';
import { Rng, type RngState } from '../util/random.js';
import { packageVersion } from '../util/version.js';
import type { CheckpointData, EpochSums, PartialEpoch } from './checkpoint.js';
import { DirectoryCheckpointStore, isCheckpointStore, type CheckpointStore } from './checkpointStore.js';
import { captureCheckpoint, restoreCheckpoint } from './checkpointTensors.js';
import { correctCount, crossEntropy, crossEntropyPerExample, decisionGrid, evaluate, toModelInput } from './evaluate.js';
import { saveModel } from './modelStore.js';
import { buildOptimizer, type BuiltOptimizer } from './optimizerFactory.js';
import { createRunModel, loadRunData, modelInputShape, runSeeds, type RunSeeds } from './runData.js';
import type { EpochRecord, RunRecord, RunSpec, SharpnessRecord } from './schema.js';
import { MODEL_DIR, newRecord, readRecord, runDir, writeRecord } from './store.js';
import { parseRunSpec } from './validate.js';
import { MEASURE_RHO } from './measurement.js';
import { runId, sameSpec } from './runId.js';
import { weightsSha256 } from './weightsHash.js';

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
  /** The run's id (a hash of its spec). */
  runId: string;
  /** 1-based epoch in progress. */
  epoch: number;
  /** Epochs in the run. */
  epochs: number;
  /** 1-based step within the epoch. */
  step: number;
  /** Steps in each epoch. */
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
   * yields to the event loop at least every `YIELD_EVERY_MS` (200 ms), so an abort from a timer or a
   * signal handler takes effect within about that delay plus one step. The final evaluation and
   * sharpness measurement after the last epoch do not check it. */
  signal?: AbortSignal;
  /** When `signal` stops the run inside an epoch, write a checkpoint at that step (default false:
   * the run resumes from its last epoch checkpoint, as a local Ctrl-C always has). A queue worker
   * that hands a job back sets it, so the next worker loses no step. */
  checkpointOnAbort?: boolean;
  /** Save the final model to `<runId>/model/` (default true). */
  saveModel?: boolean;
  /** Called after every epoch with its record, once the record (and any checkpoint due) is written. */
  onEpoch?: (epoch: EpochRecord, runId: string) => void;
  /**
   * Where checkpoints are read and written (default: a {@link DirectoryCheckpointStore} over
   * `resultsDir`, i.e. `<resultsDir>/<runId>/checkpoint.bin`). The record and the model still go to
   * `resultsDir`.
   */
  checkpointStore?: CheckpointStore;
}

export { runId, sameSpec } from './runId.js';

function validCheckpointEvery(value: number | undefined): number {
  const v = value ?? 1;
  if (!Number.isInteger(v) || v < 1) throw new Error(`checkpointEvery must be a positive integer (epochs), got ${String(value)}`);
  return v;
}

function validCheckpointStore(opts: RunOptions): CheckpointStore {
  const store = opts.checkpointStore;
  if (store === undefined) return new DirectoryCheckpointStore(opts.resultsDir);
  if (!isCheckpointStore(store)) {
    throw new TypeError(
      `runSpec: opts.checkpointStore must be an object with load(runId) and save(runId, data) methods, got ${store === null ? 'null' : typeof store}`,
    );
  }
  return store;
}

// ---------------------------------------------------------------------------------------------
// The stages of a run. runSpec calls them in order; each reads the fixed RunContext and, while
// training, changes only the RunState it is handed.
// ---------------------------------------------------------------------------------------------

/** What stays fixed for the whole of a run: the validated spec, its id and folder, the options. */
interface RunContext {
  /** The validated spec. */
  spec: RunSpec;
  id: string;
  /** `<resultsDir>/<runId>/`. */
  dir: string;
  opts: RunOptions;
  seeds: RunSeeds;
  checkpointEvery: number;
  checkpoints: CheckpointStore;
}

/** The data a run trains and evaluates on, and the sizes derived from it. */
interface RunData {
  train: Dataset;
  /** Held out of the training part for model selection; null without `dataset.validationFraction`. */
  validation: Dataset | null;
  test: Dataset;
  /** One example's shape as the model takes it. */
  inputShape: number[];
  stepsPerEpoch: number;
}

/** The live training objects; {@link Trainer.dispose} frees their tensors. */
interface Trainer {
  model: tf.LayersModel;
  built: BuiltOptimizer;
  /** The variables the optimiser updates (the model's trainable weights). */
  vars: tf.Variable[];
  /** Draws each epoch's data order; its state is checkpointed. */
  orderRng: Rng;
  dispose(): void;
}

/** What moves while a run trains. */
interface RunState {
  record: RunRecord;
  /** Epochs completed. */
  epoch: number;
  /** Optimiser steps taken over the whole run. */
  globalStep: number;
  /** The epoch of the newest checkpoint written (0: none yet). */
  lastCheckpointEpoch: number;
  /** Where the epoch in progress was left, when the run resumed from a checkpoint taken inside it. */
  partial: PartialEpoch | null;
  /** Wall seconds of the run so far, earlier (interrupted) sessions included. */
  wall(): number;
}

/** How an epoch's training ended. */
type EpochOutcome =
  | { kind: 'trained'; sums: EpochSums }
  /** Stopped before step `step` (0-based) of the epoch; `orderState` is the order generator's state
   * before the epoch drew its order. */
  | { kind: 'interrupted'; step: number; sums: EpochSums; orderState: RngState }
  | { kind: 'diverged'; step: number; why: string };

/**
 * Runs `spec` to completion (or divergence) and returns its record, also written to
 * `<resultsDir>/<runId>/record.json`. Resumes from the run's checkpoint (by default
 * `<resultsDir>/<runId>/checkpoint.bin`) when one exists; returns at once if the run already has a
 * complete (or diverged) record.
 * Divergence (non-finite clean loss or weights) does not throw: the record says status 'diverged'
 * and names the epoch and step, and the last good checkpoint stays.
 * @throws ValidationError for a bad spec; Error (TypeError for a wrong type) for bad options or unreadable data.
 */
export async function runSpec(spec: RunSpec, opts: RunOptions): Promise<RunRecord> {
  const opened = openRun(spec, opts);
  if ('finished' in opened) return opened.finished;
  const run = opened;
  const checkpoint = await loadMatchingCheckpoint(run);
  const sessionStart = performance.now();
  const env = await setUpBackend(opts);
  const data = prepareData(run);
  const trainer = buildTrainer(run, data);
  try {
    const state = await resumeOrStart(run, trainer, checkpoint, env, sessionStart);
    const stopped = await trainEpochs(run, data, trainer, state);
    if (stopped !== null) return stopped;
    measureFinalModel(run, data, trainer, state.record);
    return await finishRun(run, trainer, state);
  } finally {
    trainer.dispose();
  }
}

/**
 * Validates the spec and options and makes the run's folder. Returns `{ finished }` instead when
 * the folder already holds the run's complete (or diverged) record.
 */
function openRun(spec: RunSpec, opts: RunOptions): RunContext | { finished: RunRecord } {
  const valid = parseRunSpec(spec);
  if (opts === null || typeof opts !== 'object' || typeof opts.resultsDir !== 'string' || opts.resultsDir.length === 0) {
    throw new Error('opts.resultsDir must be a non-empty directory path');
  }
  const checkpointEvery = validCheckpointEvery(opts.checkpointEvery);
  const checkpoints = validCheckpointStore(opts);
  if (opts.onEpoch !== undefined && typeof opts.onEpoch !== 'function') {
    throw new TypeError(`runSpec: opts.onEpoch must be a function (epoch, runId) => void, got ${typeof opts.onEpoch}`);
  }
  const id = runId(valid);
  const dir = runDir(opts.resultsDir, id);
  mkdirSync(dir, { recursive: true });
  const existing = readRecord(opts.resultsDir, id);
  if (existing !== null && existing.status !== 'running') {
    if (!sameSpec(existing.spec, valid)) throw new Error(`results folder ${dir} holds a different spec under the same id`);
    return { finished: existing };
  }
  return { spec: valid, id, dir, opts, seeds: runSeeds(valid.seed), checkpointEvery, checkpoints };
}

/** The run's newest checkpoint from its store, or null; refuses one written for another spec. */
async function loadMatchingCheckpoint(run: RunContext): Promise<CheckpointData | null> {
  const checkpoint = await run.checkpoints.load(run.id);
  if (checkpoint !== null && !sameSpec(checkpoint.data.record.spec, run.spec)) {
    throw new Error(`checkpoint ${checkpoint.source} belongs to a different spec`);
  }
  return checkpoint?.data ?? null;
}

/** What a run ran on: the backend, its threads, and the versions the backend adds to the record's. */
interface RunEnvironment {
  backend: string;
  threads: number | null;
  /** `{ oneDNN: ... }` on the native kernels, else empty. */
  native: Record<string, string>;
}

/** Initialises the requested backend (src/backend) and reports what is in use. */
async function setUpBackend(opts: RunOptions): Promise<RunEnvironment> {
  const info = await initBackend({ backend: opts.backend ?? 'auto', ...(opts.threads !== undefined ? { threads: opts.threads } : {}) });
  // The native kernels' oneDNN and the instruction set it runs on decide float rounding: the record names them.
  const native: Record<string, string> = info.name === 'native' ? { oneDNN: nativeVersionTag() } : {};
  return { backend: info.name, threads: info.threads, native };
}

/** Stage "prepare data": loads (or generates) and splits the spec's data. */
function prepareData(run: RunContext): RunData {
  const { train, validation, test } = loadRunData(run.spec, run.seeds);
  if (train.size === 0) throw new Error(`dataset ${train.name} has no training examples`);
  return {
    train,
    validation,
    test,
    inputShape: modelInputShape(run.spec, train),
    stepsPerEpoch: Math.ceil(train.size / run.spec.batchSize),
  };
}

/** Stage "build model and optimiser": the freshly initialised model, its optimiser and the data-order generator. */
function buildTrainer(run: RunContext, data: RunData): Trainer {
  const model = createRunModel(run.spec, data.train, run.seeds);
  let built: BuiltOptimizer;
  try {
    built = buildOptimizer(run.spec, run.spec.epochs * data.stepsPerEpoch, run.seeds.optimizer);
  } catch (err) {
    model.dispose();
    throw err;
  }
  return {
    model,
    built,
    vars: model.trainableWeights.map((w) => w.read() as tf.Variable),
    orderRng: new Rng(run.seeds.order),
    dispose(): void {
      built.dispose();
      model.dispose();
    },
  };
}

/**
 * Stage "resume": with a checkpoint, puts its weights, optimiser state and data order back and
 * continues its record; without one, starts a new record. Either way the run's clock starts.
 */
async function resumeOrStart(
  run: RunContext,
  trainer: Trainer,
  checkpoint: CheckpointData | null,
  env: RunEnvironment,
  sessionStart: number,
): Promise<RunState> {
  const clock = (prior: number) => (): number => prior + (performance.now() - sessionStart) / 1000;
  const { backend, threads, native } = env;
  if (checkpoint === null) {
    const versions = { flatminima: packageVersion(), '@tensorflow/tfjs': tf.version.tfjs, node: process.versions.node, ...native };
    const record = newRecord(run.id, run.spec, { backend, threads, versions });
    return { record, epoch: 0, globalStep: 0, lastCheckpointEpoch: 0, partial: null, wall: clock(0) };
  }
  await restoreCheckpoint(trainer.model, trainer.built, checkpoint);
  trainer.orderRng.setState(checkpoint.rngState);
  return {
    record: { ...checkpoint.record, backend, threads, versions: { ...checkpoint.record.versions, ...native } },
    epoch: checkpoint.epoch,
    globalStep: checkpoint.globalStep,
    lastCheckpointEpoch: checkpoint.epoch,
    partial: checkpoint.partialEpoch ?? null,
    wall: clock(checkpoint.record.wallSeconds),
  };
}

/**
 * Stage "train epochs": trains, evaluates and records each remaining epoch. Returns the record
 * when the run stopped early (interrupted: status 'running'; diverged), null when every epoch ran.
 */
async function trainEpochs(run: RunContext, data: RunData, trainer: Trainer, state: RunState): Promise<RunRecord | null> {
  const pace = eventLoopPacer();
  while (state.epoch < run.spec.epochs) {
    const resume = state.partial;
    state.partial = null;
    const epochStart = performance.now() - (resume?.seconds ?? 0) * 1000;
    const outcome = await trainEpoch(run, data, trainer, state, pace, resume);
    if (outcome.kind === 'interrupted') {
      state.record.wallSeconds = state.wall();
      if (run.opts.checkpointOnAbort) {
        const partialEpoch = { step: outcome.step, sums: outcome.sums, seconds: (performance.now() - epochStart) / 1000 };
        await saveCheckpointNow(run, trainer, state, outcome.orderState, partialEpoch);
      }
      return state.record; // the run resumes from its last checkpoint
    }
    if (outcome.kind === 'diverged') return recordDivergence(run, data, state, outcome.step, outcome.why);
    const epochRecord = evaluateEpoch(data, trainer, state.epoch + 1, outcome.sums, epochStart);
    await endEpoch(run, trainer, state, epochRecord);
  }
  return null;
}

/**
 * One epoch's steps in the order drawn for it, stopping at an abort or a divergence. With `resume`
 * (a checkpoint taken inside this epoch), the same order is drawn again and training continues at
 * the step where it stopped, with the epoch's sums so far.
 */
async function trainEpoch(
  run: RunContext,
  data: RunData,
  trainer: Trainer,
  state: RunState,
  pace: () => Promise<void>,
  resume: PartialEpoch | null,
): Promise<EpochOutcome> {
  const { batchSize, epochs } = run.spec;
  const { train, stepsPerEpoch } = data;
  const orderState = orderRngState(trainer.orderRng);
  const order = trainer.orderRng.permutation(train.size);
  const sums: EpochSums = resume !== null ? { ...resume.sums } : { loss: 0, correct: 0, perturbedLoss: 0, surrogateGap: 0 };
  for (let s = resume?.step ?? 0; s < stepsPerEpoch; s++) {
    await pace();
    if (run.opts.signal?.aborted) return { kind: 'interrupted', step: s, sums, orderState };
    const idx = order.subarray(s * batchSize, Math.min(train.size, (s + 1) * batchSize));
    const step = trainStep(data, trainer, idx, state.globalStep);
    state.globalStep++;
    const why = divergenceReason(step);
    if (why !== null) return { kind: 'diverged', step: s + 1, why };
    sums.loss += step.loss;
    sums.correct += step.correct;
    const { perturbs, sharpnessAware } = trainer.built;
    if (perturbs && sharpnessAware !== null) {
      sums.perturbedLoss += sharpnessAware.lastPerturbedLoss ?? NaN;
      sums.surrogateGap += sharpnessAware.lastSurrogateGap ?? NaN;
    }
    const accuracy = step.correct / idx.length;
    run.opts.onProgress?.({ runId: run.id, epoch: state.epoch + 1, epochs, step: s + 1, stepsPerEpoch, loss: step.loss, accuracy });
  }
  return { kind: 'trained', sums };
}

/** What one optimiser step reports back (plain numbers; its tensors are freed). */
interface StepReadings {
  /** Clean loss of the batch at w (NaN when the step failed). */
  loss: number;
  /** Correctly classified examples of the batch at w. */
  correct: number;
  /** Sum of |w| over every variable after the update (non-finite when the update was). */
  weightSum: number;
  /** The error the optimiser step threw, if it did. */
  error: Error | null;
}

/** One optimiser step on the training examples `idx`, at run step `globalStep` (0-based). */
function trainStep(data: RunData, trainer: Trainer, idx: Int32Array, globalStep: number): StepReadings {
  const { model, built, vars } = trainer;
  const { x: rawX, y } = toTensors(data.train, idx);
  const x = toModelInput(rawX, data.inputShape);
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
  let error: Error | null = null;
  try {
    // ESAM's data selection, micro-batches and accumulation need one loss per example.
    const f = built.exampleLosses ? exampleLossFn(model, x, y, (c) => (correct = c)) : lossFn;
    cost = (
      built.optimizer.minimize as (
        f: (() => tf.Scalar) | ExampleLossClosure,
        returnCost: boolean,
        varList: tf.Variable[],
      ) => tf.Scalar | null
    )(f, true, vars);
  } catch (err) {
    error = err as Error;
  }
  const readings = tf.tidy(() => {
    const weightSum = tf.addN(vars.map((v) => tf.sum(tf.abs(v))));
    return tf.stack([cost ?? tf.scalar(NaN), correct ?? tf.scalar(0), weightSum]);
  });
  const [loss, nCorrect, weightSum] = readings.dataSync();
  tf.dispose([readings, rawX, x, y, ...(cost ? [cost] : []), ...(correct ? [correct] : [])]);
  return { loss, correct: nCorrect, weightSum, error };
}

/**
 * The batch's loss as one value per example, on any subset of it (ESAM, micro-batches,
 * accumulation). The batch accuracy is counted on the first passes that cover the batch once (the
 * clean pass, in parts with micro-batches or accumulation; MSAM's one pass), never on ESAM's probe.
 */
function exampleLossFn(model: tf.LayersModel, x: tf.Tensor, y: tf.Tensor, setCorrect: (c: tf.Scalar) => void): ExampleLossClosure {
  const size = x.shape[0];
  let counted = 0;
  let total: tf.Scalar | null = null;
  return exampleLosses(size, (indices, pass) => {
    // The gathered inputs stay alive until the gradient is taken (the tape reads them); the pass's tidy frees them.
    const xs = indices === null ? x : tf.gather(x, indices);
    const ys = indices === null ? y : tf.gather(y, indices);
    const probs = model.apply(xs, { training: true }) as tf.Tensor;
    const n = indices === null ? size : indices.shape[0];
    if (pass !== 'probe' && counted + n <= size) {
      const previous: tf.Scalar | null = total;
      total = tf.keep(previous === null ? correctCount(probs, ys) : (tf.add(previous, correctCount(probs, ys)) as tf.Scalar));
      previous?.dispose();
      counted += n;
      setCorrect(total);
    }
    return crossEntropyPerExample(probs, ys);
  });
}

/** Why a step counts as divergence (failed, non-finite loss or weights), or null when it does not. */
function divergenceReason(step: StepReadings): string | null {
  if (step.error) return `the optimiser step failed (${step.error.message})`;
  if (!Number.isFinite(step.loss)) return `clean loss is ${step.loss}`;
  if (!Number.isFinite(step.weightSum)) return 'the weights became non-finite after the update (non-finite gradient)';
  return null;
}

/** Marks the record diverged at 1-based `step` of the epoch in progress, writes it and returns it. */
function recordDivergence(run: RunContext, data: RunData, state: RunState, step: number, why: string): RunRecord {
  const epoch = state.epoch + 1;
  const stepInfo = `epoch ${epoch}, step ${step} of ${data.stepsPerEpoch}`;
  const kept =
    state.lastCheckpointEpoch > 0 ? `the checkpoint of epoch ${state.lastCheckpointEpoch} is kept` : 'no checkpoint was written yet';
  const record = state.record;
  record.status = 'diverged';
  record.divergence = { epoch, step, message: `diverged at ${stepInfo}: ${why}; ${kept}` };
  record.finishedAt = new Date().toISOString();
  record.wallSeconds = state.wall();
  writeRecord(run.opts.resultsDir, record);
  return record;
}

/**
 * Stage "evaluate": the record of 1-based epoch `epoch` from its step sums, the test set and, when
 * the run has one, the validation set (a plain run's record has no validation fields at all, so it
 * stays as it was before validation splits existed).
 */
function evaluateEpoch(data: RunData, trainer: Trainer, epoch: number, sums: EpochSums, epochStart: number): EpochRecord {
  const { train, validation, test, inputShape, stepsPerEpoch } = data;
  const testMetrics = test.size > 0 ? evaluate(trainer.model, test, inputShape) : { loss: NaN, accuracy: NaN };
  const valMetrics = validation !== null ? evaluate(trainer.model, validation, inputShape) : null;
  const perturbs = trainer.built.perturbs;
  return {
    epoch,
    trainLoss: sums.loss / stepsPerEpoch,
    trainAccuracy: sums.correct / train.size,
    testLoss: testMetrics.loss,
    testAccuracy: testMetrics.accuracy,
    ...(valMetrics !== null ? { validationLoss: valMetrics.loss, validationAccuracy: valMetrics.accuracy } : {}),
    perturbedLoss: perturbs ? sums.perturbedLoss / stepsPerEpoch : null,
    surrogateGap: perturbs ? sums.surrogateGap / stepsPerEpoch : null,
    seconds: (performance.now() - epochStart) / 1000,
  };
}

/** Adds an epoch to the record, writes a checkpoint when one is due and the record, then tells `onEpoch`. */
async function endEpoch(run: RunContext, trainer: Trainer, state: RunState, epochRecord: EpochRecord): Promise<void> {
  const { record } = state;
  record.epochs.push(epochRecord);
  const { trainLoss, trainAccuracy, testLoss, testAccuracy, validationLoss, validationAccuracy } = epochRecord;
  record.final = {
    trainLoss,
    trainAccuracy,
    testLoss,
    testAccuracy,
    ...(validationAccuracy !== undefined ? { validationLoss, validationAccuracy } : {}),
  };
  record.wallSeconds = state.wall();
  state.epoch = epochRecord.epoch;
  if (state.epoch % run.checkpointEvery === 0 || state.epoch === run.spec.epochs) {
    await saveCheckpointNow(run, trainer, state, orderRngState(trainer.orderRng));
    state.lastCheckpointEpoch = state.epoch;
  }
  writeRecord(run.opts.resultsDir, record);
  run.opts.onEpoch?.(epochRecord, run.id);
}

/** The order generator's state as a checkpoint keeps it. */
function orderRngState(rng: Rng): RngState {
  // sfc32 keeps `a` as a signed int32 after its xor; >>> 0 gives the same bits unsigned,
  // which is what Rng.setState accepts (and the stream continues identically).
  return rng.getState().map((v) => v >>> 0) as RngState;
}

/**
 * Writes a checkpoint of the run as it stands: after `state.epoch` epochs, or, with `partialEpoch`,
 * that far into the next one (`rngState` is then the order generator's state before that epoch drew
 * its order).
 */
async function saveCheckpointNow(
  run: RunContext,
  trainer: Trainer,
  state: RunState,
  rngState: RngState,
  partialEpoch?: PartialEpoch,
): Promise<void> {
  const data = await captureCheckpoint(trainer.model, trainer.built.optimizer, {
    epoch: state.epoch,
    globalStep: state.globalStep,
    rngState,
    record: state.record,
    ...(partialEpoch !== undefined ? { partialEpoch } : {}),
  });
  await run.checkpoints.save(run.id, data);
}

/** Stage "measure": the decision grid (moons) and the sharpness of the final model, into the record. */
function measureFinalModel(run: RunContext, data: RunData, trainer: Trainer, record: RunRecord): void {
  if (run.spec.dataset.name === 'moons') record.decisionGrid = decisionGrid(trainer.model, data.train, data.test);
  if ((run.spec.measureExamples ?? 0) > 0 && data.test.size > 0) {
    record.sharpness = measureFinalSharpness(trainer.model, run.spec, data.test, data.inputShape);
  }
}

/** Stage "finish": hashes and saves the final model (unless told not to) and writes the complete record. */
async function finishRun(run: RunContext, trainer: Trainer, state: RunState): Promise<RunRecord> {
  const { record } = state;
  record.weightsSha256 = weightsSha256(trainer.model);
  if (run.opts.saveModel ?? true) {
    await saveModel(trainer.model, join(run.dir, MODEL_DIR));
    record.modelDir = MODEL_DIR;
  }
  record.status = 'complete';
  record.finishedAt = new Date().toISOString();
  record.wallSeconds = state.wall();
  writeRecord(run.opts.resultsDir, record);
  return record;
}

/**
 * A function to await between steps: it yields to the event loop (one setImmediate turn) when
 * {@link YIELD_EVERY_MS} or more have passed since its last yield, and returns at once otherwise.
 */
function eventLoopPacer(): () => Promise<void> {
  let lastYield = performance.now();
  return async (): Promise<void> => {
    if (performance.now() - lastYield < YIELD_EVERY_MS) return;
    await yieldToEventLoop();
    lastYield = performance.now();
  };
}

/**
 * Sharpness of the final model on the first `measureExamples` test examples (src/sharpness). The
 * surrogate gap (and Lemma 3's 2h/rho²) is taken at {@link MEASURE_RHO} for every run, whatever rho
 * it trained with, so the columns of a comparison measure the same neighbourhood; the record's
 * `rho` says which radius that was.
 */
function measureFinalSharpness(model: tf.LayersModel, spec: RunSpec, test: Dataset, inputShape: number[]): SharpnessRecord {
  const n = Math.min(spec.measureExamples ?? 0, test.size);
  const idx = Int32Array.from({ length: n }, (_, i) => i);
  const { x: rawX, y } = toTensors(test, idx);
  const x = toModelInput(rawX, inputShape);
  try {
    return measureSharpness(modelObjective(model, x, y), {
      rho: MEASURE_RHO,
      seed: spec.seed,
      landscape: true,
      examples: n,
      ...spec.measureSpectrum,
    });
  } finally {
    tf.dispose([rawX, x, y]);
  }
}
