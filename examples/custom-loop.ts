/**
 * A custom training loop around `sharpnessAwareStep`: the whole two-pass step as one pure function.
 * It returns the clean loss, the perturbed loss, the surrogate gap and the direction to apply, and
 * leaves the variables as it found them; any tfjs optimiser then applies the direction. Here the
 * rules are combined by hand into Adaptive-GSAM (the report's elementwise climb, GSAM's descent).
 *
 *   npx tsx examples/custom-loop.ts [steps]
 */
import * as tf from '@tensorflow/tfjs';
import {
  createMlp,
  disposeStepResult,
  elementwiseAscent,
  makeMoons,
  Rng,
  sharpnessAwareStep,
  surrogateGapDescent,
  toTensors,
} from 'flatminima';

const steps = Number(process.argv[2] ?? 300);
if (!Number.isInteger(steps) || steps < 1) throw new RangeError(`custom-loop: steps must be a positive integer, got '${process.argv[2]}'`);

await tf.setBackend('cpu'); // the browser-safe root entry alone: no backend loader needed
const data = makeMoons({ n: 512, noise: 0.2, seed: 1 });
const model = createMlp({ seed: 1, hidden: [16, 16] });
const vars = model.trainableWeights.map((w) => w.read() as tf.Variable);
const base = tf.train.momentum(0.05, 0.9);
const config = { ascent: elementwiseAscent({ gamma: 0.01 }), descent: surrogateGapDescent({ alpha: 0.1 }), rho: 0.5, weightDecay: 5e-4 };

const rng = new Rng(1);
const batchSize = 32;
const tensorsAtStart = tf.memory().numTensors;
for (let step = 0; step < steps; step++) {
  const { x, y } = toTensors(
    data,
    Array.from({ length: batchSize }, () => rng.int(data.size)),
  );
  const loss = (): tf.Scalar => tf.mean(tf.metrics.categoricalCrossentropy(y, model.apply(x) as tf.Tensor));
  const result = sharpnessAwareStep(loss, vars, config);
  base.applyGradients(result.vars.map((v, i) => ({ name: v.name, tensor: result.gradients[i]! })));
  if (step % 50 === 0 || step === steps - 1) {
    const [l, lp, h] = [result.loss, result.perturbedLoss, result.surrogateGap].map((t) => t.dataSync()[0]!);
    console.log(`step ${step}: loss ${l!.toFixed(4)}, perturbed loss ${lp!.toFixed(4)}, surrogate gap ${h!.toFixed(4)}`);
  }
  disposeStepResult(result);
  tf.dispose([x, y]);
}
// The momentum slots appear at the first step; nothing else may stay behind.
console.log(`tensors left besides the optimiser's slots: ${tf.memory().numTensors - tensorsAtStart - vars.length}`);
base.dispose();
model.dispose();
