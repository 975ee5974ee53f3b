/**
 * The bench's optimisers, derived from the method table (`src/optimizers/methods.ts`): one
 * configuration per row at the row's defaults (named by its label), the configurations that the
 * step-cost targets of issue 13 name (where they differ from a row's defaults), and for each base
 * optimiser in use that is not plain SGD, that base's own step without a climb (the reference the
 * variants' cost is a ratio to). Every optimiser is built through its row (`row.create`), so a new
 * row appears in the bench, the soak and their tables without a bench edit.
 */
import * as tf from '@tensorflow/tfjs';
import { disposeMethodOptimizer, METHODS, methodOptions, methodRow, type MethodRow } from '../src/optimizers/methods.js';
import { exampleLosses, SharpnessAwareOptimizer, type ExampleLossClosure } from '../src/optimizers/index.js';
import { crossEntropy, crossEntropyPerExample } from '../src/experiments/evaluate.js';

/** The base optimisers a configuration can have: plain SGD, or SGD with momentum (MomentumSAM's). */
export type BaseName = 'sgd' | 'momentum';

/** The bases tried in order for a row: the first that the row's own check accepts. */
const BASES: readonly BaseName[] = ['sgd', 'momentum'];

/** The momentum of the momentum base (tfjs `tf.train.momentum`, not Nesterov). */
export const MOMENTUM = 0.9;

/**
 * The spec fields that make a method's steps repeat with a fixed period (climb on steps 1, 1+k,
 * ...): the common `interval` and LookSAM's `k`. A block of timed steps holds whole cycles when its
 * length is a multiple of every configuration's period; the worker checks this by counting the loss
 * evaluations of each block (a new periodic field missing here shows up as blocks that differ).
 */
const PERIOD_FIELDS = ['interval', 'k'] as const;

/** One optimiser configuration of the bench. */
export interface BenchMethod {
  /** Its name in the tables: the row's label ('SAM', 'Adaptive-GSAM'), a target's name ('SAM interval=5') or 'SGD (momentum 0.9)'. */
  readonly name: string;
  /** Its row in the method table. */
  readonly method: string;
  /** The spec fields it sets: the row's defaults with the configuration's own settings over them. */
  readonly settings: Readonly<Record<string, number | string>>;
  /** Its base optimiser (the first of {@link BASES} the row's check accepts). */
  readonly base: BaseName;
  /** The name of its own SGD step: the same base optimiser without the climb. */
  readonly reference: string;
  /** Steps after which its pattern of cheap and expensive steps repeats (1: every step alike). */
  readonly period: number;
}

/** A step-cost target of issue 13: a configuration and the most its step may cost, as a ratio to its own SGD step. */
export interface VariantTarget {
  /** How the issue names it. */
  readonly name: string;
  /** Its row in the method table. */
  readonly method: string;
  /** The spec fields the target names (the rest are the row's defaults). */
  readonly settings: Readonly<Record<string, number | string>>;
  /** The most its step may cost against its own SGD step, or null for a row shown for reference. */
  readonly target: number | null;
}

/** Issue 13's step-cost targets, with SAM (two passes every step) for reference. */
export const VARIANT_TARGETS: readonly VariantTarget[] = [
  { name: 'LookSAM k=5', method: 'looksam', settings: { k: 5 }, target: 1.3 },
  { name: 'SAM interval=5', method: 'sam', settings: { interval: 5 }, target: 1.3 },
  { name: 'MomentumSAM', method: 'msam', settings: {}, target: 1.15 },
  { name: 'ESAM beta=0.5 gamma=0.5', method: 'esam', settings: { beta: 0.5, esamGamma: 0.5 }, target: 1.6 },
  { name: 'SAM', method: 'sam', settings: {}, target: null },
];

/** The bench's learning rate (the step's cost does not depend on it). */
const LEARNING_RATE = 0.01;

const gcd = (a: number, b: number): number => (b === 0 ? a : gcd(b, a % b));
const lcm = (a: number, b: number): number => (a / gcd(a, b)) * b;

/** The least common multiple of the configurations' periods: the length of a timed block. */
export function blockLength(methods: readonly BenchMethod[]): number {
  return methods.reduce((c, m) => lcm(c, m.period), 1);
}

/** The row's defaults with `settings` over them, only the fields the row takes, in the row's field order. */
function effectiveSettings(row: MethodRow, settings: Readonly<Record<string, number | string>>): Record<string, number | string> {
  const defaults = row.defaults as Readonly<Record<string, number | string | undefined>>;
  const out: Record<string, number | string> = {};
  for (const field of Object.keys(row.fields)) {
    const v = settings[field] ?? defaults[field];
    if (v !== undefined) out[field] = v;
  }
  for (const field of Object.keys(settings))
    if (!(field in row.fields))
      throw new Error(`bench: method '${row.name}' takes no field '${field}' (its fields: ${Object.keys(row.fields).join(', ')})`);
  return out;
}

function baseFor(row: MethodRow, settings: Readonly<Record<string, unknown>>): BaseName {
  const ok = BASES.find((b) => (row.check?.(settings, { name: b }) ?? []).length === 0);
  if (ok === undefined) throw new Error(`bench: method '${row.name}' accepts none of the bases ${BASES.join(', ')}`);
  return ok;
}

function periodOf(settings: Readonly<Record<string, unknown>>): number {
  return PERIOD_FIELDS.reduce((p, f) => {
    const v = settings[f];
    return typeof v === 'number' && Number.isInteger(v) && v > 1 ? lcm(p, v) : p;
  }, 1);
}

/** The name of the plain step (the 'sgd' row) on base `base`. */
function referenceName(sgdLabel: string, base: BaseName): string {
  return base === 'sgd' ? sgdLabel : `${sgdLabel} (momentum ${MOMENTUM})`;
}

/**
 * The bench's configurations: each row of the method table at its defaults, then the targets'
 * configurations that no row's defaults already are, then the plain step of each other base in use.
 */
export function benchMethods(): BenchMethod[] {
  const sgdRow = METHODS.find((r) => r.name === 'sgd');
  if (sgdRow === undefined) throw new Error("bench: the method table has no 'sgd' row (the reference step)");
  const out: BenchMethod[] = [];
  const add = (name: string, row: MethodRow, own: Readonly<Record<string, number | string>>): void => {
    const settings = effectiveSettings(row, own);
    const base = baseFor(row, settings);
    out.push({ name, method: row.name, settings, base, reference: referenceName(sgdRow.label, base), period: periodOf(settings) });
  };
  for (const row of METHODS) add(row.label, row, {});
  for (const t of VARIANT_TARGETS) if (findTarget(out, t) === undefined) add(t.name, methodRow(t.method), t.settings);
  for (const base of new Set(out.map((m) => m.base))) {
    if (base === 'sgd') continue;
    out.push({
      name: referenceName(sgdRow.label, base),
      method: sgdRow.name,
      settings: {},
      base,
      reference: referenceName(sgdRow.label, base),
      period: 1,
    });
  }
  const names = out.map((m) => m.name);
  const twice = names.find((n, i) => names.indexOf(n) !== i);
  if (twice !== undefined) throw new Error(`bench: two configurations are named '${twice}'`);
  return out;
}

/** The configuration that target `t` is (same row, same settings, same base), if it is among `methods`. */
export function findTarget(methods: readonly BenchMethod[], t: VariantTarget): BenchMethod | undefined {
  const row = methodRow(t.method);
  const settings = effectiveSettings(row, t.settings);
  const key = JSON.stringify([row.name, settings, baseFor(row, settings)]);
  return methods.find((m) => JSON.stringify([m.method, m.settings, m.base]) === key);
}

/** Builds configuration `m`'s optimiser through its row of the method table (a fresh base each time). */
export function createOptimizer(m: BenchMethod, learningRate = LEARNING_RATE): tf.Optimizer {
  const row = methodRow(m.method);
  const base = m.base === 'momentum' ? tf.train.momentum(learningRate, MOMENTUM) : tf.train.sgd(learningRate);
  const rho = 'rho' in row.fields ? Number(m.settings.rho ?? 0) : 0;
  try {
    return row.create(methodOptions(m.method, m.settings, { base, rho, weightDecay: 0, seed: 0 }));
  } catch (err) {
    base.dispose();
    throw err;
  }
}

/** Frees an optimiser from {@link createOptimizer}: the method table's own disposer (see its TSDoc). */
export const disposeOptimizer = disposeMethodOptimizer;

/** Counts what a step evaluates: loss evaluations, in units of the whole batch (a pass over half the batch is 0.5). */
export interface PassCounter {
  batches: number;
}

/**
 * The loss closure a step of `opt` takes (the runner's loss: clipped cross-entropy of the softmax
 * outputs, src/experiments/evaluate.ts): the batch's mean loss, or, where the optimiser needs one
 * loss per example (ESAM's data selection, micro-batches, accumulation), an `exampleLosses` closure
 * that gathers the examples it is asked for. Each evaluation adds its share of the batch to `counter`.
 */
export function lossClosure(
  opt: tf.Optimizer,
  model: tf.LayersModel,
  x: tf.Tensor,
  y: tf.Tensor,
  counter: PassCounter,
): (() => tf.Scalar) | ExampleLossClosure {
  const size = x.shape[0];
  if (opt instanceof SharpnessAwareOptimizer && opt.needsExampleLosses) {
    return exampleLosses(size, (indices) => {
      // The gathered inputs stay alive until the gradient is taken (the tape reads them); the pass's tidy frees them.
      const xs = indices === null ? x : tf.gather(x, indices);
      const ys = indices === null ? y : tf.gather(y, indices);
      counter.batches += (indices === null ? size : indices.shape[0]) / size;
      return crossEntropyPerExample(model.apply(xs) as tf.Tensor, ys);
    });
  }
  return () => {
    counter.batches += 1;
    return crossEntropy(model.apply(x) as tf.Tensor, y);
  };
}

/** One step of `opt` on loss closure `f`: returns the clean loss (the caller disposes it). */
export function minimizeWith(opt: tf.Optimizer, f: (() => tf.Scalar) | ExampleLossClosure): tf.Scalar {
  const minimize = opt.minimize.bind(opt) as (f: (() => tf.Scalar) | ExampleLossClosure, returnCost: boolean) => tf.Scalar | null;
  const loss = minimize(f, true);
  if (loss === null) throw new Error(`bench: ${opt.getClassName()}.minimize returned no loss`);
  return loss;
}
