/**
 * Replays the PyTorch reference trajectories written by torch_reference.py through flatminima's
 * public API (same initial weights, data and hyper-parameters) and prints the largest deviation per
 * optimiser and step. A cross-check against the reference implementations, not a unit test: it needs
 * PyTorch, which the package's tests never do.
 *
 * Usage: /usr/bin/python3 bench/reference/torch_reference.py /tmp/ref.json 20
 *        node --import tsx bench/reference/compare.ts /tmp/ref.json
 */
import { readFileSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs';
import { ASAM, AdaptiveGSAM, GSAM, SAM, type SharpnessAwareOptimizer } from '../../src/index.js';

interface Reference {
  config: { lr: number; momentum: number; weightDecay: number; rho: number; alpha: number; eta: number; gamma: number; steps: number };
  torch: string;
  x: number[];
  y: number[];
  init: { shape: number[]; values: number[] }[];
  trajectories: Record<string, number[][]>;
}

const ref = JSON.parse(readFileSync(process.argv[2], 'utf8')) as Reference;
const c = ref.config;
const n = ref.y.length;
const x = tf.tensor2d(ref.x, [n, 2]);
const y = tf.oneHot(tf.tensor1d(ref.y, 'int32'), 2).toFloat();

const makers: Record<string, (base: tf.Optimizer) => SharpnessAwareOptimizer> = {
  sgd: (base) => new SAM({ base, rho: 0, weightDecay: c.weightDecay }), // rho 0: the base optimiser
  sam: (base) => new SAM({ base, rho: c.rho, weightDecay: c.weightDecay }),
  asam: (base) => new ASAM({ base, rho: c.rho, eta: c.eta, weightDecay: c.weightDecay }),
  gsam: (base) => new GSAM({ base, rho: c.rho, alpha: c.alpha, weightDecay: c.weightDecay }),
  // GSAM's official adaptive=True climb is ASAM's rule with eta 0 on every variable.
  gsam_adaptive: (base) =>
    new AdaptiveGSAM({ base, rho: c.rho, alpha: c.alpha, ascent: 'adaptive', eta: 0, scope: 'all', weightDecay: c.weightDecay }),
  agsam: (base) => new AdaptiveGSAM({ base, rho: c.rho, alpha: c.alpha, gamma: c.gamma, weightDecay: c.weightDecay }),
};

let worst = 0;
for (const [name, make] of Object.entries(makers)) {
  const model = tf.sequential();
  model.add(tf.layers.dense({ units: 32, activation: 'relu', inputShape: [2] }));
  model.add(tf.layers.dense({ units: 32, activation: 'relu' }));
  model.add(tf.layers.dense({ units: 32, activation: 'relu' }));
  model.add(tf.layers.dense({ units: 2 })); // logits, as torch's cross_entropy takes them
  model.setWeights(ref.init.map((p) => tf.tensor(p.values, p.shape)));
  const vars = model.trainableWeights.map((w) => w.read() as tf.Variable);
  const opt = make(tf.train.momentum(c.lr, c.momentum));
  const loss = (): tf.Scalar => tf.tidy(() => tf.losses.softmaxCrossEntropy(y, model.predict(x) as tf.Tensor) as tf.Scalar);
  let maxDev = 0;
  const perStep: string[] = [];
  ref.trajectories[name].forEach((expected, step) => {
    opt.minimize(loss, false, vars);
    const got = vars.flatMap((v) => Array.from(v.dataSync()));
    const dev = Math.max(...got.map((g, i) => Math.abs(g - expected[i])));
    maxDev = Math.max(maxDev, dev);
    if (step === 0 || (step + 1) % Math.max(1, Math.floor(ref.trajectories[name].length / 10)) === 0)
      perStep.push(`step ${step + 1}: ${dev.toExponential(2)}`);
  });
  worst = Math.max(worst, maxDev);
  console.log(
    `${name.padEnd(6)} max |w_tfjs - w_torch| over ${ref.trajectories[name].length} steps = ${maxDev.toExponential(2)}  (${perStep.join(', ')})`,
  );
  opt.dispose();
  model.dispose();
}
console.log(`PyTorch ${ref.torch}; worst deviation ${worst.toExponential(2)}`);
process.exitCode = worst < 1e-4 ? 0 : 1;
