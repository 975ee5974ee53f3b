/**
 * The method table: every method flatminima offers, named ONCE, with its label, colour, the run-spec
 * fields it takes (each with its rule: kind, range, default, meaning), the defaults a spec states,
 * and how to build it. Everything that lists methods derives from this table: the run-spec schema
 * and its cross-field checks (experiments/), the optimiser factory, the CLI's choices, flags and
 * help, the report's labels, order and colours, the analysis, the bench and the playground.
 *
 * Adding a method is a rule (ascent.ts / descent.ts / climb.ts), a preset (presets.ts, whose option
 * rules the row reuses) and one row here. Browser-safe plain data: no zod, no CLI, no files.
 */
import type * as tf from '@tensorflow/tfjs';
import { disposeForgottenOptimizerState } from '../util/tfjsFixes.js';
import { COMMON_OPTION_RULES, type OptionRule } from './options.js';
import type { CommonOptions } from './optimizer.js';
import { ADAPTIVE_OPTION_RULES } from './options.js';
import {
  AdaptiveGSAM,
  ASAM,
  ESAM,
  GSAM,
  LookSAM,
  MomentumSAM,
  PRESET_OPTION_RULES,
  SAM,
  type AdaptiveGSAMOptions,
  type ASAMOptions,
  type ESAMOptions,
  type GSAMOptions,
  type LookSAMOptions,
} from './presets.js';

/**
 * A field of a run spec's `optimizer` object (`optimizer.<name>`; the CLI flag is the name in
 * kebab-case, `--looksam-alpha`; the playground's URL key is the name).
 */
export interface SpecField {
  /** Its kind, range, default and meaning (the preset's own rule for a constructor option). */
  readonly rule: OptionRule;
  /**
   * What it sets: the constructor option of that name, or 'rho-schedule' for `rhoSchedule` and
   * `rhoMin`, which the factory folds with `rho` into one rho setting (`proportionalRho`).
   */
  readonly sets:
    | {
        /** The constructor option's name ('' in a row: the field's own name). */
        readonly option: string;
      }
    | 'rho-schedule';
}

/** A constructor option as a spec field: `option(rule)` sets the option of the field's name, `option(rule, 'alpha')` another. */
function option<R extends OptionRule>(rule: R, name?: string): { readonly rule: R; readonly sets: { readonly option: string } } {
  return { rule, sets: { option: name ?? '' } };
}

/** The rho setting: the radius and GSAM's schedule tying it to the learning rate. */
const RHO_FIELDS = {
  /** Neighbourhood radius of the climb (the method's default when left out). */
  rho: option(COMMON_OPTION_RULES.rho),
  /** 'constant' (default) or 'proportional' to the learning rate (GSAM's rule; rho decays from rho to rhoMin). */
  rhoSchedule: {
    rule: {
      type: 'choice',
      choices: ['constant', 'proportional'],
      default: 'constant',
      help: 'rho constant, or proportional to the learning rate (GSAM), from rho down to rhoMin',
    },
    sets: 'rho-schedule',
  },
  /** With rhoSchedule 'proportional': rho at the smallest learning rate (default 0). */
  rhoMin: {
    rule: { type: 'number', range: { min: 0 }, default: 0, help: 'with rhoSchedule proportional: rho at the smallest learning rate' },
    sets: 'rho-schedule',
  },
} as const satisfies Record<string, SpecField>;

/** Which steps climb (SAM every k steps, RST), on top of a method's own schedule. */
const SCHEDULE_FIELDS = {
  /** Climb only on steps 1, 1+k, 1+2k, ... with k = interval (SAM every k steps); default 1. */
  interval: option(COMMON_OPTION_RULES.interval),
  /** RST: climb on a step with this probability, a seeded draw each step (default: no draw). */
  climbProbability: option(COMMON_OPTION_RULES.climbProbability),
} as const satisfies Record<string, SpecField>;

/** Gradient accumulation, for every method (SGD included). */
const ACCUMULATION_FIELD = {
  /** Gradient accumulation: each batch evaluated in this many parts (default 1). */
  accumulation: option(COMMON_OPTION_RULES.accumulation),
} as const satisfies Record<string, SpecField>;

/** m-sharpness, for methods whose perturbation comes from the batch's gradient and whose descent keeps no state. */
const MICRO_BATCH_FIELD = {
  /** m-sharpness: one perturbation per micro-batch, directions averaged (default 1). */
  microBatches: option(COMMON_OPTION_RULES.microBatches),
} as const satisfies Record<string, SpecField>;

/** ASAM's climb (also Adaptive-GSAM's with ascent 'adaptive'). */
const ADAPTIVE_FIELDS = {
  /** ASAM (and Adaptive-GSAM with ascent 'adaptive'): T = |w| + eta. */
  eta: option(ADAPTIVE_OPTION_RULES.eta),
  /** ASAM's scaled variables: 'kernels' (default) or 'all'. */
  scope: option(ADAPTIVE_OPTION_RULES.scope),
} as const satisfies Record<string, SpecField>;

/** GSAM's surrogate-gap descent (also Adaptive-GSAM's). */
const SURROGATE_GAP_FIELDS = {
  /** GSAM / Adaptive-GSAM: weight of the ascent along the part of g orthogonal to g_p. */
  alpha: option(PRESET_OPTION_RULES.GSAM.alpha),
} as const satisfies Record<string, SpecField>;

/** The fields every climbing method takes. */
const CLIMBING_FIELDS = { ...RHO_FIELDS, ...SCHEDULE_FIELDS, ...ACCUMULATION_FIELD } as const;

/** What a row's `create` gets: the base, rho, weight decay, the seed, and the spec's constructor options. */
export type MethodOptions = CommonOptions & Record<string, unknown>;

/** One method. */
export interface MethodRow<F extends Readonly<Record<string, SpecField>> = Readonly<Record<string, SpecField>>, N extends string = string> {
  /** The id in specs, the CLI, URLs and records: 'looksam'. */
  readonly name: N;
  /** The name shown in tables, plots and the playground: 'LookSAM'. */
  readonly label: string;
  /** Its fixed colour in every plot (hex). */
  readonly colour: string;
  /** One line for help texts. */
  readonly description: string;
  /** One of the report's five methods (SGD, SAM, ASAM, GSAM, Adaptive-GSAM): what `compare` and `reproduce` run by default. */
  readonly inReport: boolean;
  /** Whether its steps evaluate a perturbed loss worth recording (L(w + e) and the gap h). */
  readonly perturbs: boolean;
  /** The spec fields it takes. */
  readonly fields: F;
  /** What a spec of the method states when nothing sets these fields (written out, so every record says them). */
  readonly defaults: { readonly [K in keyof F]?: number | string };
  /** Builds the optimiser to call `minimize` on from the base and the spec's constructor options (the base itself for plain SGD). */
  create(options: MethodOptions): tf.Optimizer;
  /**
   * Checks between its fields (and the base optimiser) that their rules cannot say; one message per
   * problem, `<path in the run spec>: ...` (e.g. `optimizer.eta: ...`, `base.name: ...`).
   */
  check?(settings: Readonly<Record<string, unknown>>, base: { readonly name: string }): string[];
}

/** A row with its field types kept (for the typed spec schema). */
function row<const F extends Readonly<Record<string, SpecField>>, const N extends string>(r: MethodRow<F, N>): MethodRow<F, N> {
  return r;
}

/** The table with its literal types (for {@link SpecFields} and {@link MethodName}); exported as {@link METHODS}. */
const TABLE = [
  row({
    name: 'sgd',
    label: 'SGD',
    colour: '#7f7f7f',
    description: 'the base optimiser alone',
    inReport: true,
    perturbs: false,
    fields: ACCUMULATION_FIELD,
    defaults: {},
    // rho = 0 makes SAM a single pass: exactly the base optimiser, plus coupled weight decay and accumulation.
    create: (o) => ((o.weightDecay ?? 0) > 0 || ((o.accumulation as number | undefined) ?? 1) > 1 ? new SAM({ ...o, rho: 0 }) : o.base),
  }),
  row({
    name: 'sam',
    label: 'SAM',
    colour: '#4e79a7',
    description: 'SAM: euclidean climb, descend with g_p',
    inReport: true,
    perturbs: true,
    fields: { ...CLIMBING_FIELDS, ...MICRO_BATCH_FIELD },
    defaults: { rho: 0.05 },
    create: (o) => new SAM(o),
  }),
  row({
    name: 'asam',
    label: 'ASAM',
    colour: '#59a14f',
    description: 'ASAM: adaptive climb, descend with g_p',
    inReport: true,
    perturbs: true,
    fields: { ...CLIMBING_FIELDS, ...MICRO_BATCH_FIELD, ...ADAPTIVE_FIELDS },
    // 10x SAM's: the climb is scaled by T = |w| + eta, which with weights well under 1 shrinks e far below SAM's at the same rho.
    defaults: { rho: 0.5, eta: 0.01 },
    create: (o) => new ASAM(o as ASAMOptions),
  }),
  row({
    name: 'gsam',
    label: 'GSAM',
    colour: '#e15759',
    description: 'GSAM: euclidean climb, surrogate-gap descent',
    inReport: true,
    perturbs: true,
    fields: { ...CLIMBING_FIELDS, ...MICRO_BATCH_FIELD, ...SURROGATE_GAP_FIELDS },
    defaults: { rho: 0.05, alpha: 0.1 },
    create: (o) => new GSAM(o as unknown as GSAMOptions),
  }),
  row({
    name: 'agsam',
    label: 'Adaptive-GSAM',
    colour: '#b07aa1',
    description: "Adaptive-GSAM: the report's elementwise (or ASAM's adaptive) climb, surrogate-gap descent",
    inReport: true,
    perturbs: true,
    fields: {
      ...CLIMBING_FIELDS,
      ...MICRO_BATCH_FIELD,
      ...SURROGATE_GAP_FIELDS,
      /** Adaptive-GSAM (elementwise ascent): the climb scales g by |w| + gamma. */
      gamma: option(PRESET_OPTION_RULES.AdaptiveGSAM.gamma),
      /** Adaptive-GSAM's climb: 'elementwise' (the report's rule, default) or 'adaptive' (ASAM's). */
      ascent: option(PRESET_OPTION_RULES.AdaptiveGSAM.ascent),
      ...ADAPTIVE_FIELDS,
    },
    // The elementwise climb is scaled by |w| + gamma, hence ASAM's rho.
    defaults: { rho: 0.5, alpha: 0.1, gamma: 0.01 },
    create: (o) => new AdaptiveGSAM(o as unknown as AdaptiveGSAMOptions),
    check: (o) => [
      ...(o.ascent !== 'adaptive'
        ? (['eta', 'scope'] as const)
            .filter((k) => o[k] !== undefined)
            .map((k) => `optimizer.${k}: Adaptive-GSAM uses it only with optimizer.ascent "adaptive" (the elementwise climb uses gamma)`)
        : []),
      ...(o.ascent === 'adaptive' && o.gamma !== undefined
        ? ['optimizer.gamma: Adaptive-GSAM uses it only with optimizer.ascent "elementwise"']
        : []),
    ],
  }),
  row({
    name: 'looksam',
    label: 'LookSAM',
    colour: '#f28e2b',
    description: 'LookSAM: SAM every k-th step, the steps between reuse its direction (one pass)',
    inReport: false,
    perturbs: true,
    fields: {
      ...CLIMBING_FIELDS,
      /** LookSAM: climb on every k-th step (the first climbs), reuse the stored direction between. */
      k: option(PRESET_OPTION_RULES.LookSAM.k),
      /** LookSAM's alpha (the constructor's `alpha`): weight of the reused direction. */
      looksamAlpha: option(PRESET_OPTION_RULES.LookSAM.alpha, 'alpha'),
    },
    defaults: { rho: 0.05, k: 5, looksamAlpha: 0.7 },
    create: (o) => new LookSAM(o as LookSAMOptions),
  }),
  row({
    name: 'msam',
    label: 'MomentumSAM',
    colour: '#76b7b2',
    description: "MomentumSAM: climb along the base's momentum, one pass per step (base momentum)",
    inReport: false,
    perturbs: false,
    fields: CLIMBING_FIELDS,
    // msam.py's default (its CIFAR settings); the climb is along a unit vector, as SAM's.
    defaults: { rho: 0.3 },
    create: (o) => new MomentumSAM(o),
    check: (_o, base) =>
      base.name === 'momentum'
        ? []
        : [`base.name: MomentumSAM climbs along the base's momentum, so it must be "momentum", got "${base.name}"`],
  }),
  row({
    name: 'esam',
    label: 'ESAM',
    colour: '#9c755f',
    description: 'ESAM: stochastic weight perturbation, descend on the examples whose loss rises most',
    inReport: false,
    perturbs: true,
    fields: {
      ...CLIMBING_FIELDS,
      ...MICRO_BATCH_FIELD,
      /** ESAM: each weight is perturbed with probability beta (e scaled by 1/beta). */
      beta: option(PRESET_OPTION_RULES.ESAM.beta),
      /** ESAM's gamma (the constructor's `gamma`): the share of the batch, whose loss rises most, descended on. */
      esamGamma: option(PRESET_OPTION_RULES.ESAM.gamma, 'gamma'),
    },
    defaults: { rho: 0.05, beta: 0.5, esamGamma: 0.5 },
    create: (o) => new ESAM(o as ESAMOptions),
  }),
] as const;

/** The methods, in display order: plain baseline first, the report's four, then the cheaper variants. */
export const METHODS: readonly MethodRow[] = TABLE;

/** The union of every row's field object. */
type UnionToIntersection<U> = (U extends unknown ? (x: U) => void : never) extends (x: infer I) => void ? I : never;

/** Every spec field of every method, by name (the typed union of the rows' fields). */
export type SpecFields = UnionToIntersection<(typeof TABLE)[number]['fields']>;

/** A method's name. */
export type MethodName = (typeof TABLE)[number]['name'];

/** The method names (ids), in display order. */
export const METHOD_IDS = TABLE.map((m) => m.name) as readonly MethodName[] as readonly [MethodName, ...MethodName[]];

/** The report's five methods (what `compare` and `reproduce` run by default), in display order. */
export const REPORT_METHOD_IDS = METHODS.filter((m) => m.inReport).map((m) => m.name as MethodName);

/**
 * Every spec field once, with the constructor option it sets resolved: the rho fields, the methods'
 * own fields in the order the rows first name them, then the schedule and batch fields shared by
 * all. Checked when the table loads: a field two rows name must have the same rule in both.
 */
export const SPEC_FIELDS: Readonly<Record<keyof SpecFields & string, SpecField>> = collectFields();

function collectFields(): Readonly<Record<keyof SpecFields & string, SpecField>> {
  const out: Record<string, SpecField> = {};
  const owner: Record<string, string> = {};
  for (const m of METHODS) {
    for (const [name, f] of Object.entries(m.fields)) {
      const resolved: SpecField = f.sets === 'rho-schedule' ? f : { rule: f.rule, sets: { option: f.sets.option || name } };
      const seen = out[name];
      if (seen === undefined) {
        out[name] = resolved;
        owner[name] = m.name;
      } else if (JSON.stringify(seen) !== JSON.stringify(resolved)) {
        throw new Error(
          `method table: field '${name}' of '${m.name}' differs from the one of '${owner[name]}'; give one of them another field name`,
        );
      }
    }
  }
  const last = new Set([...Object.keys(SCHEDULE_FIELDS), ...Object.keys(MICRO_BATCH_FIELD), ...Object.keys(ACCUMULATION_FIELD)]);
  const names = Object.keys(out);
  const ordered = [...names.filter((n) => !last.has(n)), ...names.filter((n) => last.has(n))];
  return Object.fromEntries(ordered.map((n) => [n, out[n]])) as Record<keyof SpecFields & string, SpecField>;
}

/** The row of method `name`. @throws RangeError naming the methods for an unknown name. */
export function methodRow(name: string): MethodRow {
  const m = METHODS.find((r) => r.name === name);
  if (m === undefined) throw new RangeError(`method must be one of ${METHOD_IDS.join(', ')}, got '${name}'`);
  return m;
}

/** The methods that take spec field `field`, in display order. */
export function methodsTaking(field: string): MethodName[] {
  return METHODS.filter((m) => field in m.fields).map((m) => m.name as MethodName);
}

/** The CLI flag of a spec field: `--` and its name in kebab-case (`looksamAlpha` -> `--looksam-alpha`). */
export function fieldFlag(field: string): string {
  return `--${field.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
}

/**
 * The constructor options of method `name` from the spec fields `settings` (those it takes; the rho
 * fields are the caller's, folded into `common.rho`), plus `common` (base, rho, weight decay, seed).
 */
export function methodOptions(name: string, settings: Readonly<Record<string, unknown>>, common: CommonOptions): MethodOptions {
  const m = methodRow(name);
  const defaults = m.defaults as Readonly<Record<string, unknown>>;
  const out: MethodOptions = { ...common };
  for (const [field, f] of Object.entries(m.fields)) {
    // A field the spec leaves out takes the method's spec default, else the class's own default.
    const value = settings[field] ?? defaults[field];
    if (f.sets === 'rho-schedule' || field === 'rho' || value === undefined) continue;
    out[f.sets.option || field] = value;
  }
  return out;
}

/**
 * Frees an optimiser a row's `create` returned: a sharpness-aware wrapper with its base, or plain
 * SGD's base itself, including the learning-rate scalar that tfjs's `MomentumOptimizer.dispose()`
 * forgets (one tensor per optimiser otherwise).
 */
export function disposeMethodOptimizer(optimizer: tf.Optimizer): void {
  optimizer.dispose();
  disposeForgottenOptimizerState(optimizer);
}
