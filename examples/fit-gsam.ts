/**
 * model.fit with GSAM and the metrics callback: the two-moons MLP, trained the Keras way. The
 * history holds the clean loss L(w) as `loss`, and the callback adds the perturbed loss L(w + e)
 * and the surrogate gap h = L(w + e) − L(w).
 *
 *   npx tsx examples/fit-gsam.ts [epochs]
 */
import * as tf from '@tensorflow/tfjs';
import { createMlp, GSAM, makeMoons, SharpnessMetricsCallback, toTensors, trainTestSplit } from 'flatminima';
import { initBackend } from 'flatminima/node';

const epochs = Number(process.argv[2] ?? 5);
if (!Number.isInteger(epochs) || epochs < 1) throw new RangeError(`fit-gsam: epochs must be a positive integer, got '${process.argv[2]}'`);

const backend = await initBackend(); // wasm with flatminima's training kernels, or tfjs-node when installed
console.log(`backend: ${backend.name}`);

const { train, test } = trainTestSplit(makeMoons({ n: 1000, noise: 0.2, seed: 0 }), { testFraction: 0.2, seed: 0 });
const trainSet = toTensors(train);
const testSet = toTensors(test);

const model = createMlp({ seed: 0 }); // the report's 2-32-32-32-2 ReLU network
const optimizer = new GSAM({ base: tf.train.momentum(0.05, 0.9), rho: 0.05, alpha: 0.1, weightDecay: 5e-4 });
model.compile({ optimizer, loss: 'categoricalCrossentropy', metrics: ['accuracy'] });

const history = await model.fit(trainSet.x, trainSet.y, {
  epochs,
  batchSize: 32,
  shuffle: true,
  validationData: [testSet.x, testSet.y],
  callbacks: [new SharpnessMetricsCallback(optimizer)],
  verbose: 0,
});

const h = history.history as Record<string, number[]>;
for (let e = 0; e < epochs; e++) {
  console.log(
    `epoch ${e + 1}: loss ${h.loss![e]!.toFixed(4)}, perturbed loss ${h.perturbedLoss![e]!.toFixed(4)}, ` +
      `surrogate gap ${h.surrogateGap![e]!.toFixed(4)}, test accuracy ${(100 * h.val_acc![e]!).toFixed(1)} %`,
  );
}

tf.dispose([trainSet.x, trainSet.y, testSet.x, testSet.y]);
model.dispose();
optimizer.dispose();
