/**
 * Exact resume for a library user: save the model and the optimiser with getWeights, write them out
 * as plain numbers (as a file would hold them), rebuild both from scratch, setWeights, continue. The
 * weights must equal an uninterrupted run's bit for bit, over tfjs Adam too, whose own setWeights
 * recomputes its running beta powers with pow() and so drifts in the last bit.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { AdaptiveGSAM, SAM, type NamedTensor, type SharpnessAwareOptimizer } from '../../src/index.js';
import { flatValues } from './helpers.js';
import { crossEntropy, moonsBatch, reportMlp, trainableVars } from './mlp.js';

/** A named tensor as a file holds it: name, dtype, shape and the values as plain numbers. */
interface Stored {
  name: string;
  dtype: tf.DataType;
  shape: number[];
  values: number[];
}

async function store(weights: NamedTensor[]): Promise<Stored[]> {
  return Promise.all(
    weights.map(async (w) => ({ name: w.name, dtype: w.tensor.dtype, shape: w.tensor.shape, values: Array.from(await w.tensor.data()) })),
  );
}

function load(stored: Stored[]): NamedTensor[] {
  return stored.map((s) => ({ name: s.name, tensor: tf.tensor(s.values, s.shape, s.dtype) }));
}

// 13 Adam steps: tfjs's pow(0.9, 14) and the running float32 product 0.9^14 differ in the last bit
// (checked below), so a resume that trusted tfjs's setWeights would drift.
const N = 13;
const M = 7;

async function checkResume(name: string, make: () => SharpnessAwareOptimizer): Promise<void> {
  const { x, y } = moonsBatch(64, 0.2, 11);
  const start = tf.memory().numTensors;

  const m1 = reportMlp(21);
  const o1 = make();
  const v1 = trainableVars(m1);
  for (let s = 0; s < N + M; s++) o1.minimize(crossEntropy(m1, x, y), false, v1);

  const m2 = reportMlp(21);
  const o2 = make();
  const v2 = trainableVars(m2);
  for (let s = 0; s < N; s++) o2.minimize(crossEntropy(m2, x, y), false, v2);
  const modelFile = await store(m2.weights.map((w, i) => ({ name: w.name, tensor: m2.getWeights()[i] })));
  const fresh = await o2.getWeights();
  const optimizerFile = await store(fresh);
  tf.dispose(fresh.map((w) => w.tensor).filter((t) => !(t instanceof tf.Variable)));

  // The case is sensitive: tfjs Adam restored by its own setWeights has other beta powers than the run.
  const plainAdam = tf.train.adam(0.01);
  const baseWeights = load(optimizerFile.filter((w) => w.name === 'iter' || w.name.startsWith('base/'))).map((w) => ({
    name: w.name.replace(/^base\//, ''),
    tensor: w.tensor,
  }));
  await plainAdam.setWeights(baseWeights);
  const powers = (o: tf.Optimizer): number[] => {
    const adam = o as unknown as { accBeta1: tf.Variable; accBeta2: tf.Variable };
    return [adam.accBeta1.dataSync()[0], adam.accBeta2.dataSync()[0]];
  };
  const truth = powers(o2.base);
  const tfjsRestored = powers(plainAdam);
  assert.notDeepEqual(tfjsRestored, truth, `${name}: tfjs's own restore gives other beta powers than the run`);
  tf.dispose(baseWeights.map((w) => w.tensor));
  plainAdam.dispose();
  o2.dispose();
  m2.dispose();

  // A new process would start here: fresh model and optimiser, state from the "files".
  const m3 = reportMlp(999);
  const modelTensors = load(modelFile).map((w) => w.tensor);
  m3.setWeights(modelTensors);
  tf.dispose(modelTensors);
  const o3 = make();
  const restored = load(optimizerFile);
  await o3.setWeights(restored);
  tf.dispose(restored.map((w) => w.tensor));
  assert.deepEqual(powers(o3.base), truth, `${name}: beta powers restored as the run computed them`);
  const v3 = trainableVars(m3);
  for (let s = 0; s < M; s++) o3.minimize(crossEntropy(m3, x, y), false, v3);

  assert.deepEqual(flatValues(v3), flatValues(v1), `${name}: weights after ${N} + ${M} steps equal ${N + M} uninterrupted steps`);
  o1.dispose();
  o3.dispose();
  m1.dispose();
  m3.dispose();
  assert.equal(tf.memory().numTensors, start, `${name}: no tensor left behind`);
  tf.dispose([x, y]);
}

test('AdaptiveGSAM over tf.train.adam resumes bit-exactly through getWeights / setWeights alone', async () => {
  await checkResume('AdaptiveGSAM+adam', () => new AdaptiveGSAM({ base: tf.train.adam(0.01), rho: 0.5, alpha: 0.1, weightDecay: 1e-3 }));
});

test('SAM over tf.train.adam resumes bit-exactly through getWeights / setWeights alone', async () => {
  await checkResume('SAM+adam', () => new SAM({ base: tf.train.adam(0.01), rho: 0.05 }));
});
