/**
 * The training behind the page: the data of one view as tensors, and one trainer per optimiser
 * (two in race mode) stepped in lock-step on the same mini-batches from the same initial weights.
 * Everything is a function of the settings and the step count alone, never of time, so a link
 * reproduces a run step for step. DOM-free: Node tests and the page run the same code.
 */
import * as tf from '@tensorflow/tfjs';
import {
  createMlp,
  disposeMethodOptimizer,
  exampleLosses,
  hessianTopEigenvalue,
  lossLandscape1D,
  modelObjective,
  Rng,
  SharpnessAwareOptimizer,
  subset,
  toTensors,
  trainTestSplit,
  type Dataset,
  type Objective,
} from 'flatminima';
import { datasetById } from './datasets.js';
import { BASE_OPTIMIZERS, methodById, type MethodEntry } from './methods.js';
import type { Settings, SideSettings } from './settings.js';

/** Cells per side of the decision-boundary grid. */
export const GRID_SIZE = 64;
/** Training examples sigma_max is measured on (the first ones of the shuffled training set). */
export const SIGMA_EXAMPLES = 256;
/** Power-iteration cap and tolerance for the live sigma_max (a view, not a final measurement). */
const SIGMA_ITERATIONS = 30;
const SIGMA_TOL = 1e-3;
/** Grid of the 1-D loss slice. */
const SLICE_POINTS = 31;
const SLICE_RANGE = 1;
/** Records kept before the history is thinned (every other point dropped, the interval doubled). */
export const MAX_RECORDS = 500;
/** Lower clip of the probability inside the log, as Keras does. */
const PROB_FLOOR = 1e-7;

/** The metrics of one trainer at one step. Losses are clean full-set losses at w. */
export interface RecordPoint {
  step: number;
  trainLoss: number;
  trainAccuracy: number;
  testLoss: number;
  testAccuracy: number;
  /**
   * The optimiser's own mini-batch L(w + e) and h = L(w + e) − L(w), averaged over the steps since
   * the previous record; null for SGD (no perturbed pass) and at step 0.
   */
  perturbedLoss: number | null;
  surrogateGap: number | null;
}

/** The slow measurements, taken every `every` steps. */
export interface Measurement {
  step: number;
  /** Top Hessian eigenvalue on SIGMA_EXAMPLES training examples. */
  sigmaMax: number;
  sigmaConverged: boolean;
  /** L(w + a·u) along one filter-normalised direction u (seeded), on the whole training set. */
  slice: { alphas: number[]; losses: number[] };
}

/** The data of one view: the split and its tensors, and the grid the boundary is drawn on. */
export class ViewData {
  readonly train: Dataset;
  readonly test: Dataset;
  readonly numClasses: number;
  /** The drawing area: [xMin, xMax, yMin, yMax], square, around every point. */
  readonly bounds: [number, number, number, number];
  readonly xTrain: tf.Tensor2D;
  readonly yTrain: tf.Tensor2D;
  readonly xTest: tf.Tensor2D;
  readonly yTest: tf.Tensor2D;
  readonly xSigma: tf.Tensor2D;
  readonly ySigma: tf.Tensor2D;
  /** Grid cell centres, row by row from the top (y = yMax) down. */
  readonly xGrid: tf.Tensor2D;
  /** Seeds of the model's weights and of the batch order. */
  readonly modelSeed: number;
  readonly orderSeed: number;
  readonly sliceSeed: number;
  /** Seed of the optimisers' own draws (ESAM's weight masks); both sides of a race share it. */
  readonly optimizerSeed: number;

  constructor(s: Settings) {
    const rng = new Rng(s.seed);
    const dataSeed = rng.seed();
    const splitSeed = rng.seed();
    this.modelSeed = rng.seed();
    this.orderSeed = rng.seed();
    this.sliceSeed = rng.seed();
    // Drawn last, so the seeds above are those of every earlier link.
    this.optimizerSeed = rng.seed();
    const all = datasetById(s.data).generate(s.n, s.noise, dataSeed);
    const { train, test } = trainTestSplit(all, { testFraction: s.test, seed: splitSeed });
    this.train = train;
    this.test = test;
    this.numClasses = all.numClasses;
    this.bounds = squareBounds(all.x);
    const tr = toTensors(train);
    const te = toTensors(test);
    const sg = toTensors(
      subset(
        train,
        Array.from({ length: Math.min(SIGMA_EXAMPLES, train.size) }, (_, i) => i),
      ),
    );
    this.xTrain = tr.x as tf.Tensor2D;
    this.yTrain = tr.y;
    this.xTest = te.x as tf.Tensor2D;
    this.yTest = te.y;
    this.xSigma = sg.x as tf.Tensor2D;
    this.ySigma = sg.y;
    this.xGrid = gridPoints(this.bounds);
  }

  dispose(): void {
    tf.dispose([this.xTrain, this.yTrain, this.xTest, this.yTest, this.xSigma, this.ySigma, this.xGrid]);
  }
}

/** A square around all points with a 10 % margin, so circles look round. */
function squareBounds(x: Float32Array): [number, number, number, number] {
  let x0 = Infinity,
    x1 = -Infinity,
    y0 = Infinity,
    y1 = -Infinity;
  for (let i = 0; i < x.length; i += 2) {
    x0 = Math.min(x0, x[i]!);
    x1 = Math.max(x1, x[i]!);
    y0 = Math.min(y0, x[i + 1]!);
    y1 = Math.max(y1, x[i + 1]!);
  }
  const half = (Math.max(x1 - x0, y1 - y0) / 2) * 1.1 || 1;
  const cx = (x0 + x1) / 2;
  const cy = (y0 + y1) / 2;
  return [cx - half, cx + half, cy - half, cy + half];
}

function gridPoints([x0, x1, y0, y1]: [number, number, number, number]): tf.Tensor2D {
  const g = new Float32Array(GRID_SIZE * GRID_SIZE * 2);
  for (let r = 0; r < GRID_SIZE; r++) {
    for (let c = 0; c < GRID_SIZE; c++) {
      const k = 2 * (r * GRID_SIZE + c);
      g[k] = x0 + ((c + 0.5) / GRID_SIZE) * (x1 - x0);
      g[k + 1] = y1 - ((r + 0.5) / GRID_SIZE) * (y1 - y0);
    }
  }
  return tf.tensor2d(g, [GRID_SIZE * GRID_SIZE, 2]);
}

/** Categorical cross-entropy of each row of softmax outputs `p` against one-hot `y`. */
function exampleCrossEntropy(p: tf.Tensor, y: tf.Tensor): tf.Tensor1D {
  return tf.tidy(() => tf.neg(tf.sum(tf.mul(y, tf.log(tf.clipByValue(p, PROB_FLOOR, 1))), -1)) as tf.Tensor1D);
}

/** Mean categorical cross-entropy of softmax outputs `p` against one-hot `y`. */
function crossEntropy(p: tf.Tensor, y: tf.Tensor): tf.Scalar {
  return tf.tidy(() => tf.mean(exampleCrossEntropy(p, y)) as tf.Scalar);
}

/** One model and its optimiser. */
export class Trainer {
  readonly method: MethodEntry;
  readonly model: tf.Sequential;
  readonly optimizer: tf.Optimizer;
  /** Whether a step needs one loss per example (ESAM with gamma < 1): see {@link step}. */
  readonly needsExampleLosses: boolean;
  private readonly vars: tf.Variable[];
  private readonly sliceObjective: Objective;
  private readonly sigmaObjective: Objective;
  /** Sums of the steps' L(w + e) and h since the last record, and how many steps they hold. */
  private sumPerturbed = 0;
  private sumGap = 0;
  private steps = 0;

  constructor(
    private readonly data: ViewData,
    settings: Settings,
    side: SideSettings,
    /** Weights to start from (race mode: the other trainer's), else the seeded initial weights. */
    start?: tf.Tensor[],
  ) {
    this.method = methodById(side.opt);
    this.model = createMlp({
      seed: data.modelSeed,
      hidden: new Array<number>(settings.depth).fill(settings.width),
      numClasses: data.numClasses,
    });
    if (start !== undefined) this.model.setWeights(start);
    this.optimizer = this.method.build(BASE_OPTIMIZERS[side.base]!.build(side.lr), side, data.optimizerSeed);
    // SharpnessAwareOptimizer's instanceof follows the prototype chain (tf.Optimizer's is duck-typed).
    this.needsExampleLosses = this.optimizer instanceof SharpnessAwareOptimizer && this.optimizer.needsExampleLosses;
    this.vars = this.model.trainableWeights.map((w) => w.read() as tf.Variable);
    this.sliceObjective = modelObjective(this.model, data.xTrain, data.yTrain);
    this.sigmaObjective = modelObjective(this.model, data.xSigma, data.ySigma);
  }

  /**
   * One optimiser step on the mini-batch (x, y): with the batch's mean loss, or, where the method
   * needs them (ESAM descending on the examples whose loss rises most), one loss per example.
   */
  step(x: tf.Tensor, y: tf.Tensor): void {
    if (this.needsExampleLosses) {
      const losses = exampleLosses(x.shape[0]!, (indices) => {
        // The step runs each pass in its own tidy, which frees the gathered rows after the gradient.
        const xs = indices === null ? x : tf.gather(x, indices);
        const ys = indices === null ? y : tf.gather(y, indices);
        return exampleCrossEntropy(this.model.apply(xs, { training: true }) as tf.Tensor, ys);
      });
      (this.optimizer as SharpnessAwareOptimizer).minimize(losses, false, this.vars);
    } else {
      this.optimizer.minimize(() => crossEntropy(this.model.apply(x, { training: true }) as tf.Tensor, y), false, this.vars);
    }
    // From the table: MomentumSAM's one pass computes L(w + e) only, so it has no gap h to show.
    if (this.method.perturbs) {
      const sa = this.optimizer as SharpnessAwareOptimizer;
      this.sumPerturbed += sa.lastPerturbedLoss!;
      this.sumGap += sa.lastSurrogateGap!;
      this.steps += 1;
    }
  }

  /** Clean loss and accuracy on the training and test sets, and the last step's L_p and h. */
  record(step: number): RecordPoint {
    const values = tf.tidy(() => {
      const parts = [
        [this.data.xTrain, this.data.yTrain],
        [this.data.xTest, this.data.yTest],
      ].flatMap(([x, y]) => {
        const p = this.model.apply(x!, { training: false }) as tf.Tensor;
        const acc = tf.mean(tf.cast(tf.equal(tf.argMax(p, -1), tf.argMax(y!, -1)), 'float32'));
        return [crossEntropy(p, y!), acc];
      });
      return tf.stack(parts);
    });
    const [trainLoss, trainAccuracy, testLoss, testAccuracy] = values.dataSync();
    values.dispose();
    const point: RecordPoint = {
      step,
      trainLoss: trainLoss!,
      trainAccuracy: trainAccuracy!,
      testLoss: testLoss!,
      testAccuracy: testAccuracy!,
      perturbedLoss: this.steps > 0 ? this.sumPerturbed / this.steps : null,
      surrogateGap: this.steps > 0 ? this.sumGap / this.steps : null,
    };
    this.sumPerturbed = 0;
    this.sumGap = 0;
    this.steps = 0;
    return point;
  }

  /** sigma_max and the 1-D loss slice at the current weights (both leave the weights as they were). */
  measure(step: number): Measurement {
    const sigma = hessianTopEigenvalue(this.sigmaObjective, { maxIterations: SIGMA_ITERATIONS, tol: SIGMA_TOL, seed: this.data.sliceSeed });
    const slice = lossLandscape1D(this.sliceObjective, { points: SLICE_POINTS, range: SLICE_RANGE, seed: this.data.sliceSeed });
    return { step, sigmaMax: sigma.value, sigmaConverged: sigma.converged, slice };
  }

  /** Class probabilities on the boundary grid, GRID_SIZE² rows of numClasses values. */
  boundary(): Float32Array {
    const p = tf.tidy(() => this.model.apply(this.data.xGrid, { training: false }) as tf.Tensor);
    const values = p.dataSync() as Float32Array;
    p.dispose();
    return values;
  }

  /** The current weights (copies; the caller disposes them). */
  weights(): tf.Tensor[] {
    return this.model.getWeights().map((w) => w.clone());
  }

  dispose(): void {
    disposeMethodOptimizer(this.optimizer);
    this.model.dispose();
  }
}

/** Which steps are recorded: step 0, then every `interval`, doubling when the history is full. */
export class RecordSchedule {
  interval = 5;

  /** Whether step `step` is recorded. */
  due(step: number): boolean {
    return step % this.interval === 0;
  }

  /** When any of `histories` is full: doubles the interval and keeps, in place, the points on it. */
  thin<T extends { step: number }>(histories: T[][]): void {
    if (histories.every((h) => h.length < MAX_RECORDS)) return;
    this.interval *= 2;
    for (const h of histories) {
      const kept = h.filter((r) => r.step % this.interval === 0);
      h.length = 0;
      h.push(...kept);
    }
  }
}

/** One or two trainers in lock-step over the same data, with their histories. */
export class Session {
  readonly data: ViewData;
  readonly trainers: Trainer[];
  readonly history: RecordPoint[][];
  readonly measurements: Measurement[][];
  private readonly schedule = new RecordSchedule();
  private readonly orderRng: Rng;
  private order: Int32Array;
  private cursor = 0;
  private stepCount = 0;

  constructor(readonly settings: Settings) {
    this.data = new ViewData(settings);
    const first = new Trainer(this.data, settings, settings.a);
    this.trainers = [first];
    if (settings.race) {
      const start = first.weights();
      this.trainers.push(new Trainer(this.data, settings, settings.b, start));
      tf.dispose(start);
    }
    this.orderRng = new Rng(this.data.orderSeed);
    this.order = this.orderRng.permutation(this.data.train.size);
    this.history = this.trainers.map(() => []);
    this.measurements = this.trainers.map(() => []);
    this.observe();
  }

  /** Steps taken. */
  get step(): number {
    return this.stepCount;
  }

  /** One step of every trainer on the same mini-batch; records and measures when due. */
  advance(): void {
    const size = this.data.train.size;
    if (this.cursor >= size) {
      this.order = this.orderRng.permutation(size);
      this.cursor = 0;
    }
    const idx = this.order.subarray(this.cursor, Math.min(size, this.cursor + this.settings.batch));
    this.cursor += this.settings.batch;
    const { x, y } = toTensors(this.data.train, idx);
    try {
      for (const t of this.trainers) t.step(x, y);
    } finally {
      tf.dispose([x, y]);
    }
    this.stepCount += 1;
    this.observe();
  }

  private observe(): void {
    const step = this.stepCount;
    if (this.schedule.due(step)) {
      this.trainers.forEach((t, i) => this.history[i]!.push(t.record(step)));
      this.schedule.thin(this.history);
    }
    if (step % this.settings.every === 0) {
      this.trainers.forEach((t, i) => this.measurements[i]!.push(t.measure(step)));
      // Long runs keep every other measurement once there are too many (the same on both sides).
      if (this.measurements[0]!.length > MAX_RECORDS) {
        for (const m of this.measurements) m.splice(0, m.length, ...m.filter((_, k) => k % 2 === 0));
      }
    }
  }

  dispose(): void {
    for (const t of this.trainers) t.dispose();
    this.data.dispose();
  }
}
