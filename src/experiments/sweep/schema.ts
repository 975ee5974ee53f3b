/**
 * The sweep file: a base run spec, a grid and/or random search over spec fields named by path,
 * optionally per method, and the seeds of every point. JSON or YAML, validated with zod here; the
 * field paths and values are checked against the run-spec schema in expand.ts.
 *
 * The minimal form:
 * ```json
 * { "base": { "dataset": { "name": "moons", "n": 2000 }, "epochs": 10 },
 *   "grid": { "optimizer.name": ["gsam", "agsam"], "optimizer.rho": [0.02, 0.05, 0.2] },
 *   "seeds": 3 }
 * ```
 */
import { z } from 'zod';

/** A value a grid may list: a number, string or boolean (spec fields are scalars). */
const GridValueSchema = z.union([z.number(), z.string(), z.boolean()]);

/** `path -> values`; the product over paths gives the points. */
export const GridSchema = z.record(z.string(), z.array(GridValueSchema));
export type Grid = z.infer<typeof GridSchema>;

/** A distribution a random search draws one field from. */
export const DistributionSchema = z.discriminatedUnion('dist', [
  /** `exp(U(log low, log high))`: for scales such as rho and learning rates; 0 < low < high. */
  z.strictObject({ dist: z.literal('loguniform'), low: z.number().finite(), high: z.number().finite() }),
  /** `U(low, high)`; low < high. */
  z.strictObject({ dist: z.literal('uniform'), low: z.number().finite(), high: z.number().finite() }),
  /** One of `values`, each equally likely. */
  z.strictObject({ dist: z.literal('choice'), values: z.array(GridValueSchema) }),
]);
export type Distribution = z.infer<typeof DistributionSchema>;

/** Names of the distributions, for messages. */
export const DISTRIBUTIONS = ['loguniform', 'uniform', 'choice'] as const;

/** Random search: `n` points, each field drawn from its distribution, from a generator seeded by `seed`. */
export const RandomSearchSchema = z.strictObject({
  n: z.number().int().positive(),
  /** Seed of the draws (default 0): the same seed draws the same points. */
  seed: z.number().int().nonnegative().optional(),
  params: z.record(z.string(), z.unknown()),
});
export type RandomSearch = z.infer<typeof RandomSearchSchema>;

/** One method's own part of a sweep: its grid, random search and base settings. */
export const MethodSweepSchema = z.strictObject({
  /** Settings for this method's runs only, over the sweep's `base`. */
  base: z.record(z.string(), z.unknown()).optional(),
  grid: GridSchema.optional(),
  /** Replaces the sweep's `random` for this method. */
  random: RandomSearchSchema.optional(),
});
export type MethodSweep = z.infer<typeof MethodSweepSchema>;

/** How the sweep's best point per method is chosen (never on test data). */
export const SelectSchema = z.strictObject({
  /** Metric to maximise (or minimise, for a loss), averaged over seeds (default `validationAccuracy`). */
  metric: z.string().min(1).optional(),
  /** Share of the training part held out for validation in every run (default 0.1). */
  validationFraction: z.number().gt(0).lt(1).optional(),
});

/** The whole sweep file. */
export const SweepFileSchema = z.strictObject({
  /** A label for the sweep (printed, and used in the summary files' titles). */
  name: z.string().min(1).optional(),
  /** A partial run spec, completed by the same defaults as `--spec` and flags. */
  base: z.record(z.string(), z.unknown()).optional(),
  grid: GridSchema.optional(),
  random: RandomSearchSchema.optional(),
  /** Several methods in one sweep, each with its own grid: `{ "gsam": { "grid": {...} }, "sgd": {} }`. */
  methods: z.record(z.string(), MethodSweepSchema).optional(),
  /** A count (seeds 0..n-1) or the list of seeds; every point runs each. */
  seeds: z.union([z.number().int().positive(), z.array(z.number().int().nonnegative()).min(1)]),
  /** Selection on validation (default on, with 10 % held out); `false` runs the plain splits and selects nothing. */
  select: z.union([SelectSchema, z.literal(false)]).optional(),
});
export type SweepFile = z.infer<typeof SweepFileSchema>;
