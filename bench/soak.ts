/**
 * Memory soak: thousands of steps of every optimiser of the bench (each row of the method table at its
 * defaults, plus the target configurations and plain momentum SGD: ./methods.ts) on the report's MLP,
 * printing the change in live tensors, tensor bytes and wasm heap from after a warm-up step to the
 * end, and the tensors left after the optimiser is disposed. A flat line is the target (issue 6); the
 * tests check the same on a small budget.
 *
 * Usage: node dist/bench/soak.js [--steps 2000] [--backend wasm|native|cpu]
 */
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../src/backend/index.js';
import { createMlp } from '../src/models/index.js';
import { benchMethods, createOptimizer, disposeOptimizer, lossClosure, minimizeWith } from './methods.js';

const { values } = parseArgs({
  options: { steps: { type: 'string', default: '2000' }, backend: { type: 'string', default: 'wasm' } },
});
const steps = Number(values.steps);
if (!Number.isInteger(steps) || steps < 1) throw new Error(`--steps must be a positive integer, got ${values.steps}`);
if (values.backend !== 'wasm' && values.backend !== 'native' && values.backend !== 'cpu') {
  throw new Error(`--backend must be wasm, native or cpu, got ${values.backend}`);
}

const info = await initBackend({ backend: values.backend });
const heap = (): number => (tf.backend() as unknown as { wasm?: { HEAPU8: Uint8Array } }).wasm?.HEAPU8.length ?? 0;

console.log(`memory soak: ${steps} steps per optimiser, MLP 2-32-32-32-2, batch 64, backend ${info.name}`);
console.log('| optimiser | steps | Δ tensors | Δ tensor bytes | Δ wasm heap (bytes) | ms/step | tensors left after dispose |');
console.log('|---|---:|---:|---:|---:|---:|---:|');
for (const method of benchMethods()) {
  const start = tf.memory().numTensors;
  const model = createMlp({ seed: 0 });
  const x = tf.randomNormal([64, 2], 0, 1, 'float32', 1);
  const y = tf.tidy(() => tf.oneHot(tf.randomUniform([64], 0, 2, 'int32', 2), 2).toFloat());
  const opt = createOptimizer(method);
  // ESAM's data selection takes one loss per example; the others the batch's mean loss.
  const loss = lossClosure(opt, model, x, y, { batches: 0 });
  minimizeWith(opt, loss).dispose(); // warm-up: creates the base optimiser's slots
  const before = { tensors: tf.memory().numTensors, bytes: tf.memory().numBytes, heap: heap() };
  const t0 = performance.now();
  for (let s = 0; s < steps; s++) minimizeWith(opt, loss).dispose();
  const ms = (performance.now() - t0) / steps;
  const after = { tensors: tf.memory().numTensors, bytes: tf.memory().numBytes, heap: heap() };
  disposeOptimizer(opt);
  model.dispose();
  tf.dispose([x, y]);
  console.log(
    `| ${method.name} | ${steps} | ${after.tensors - before.tensors} | ${after.bytes - before.bytes} | ${after.heap - before.heap} | ${ms.toFixed(2)} | ${tf.memory().numTensors - start} |`,
  );
}
