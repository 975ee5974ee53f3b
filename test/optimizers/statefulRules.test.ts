/**
 * The extension points a new method plugs into: a climb policy that skips the second pass on some
 * steps, a descent rule with a one-pass direction and state carried across steps, saved and restored
 * through the optimiser's getWeights/setWeights; and SharpnessAwareOptimizer used directly with a
 * pair of rules. The two stateful rules below exist only here, as the smallest examples of the shape
 * (a seeded random climb as in RST, and a descent that reuses the last climb's correction, as
 * LookSAM reuses its stored direction); values are checked against float64 arithmetic written out
 * from their definitions.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import {
  GSAM,
  Rng,
  SharpnessAwareOptimizer,
  euclideanAscent,
  perturbedDescent,
  sharpnessAwareStep,
  disposeStepResult,
  surrogateGapDescent,
  type ClimbPolicy,
  type DescentRule,
  type NamedTensor,
  type RngState,
  type RuleState,
} from '../../src/index.js';
import { assertClose, flatValues, Quadratic } from './helpers.js';
import { crossEntropy, moonsBatch, reportMlp, trainableVars } from './mlp.js';

/** Climbs with probability p, drawing from a seeded generator whose state it saves (as int32 words). */
function randomClimb(p: number, seed: number): ClimbPolicy {
  const rng = new Rng(seed);
  const state: RuleState = {
    // A fresh tensor the caller owns; the uint32 words keep their bits as int32.
    save: () => [
      {
        name: 'rng',
        tensor: tf.tensor1d(
          rng.getState().map((w) => w | 0),
          'int32',
        ),
      },
    ],
    load: (saved) => {
      const entry = saved.find((w) => w.name === 'rng');
      if (entry !== undefined) rng.setState(Array.from(entry.tensor.dataSync(), (w) => w >>> 0) as RngState);
    },
    dispose: () => {},
  };
  return { name: 'random', climbs: () => rng.next() < p, state };
}

/**
 * On a climbing step d = g_p and it stores c = g_p - g; on a step without a climb d = g + c (d = g
 * before the first climb). c lives in non-trainable variables, as RuleState advises.
 */
function reuseCorrection(): DescentRule & { state: RuleState } {
  let c: tf.Variable[] | null = null;
  const store = (values: readonly tf.Tensor[]): void => {
    if (c === null) c = values.map((v) => tf.variable(v, false));
    else c.forEach((ci, i) => ci.assign(values[i]));
  };
  return {
    name: 'reuse-correction',
    direction({ grads, perturbedGrads }) {
      tf.tidy(() => store(perturbedGrads.map((gp, i) => tf.sub(gp, grads[i]))));
      return [...perturbedGrads];
    },
    directionWithoutClimb({ grads }) {
      const stored = c;
      return stored === null ? [...grads] : tf.tidy(() => grads.map((g, i) => tf.add(g, stored[i])));
    },
    state: {
      save: (): NamedTensor[] => (c ?? []).map((ci, i) => ({ name: `c${i}`, tensor: ci })),
      load: (saved) => {
        const values = [...saved].sort((a, b) => Number(a.name.slice(1)) - Number(b.name.slice(1))).map((w) => w.tensor);
        if (values.length > 0) store(values);
      },
      dispose: () => {
        tf.dispose(c ?? []);
        c = null;
      },
    },
  };
}

const norm = (x: number[]): number => Math.sqrt(x.reduce((s, v) => s + v * v, 0));

test("a one-pass step (climb: false) calls f once and hands the base the rule's direction, by default g", () => {
  const q = new Quadratic([[3]], [0.5, -1, 2], [1, 2, 3]);
  let calls = 0;
  const f = (): tf.Scalar => (calls++, q.loss());
  const before = tf.memory().numTensors;
  const r = sharpnessAwareStep(f, q.vars, {
    ascent: euclideanAscent(),
    descent: perturbedDescent(),
    rho: 0.1,
    climb: false,
    weightDecay: 0.5,
  });
  assert.equal(calls, 1);
  // g = a w = (0.5, -2, 6); d = g + wd w = (0.75, -2.5, 7).
  assertClose(flatValues(r.gradients), [0.75, -2.5, 7], 1e-6, 0, 'd');
  assert.equal(r.perturbedLoss.dataSync()[0], r.loss.dataSync()[0]);
  assert.equal(r.surrogateGap.dataSync()[0], 0);
  disposeStepResult(r);
  assert.equal(tf.memory().numTensors, before, 'no tensor left behind');
  q.dispose();
});

test('a climb policy and a stateful descent: six steps follow the float64 reference and f is called 9 times', () => {
  // L = 0.5 Σ a w², SGD lr 0.1; climbs on steps 0, 2, 4 (e = rho g/‖g‖), one pass on 1, 3, 5.
  const a = [1, 3, 0.5];
  const w0 = [1, -0.5, 2];
  const q = new Quadratic([[3]], w0, a);
  const everyOther: ClimbPolicy = { name: 'every-other', climbs: ({ step }) => step % 2 === 0 };
  const descent = reuseCorrection();
  const opt = new SharpnessAwareOptimizer({ base: tf.train.sgd(0.1), rho: 0.2, ascent: euclideanAscent(), descent, climb: everyOther });
  let calls = 0;
  const f = (): tf.Scalar => (calls++, q.loss());
  for (let s = 0; s < 6; s++) opt.minimize(f, false, q.vars);
  assert.equal(calls, 9);

  let w = [...w0];
  let c = [0, 0, 0];
  for (let s = 0; s < 6; s++) {
    const g = w.map((wi, i) => a[i] * wi);
    let d: number[];
    if (s % 2 === 0) {
      const e = g.map((gi) => (0.2 * gi) / (norm(g) + 1e-12));
      d = w.map((wi, i) => a[i] * (wi + e[i]));
      c = d.map((di, i) => di - g[i]);
    } else {
      d = g.map((gi, i) => gi + c[i]);
    }
    w = w.map((wi, i) => wi - 0.1 * d[i]);
  }
  assertClose(q.weights(), w, 1e-6, 1e-5, 'w after 6 steps');
  opt.dispose();
  q.dispose();
});

test('rule state saved mid-cycle through getWeights/setWeights continues exactly as a run that never stopped', async () => {
  const make = (): SharpnessAwareOptimizer =>
    new SharpnessAwareOptimizer({
      base: tf.train.momentum(0.05, 0.9),
      rho: 0.05,
      ascent: euclideanAscent(),
      descent: reuseCorrection(),
      climb: randomClimb(0.5, 7),
    });
  const { x, y } = moonsBatch(64, 0.2, 4);
  const start = tf.memory().numTensors;
  const countCalls = (f: () => tf.Scalar, counter: { n: number }) => (): tf.Scalar => (counter.n++, f());

  const m1 = reportMlp(3);
  const o1 = make();
  const v1 = trainableVars(m1);
  const calls1 = { n: 0 };
  for (let s = 0; s < 12; s++) o1.minimize(countCalls(crossEntropy(m1, x, y), calls1), false, v1);
  assert.ok(calls1.n > 12 && calls1.n < 24, `the policy both climbed and skipped (${calls1.n} passes in 12 steps)`);

  const m2 = reportMlp(3);
  const o2 = make();
  const v2 = trainableVars(m2);
  for (let s = 0; s < 5; s++) o2.minimize(crossEntropy(m2, x, y), false, v2);
  const saved = await o2.getWeights();
  assert.ok(
    saved.some((w) => w.name === 'climb/rng') && saved.some((w) => w.name.startsWith('descent/c')),
    "the rules' states are in getWeights",
  );
  // Copy as a file would, then free the fresh tensors (the runner's checkpoint writer does the same).
  const copies = saved.map((w) => ({ name: w.name, tensor: tf.tensor(w.tensor.dataSync(), w.tensor.shape, w.tensor.dtype) }));
  tf.dispose(saved.map((w) => w.tensor).filter((t) => !(t instanceof tf.Variable)));
  const weights = m2.getWeights().map((t) => t.clone());
  o2.dispose();
  m2.dispose();

  const m3 = reportMlp(50);
  m3.setWeights(weights);
  tf.dispose(weights);
  const o3 = make();
  await o3.setWeights(copies);
  tf.dispose(copies.map((w) => w.tensor));
  const v3 = trainableVars(m3);
  for (let s = 5; s < 12; s++) o3.minimize(crossEntropy(m3, x, y), false, v3);
  assert.deepEqual(flatValues(v3), flatValues(v1), 'same weights as never stopping');

  o1.dispose();
  o3.dispose();
  m1.dispose();
  m3.dispose();
  assert.equal(tf.memory().numTensors, start, "dispose frees the rules' states too");
  tf.dispose([x, y]);
});

test('setWeights refuses state for a rule that has none', async () => {
  const opt = new SharpnessAwareOptimizer({ base: tf.train.sgd(0.1), rho: 0.1, ascent: euclideanAscent(), descent: perturbedDescent() });
  const t = tf.scalar(1);
  await assert.rejects(
    opt.setWeights([
      { name: 'iter', tensor: t },
      { name: 'descent/c0', tensor: t },
    ]),
    (err: unknown) => {
      assert.ok(err instanceof TypeError);
      assert.match(err.message, /unexpected weight 'descent\/c0' \(expected base\/\.\.\.\)/);
      return true;
    },
  );
  t.dispose();
  opt.dispose();
});

test('no tensor leaks over hundreds of steps with a stateful rule, through minimize and model.fit', async () => {
  const { x, y } = moonsBatch(64, 0.2, 8);
  const model = reportMlp(2);
  const descent = reuseCorrection();
  const optimizer = new SharpnessAwareOptimizer({
    base: tf.train.momentum(0.05, 0.9),
    rho: 0.05,
    ascent: euclideanAscent(),
    descent,
    climb: randomClimb(0.3, 1),
  });
  const vars = trainableVars(model);
  const f = crossEntropy(model, x, y);
  // Until the base's slots and the stored correction exist (the first climb makes the latter).
  while (descent.state.save().length === 0) optimizer.minimize(f, false, vars);
  const before = tf.memory().numTensors;
  for (let s = 0; s < 200; s++) optimizer.minimize(f, true, vars)?.dispose();
  assert.equal(tf.memory().numTensors, before, 'minimize leaks');
  model.compile({ optimizer, loss: 'categoricalCrossentropy' });
  await model.fit(x, y, { epochs: 1, batchSize: 16, verbose: 0 });
  const beforeFit = tf.memory().numTensors;
  await model.fit(x, y, { epochs: 10, batchSize: 16, verbose: 0 });
  assert.equal(tf.memory().numTensors, beforeFit, 'model.fit leaks');
  optimizer.dispose();
  model.dispose();
  tf.dispose([x, y]);
});

test('SharpnessAwareOptimizer used directly with the GSAM pair is GSAM, bit for bit, and says it cannot be serialised', () => {
  const run = (make: (base: tf.Optimizer) => tf.Optimizer): number[] => {
    const model = reportMlp(9);
    const { x, y } = moonsBatch(64, 0.2, 5);
    const opt = make(tf.train.momentum(0.05, 0.9));
    const vars = trainableVars(model);
    for (let s = 0; s < 10; s++) opt.minimize(crossEntropy(model, x, y), false, vars);
    const w = flatValues(vars);
    opt.dispose();
    model.dispose();
    tf.dispose([x, y]);
    return w;
  };
  const direct = run(
    (base) =>
      new SharpnessAwareOptimizer({
        base,
        rho: 0.05,
        weightDecay: 1e-3,
        ascent: euclideanAscent(),
        descent: surrogateGapDescent({ alpha: 0.3 }),
      }),
  );
  const preset = run((base) => new GSAM({ base, rho: 0.05, weightDecay: 1e-3, alpha: 0.3 }));
  assert.deepEqual(direct, preset);
  const opt = new SharpnessAwareOptimizer({ base: tf.train.sgd(0.1), rho: 0.05, ascent: euclideanAscent(), descent: perturbedDescent() });
  assert.equal(opt.getClassName(), 'SharpnessAwareOptimizer');
  assert.throws(() => opt.getConfig(), /built directly from rules cannot be serialised/);
  opt.dispose();
});

test('bad rules and step settings are rejected with the kind of error and the argument named', () => {
  const base = tf.train.sgd(0.1);
  const q = new Quadratic([[1]], [1], [1]);
  const cases: [() => unknown, typeof TypeError | typeof RangeError, RegExp][] = [
    [
      () => new SharpnessAwareOptimizer({ base, rho: 0.1, ascent: {} as never, descent: perturbedDescent() }),
      TypeError,
      /SharpnessAwareOptimizer: ascent must be an object with a perturbation\(\) method/,
    ],
    [
      () => new SharpnessAwareOptimizer({ base, rho: 0.1, ascent: euclideanAscent(), descent: null as never }),
      TypeError,
      /descent must be an object with a direction\(\) method, got null/,
    ],
    [
      () =>
        new SharpnessAwareOptimizer({
          base,
          rho: 0.1,
          ascent: euclideanAscent(),
          descent: perturbedDescent(),
          climb: { name: 'x' } as never,
        }),
      TypeError,
      /climb must be an object with a climbs\(\) method/,
    ],
    [
      () => new SharpnessAwareOptimizer({ base, rho: -1, ascent: euclideanAscent(), descent: perturbedDescent() }),
      RangeError,
      /SharpnessAwareOptimizer: rho must be a finite number >= 0, got -1/,
    ],
    [
      () => sharpnessAwareStep(q.loss, q.vars, { ascent: euclideanAscent(), descent: perturbedDescent(), rho: -0.5 }),
      RangeError,
      /sharpnessAwareStep: rho must be a finite number >= 0, got -0.5/,
    ],
    [
      () => sharpnessAwareStep(q.loss, q.vars, { ascent: euclideanAscent(), descent: perturbedDescent(), rho: '0.1' as never }),
      TypeError,
      /sharpnessAwareStep: rho must be a finite number >= 0, got '0.1'/,
    ],
    [
      () => sharpnessAwareStep(q.loss, q.vars, { ascent: euclideanAscent(), descent: perturbedDescent(), rho: 0.1, climb: 1 as never }),
      TypeError,
      /sharpnessAwareStep: climb must be a boolean, got 1/,
    ],
    [
      () => sharpnessAwareStep(q.loss, q.vars, { ascent: undefined as never, descent: perturbedDescent(), rho: 0.1 }),
      TypeError,
      /config.ascent must be an ascent rule/,
    ],
  ];
  const before = tf.memory().numTensors;
  for (const [make, kind, message] of cases) {
    assert.throws(make, (err: unknown) => {
      assert.ok(err instanceof kind, `${message}: ${String(err)} is a ${kind.name}`);
      assert.match((err as Error).message, message);
      return true;
    });
  }
  assert.equal(tf.memory().numTensors, before);
  q.dispose();
  base.dispose();
});

test('needsCleanGradient: false frees g before the pass at w + e (one gradient set less memory there)', () => {
  const model = reportMlp(4);
  const { x, y } = moonsBatch(32, 0.2, 2);
  const vars = trainableVars(model);
  const params = vars.reduce((s, v) => s + v.size, 0);
  const bytesAtPass2 = (descent: DescentRule): number => {
    let calls = 0;
    let bytes = Number.NaN;
    const ce = crossEntropy(model, x, y);
    const f = (): tf.Scalar => {
      if (++calls === 2) bytes = tf.memory().numBytes;
      return ce();
    };
    disposeStepResult(sharpnessAwareStep(f, vars, { ascent: euclideanAscent(), descent, rho: 0.05 }));
    return bytes;
  };
  const keeps = bytesAtPass2({ name: 'keeps', direction: ({ perturbedGrads }) => [...perturbedGrads] });
  const frees = bytesAtPass2(perturbedDescent());
  assert.equal(perturbedDescent().needsCleanGradient, false);
  assert.equal(keeps - frees, 4 * params, 'g (float32, one value per parameter) is what the hint frees');
  model.dispose();
  tf.dispose([x, y]);
});
