/**
 * The optimisers the playground offers, derived from the package's method table (`METHODS` in
 * src/optimizers/methods.ts): every row is a picker entry, and the row's number fields are the
 * form's hyper-parameter fields, with the rules' ranges and help and the row's defaults. A method
 * added to the table appears here, in the form, the URL and the charts without an edit.
 */
import * as tf from '@tensorflow/tfjs';
import { METHODS as TABLE, methodOptions, SPEC_FIELDS, type MethodName, type MethodRow, type SpecFields } from 'flatminima';

/** A hyper-parameter: a spec field of the method table, by its name ('rho', 'k', 'looksamAlpha', ...). */
export type HyperParameter = keyof SpecFields & string;

/** Values of a method's hyper-parameters, by field name (a side holds those of its method only). */
export type HyperValues = Partial<Record<HyperParameter, number>>;

/**
 * The number fields of the table the form does not show, and why. Choice fields (`scope`, `ascent`,
 * `rhoSchedule`) are not shown either: they keep their rules' defaults ('kernels', 'elementwise',
 * 'constant').
 */
export const LEFT_OUT: Readonly<Partial<Record<HyperParameter, string>>> = {
  rhoMin: "belongs to rhoSchedule 'proportional', which ties rho to a learning-rate schedule; the playground's learning rate is constant",
  accumulation: "gives the whole batch's step (to float rounding) in parts: a memory saving that views this small do not need",
  microBatches: 'm-sharpness splits the batch, so it is a setting of the batch more than of the method, and it must fit the batch size',
  climbProbability:
    'has no default (left out, no step is drawn) and a form field always holds a number; an "off" state would need an empty value in the form and the link',
};

/**
 * Upper caps where a rule has none (rho, alpha, eta, k, interval, ...): a field of the form needs a
 * range to check, and larger values only make the small views diverge or never climb.
 */
export const REAL_CAP = 10;
/** The cap of integer fields without an upper bound (k, interval): see {@link REAL_CAP}. */
export const INTEGER_CAP = 1000;

/** The range a hyper-parameter field accepts: its rule's, with the caps where the rule has no bound. */
export interface HyperRange {
  /** Whole numbers only. */
  readonly integer: boolean;
  /** The lower bound (inclusive for integers). */
  readonly min: number;
  /** Whether `min` itself is refused. */
  readonly minExclusive: boolean;
  /** The upper bound (inclusive for integers). */
  readonly max: number;
  /** Whether `max` itself is refused. */
  readonly maxExclusive: boolean;
}

/** One hyper-parameter field of the form. */
export interface HyperField {
  /** The spec field's name: the URL key, the form's label and the name in messages. */
  readonly name: HyperParameter;
  /** What it accepts. */
  readonly range: HyperRange;
  /** What it does (the rule's help), for the tooltip. */
  readonly help: string;
}

/** The rule's range as the form checks it; integer bounds made inclusive, so messages read "from 1 to 1000". */
function hyperRange(name: string): HyperRange {
  const rule = SPEC_FIELDS[name as HyperParameter].rule;
  if (rule.type !== 'number') throw new Error(`playground: field '${name}' is not a number field`);
  const r = rule.range;
  const integer = r.integer === true;
  const cap = integer ? INTEGER_CAP : REAL_CAP;
  // A rule without a lower bound gets the mirror of the cap (no such field today).
  let min = r.min ?? -cap;
  let max = r.max ?? cap;
  let minExclusive = r.min !== undefined && r.minExclusive === true;
  let maxExclusive = r.max !== undefined && r.maxExclusive === true;
  if (integer) {
    min = minExclusive ? Math.floor(min) + 1 : Math.ceil(min);
    max = maxExclusive ? Math.ceil(max) - 1 : Math.floor(max);
    minExclusive = maxExclusive = false;
  }
  return { integer, min, minExclusive, max, maxExclusive };
}

/** The value a row gives field `name` when a spec leaves it out: the row's default, else the rule's. */
function rowDefault(row: MethodRow, name: string): number | undefined {
  const own = (row.defaults as Readonly<Record<string, number | string | undefined>>)[name];
  const rule = row.fields[name]!.rule;
  const value = own ?? rule.default;
  return typeof value === 'number' ? value : undefined;
}

/**
 * The fields of `row` the form shows: its number fields with a default, less {@link LEFT_OUT}, less
 * those its own check refuses at the choice fields' defaults (Adaptive-GSAM's eta belongs to its
 * 'adaptive' climb, and the form keeps the 'elementwise' one).
 */
function shownFields(row: MethodRow): HyperParameter[] {
  const defaults = row.defaults as Readonly<Record<string, unknown>>;
  return Object.keys(SPEC_FIELDS).filter((name): name is HyperParameter => {
    const f = row.fields[name];
    if (f === undefined || f.rule.type !== 'number' || name in LEFT_OUT) return false;
    const value = rowDefault(row, name);
    if (value === undefined) return false;
    // The base is irrelevant here: only the messages about this field count.
    const refused = row.check?.({ ...defaults, [name]: value }, { name: 'momentum' }) ?? [];
    return !refused.some((m) => m.startsWith(`optimizer.${name}:`));
  });
}

/** One optimiser of the picker: a row of the method table as the playground uses it. */
export interface MethodEntry {
  /** The id used in the URL (`opt=looksam`): the row's name. */
  readonly id: MethodName;
  /** The name shown in the picker and the legends. */
  readonly label: string;
  /** Its colour in the package's plots (the page marks the boundary's caption with it). */
  readonly colour: string;
  /** The hyper-parameters it uses, in the order the form shows them (the table's field order). */
  readonly uses: readonly HyperParameter[];
  /** Its defaults for those (the values a link without them means): one per entry of `uses`. */
  readonly defaults: Readonly<HyperValues>;
  /** Whether its step has a perturbed pass (so `lastPerturbedLoss`/`lastSurrogateGap` mean something). */
  readonly perturbs: boolean;
  /** The optimiser to call `minimize` on, wrapping `base`, with hyper-parameters `h` and seed `seed` for its draws. */
  build(base: tf.Optimizer, h: HyperValues, seed: number): tf.Optimizer;
  /**
   * The row's checks between its fields and the base optimiser (id `base`): one message per problem,
   * starting with the run-spec path it names (`base.name: ...`, `optimizer.eta: ...`).
   */
  check(h: HyperValues, base: string): string[];
}

function entry(row: MethodRow): MethodEntry {
  const uses = shownFields(row);
  return {
    id: row.name as MethodName,
    label: row.label,
    colour: row.colour,
    uses,
    defaults: Object.fromEntries(uses.map((name) => [name, rowDefault(row, name)!])),
    perturbs: row.perturbs,
    // rho is common to every climbing method; SGD's row takes none and ignores it.
    build: (base, h, seed) => row.create(methodOptions(row.name, h, { base, rho: h.rho ?? 0, seed })),
    // Only the method's own fields: a side also holds opt, base and lr, which are no spec fields.
    check: (h, base) => row.check?.(Object.fromEntries(uses.map((name) => [name, h[name]])), { name: base }) ?? [],
  };
}

/** The methods, in the table's order. */
export const METHODS: readonly MethodEntry[] = TABLE.map(entry);

/** Every hyper-parameter some method shows, in the table's field order. */
export const HYPER_FIELDS: Readonly<Partial<Record<HyperParameter, HyperField>>> = Object.fromEntries(
  (Object.keys(SPEC_FIELDS) as HyperParameter[])
    .filter((name) => METHODS.some((m) => m.uses.includes(name)))
    .map((name) => [name, { name, range: hyperRange(name), help: SPEC_FIELDS[name].rule.help }]),
);

/** The entry with `id`; throws a RangeError naming the ids allowed. */
export function methodById(id: string): MethodEntry {
  const m = METHODS.find((e) => e.id === id);
  if (m === undefined) throw new RangeError(`method must be one of ${METHODS.map((e) => e.id).join(', ')}, got '${id}'`);
  return m;
}

/**
 * The base optimisers the picker offers, by URL id; the ids are the run spec's `base.name` values,
 * which the rows' checks name. Momentum is 0.9, as in the report and the spec's default.
 */
export const BASE_OPTIMIZERS: Readonly<Record<string, { label: string; build: (learningRate: number) => tf.Optimizer }>> = {
  sgd: { label: 'SGD', build: (lr) => tf.train.sgd(lr) },
  momentum: { label: 'SGD + momentum 0.9', build: (lr) => tf.train.momentum(lr, 0.9) },
  adam: { label: 'Adam', build: (lr) => tf.train.adam(lr) },
};

/** The base a side starts with. */
export const DEFAULT_BASE = 'momentum';
