/**
 * Measures the sharpness of a saved model: loads a tfjs layers model (model.json + weights.bin, as
 * `flatminima train` writes under results/<runId>/model) and reports the Hessian's top eigenvalue
 * and trace, the surrogate gap with Lemma 3's estimate, and a 1-D loss slice, on two-moons test
 * points. None of them changes the weights. Without a directory, it first trains and saves a small
 * model into a temporary one, so the example runs on its own.
 *
 *   npx tsx examples/measure-saved-model.ts [modelDir]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import {
  createMlp,
  hessianTopEigenvalue,
  hessianTrace,
  lossLandscape1D,
  makeMoons,
  modelObjective,
  SAM,
  surrogateGap,
  toTensors,
} from 'flatminima';
import { initBackend, loadModel, saveModel } from 'flatminima/node';

await initBackend();
let dir = process.argv[2];
let scratch: string | null = null;
if (dir === undefined) {
  scratch = mkdtempSync(join(tmpdir(), 'flatminima-example-'));
  dir = join(scratch, 'model');
  const { x, y } = toTensors(makeMoons({ n: 600, noise: 0.2, seed: 2 }));
  const model = createMlp({ seed: 2, hidden: [16, 16] });
  model.compile({ optimizer: new SAM({ base: tf.train.momentum(0.05, 0.9), rho: 0.05 }), loss: 'categoricalCrossentropy' });
  await model.fit(x, y, { epochs: 5, batchSize: 32, verbose: 0 });
  await saveModel(model, dir);
  console.log(`trained a small model and saved it to ${dir}`);
  tf.dispose([x, y]);
  model.dispose();
}

const model = await loadModel(dir);
const { x, y } = toTensors(makeMoons({ n: 500, noise: 0.2, seed: 99 })); // fresh points to measure on
const objective = modelObjective(model, x, y, { chunkSize: 250 });

const top = hessianTopEigenvalue(objective, { tol: 1e-4, maxIterations: 100, seed: 0 });
console.log(`sigma_max ${top.value.toFixed(4)} (${top.iterations} Hessian-vector products, ${top.method}, converged: ${top.converged})`);
const trace = hessianTrace(objective, { samples: 20, seed: 1 });
console.log(`trace ${trace.value.toFixed(4)} ± ${trace.stdError.toFixed(4)} (Hutchinson, 20 probes)`);
const gap = surrogateGap(objective, { rho: 0.05 });
console.log(`surrogate gap at rho 0.05: h = ${gap.gap.toExponential(3)}, Lemma 3's 2h/rho^2 = ${gap.lemma3SigmaMax.toFixed(4)}`);
const slice = lossLandscape1D(objective, { points: 9, range: 1, seed: 0 });
console.log(`loss along a filter-normalised direction: ${slice.losses.map((l) => l.toFixed(3)).join(' ')}`);

tf.dispose([x, y]);
model.dispose();
if (scratch !== null) rmSync(scratch, { recursive: true, force: true });
