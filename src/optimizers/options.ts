/**
 * The options of the sharpness-aware optimisers as data: each option's kind, allowed range, default
 * and meaning, stated once. The presets check their constructor options against these rules, and
 * the method table (methods.ts) derives from the same rules the run-spec schema, the CLI's flags and
 * help, and the playground's fields, so a range or a default is never written twice.
 */
import { checkChoice, checkNumber, describeRule, type NumberRule } from '../util/validation.js';

/** A number option: its range, its default (absent: required or method-specific) and its meaning. */
export interface NumberOptionRule {
  /** The kind: a number. */
  readonly type: 'number';
  /** The values allowed. */
  readonly range: NumberRule;
  /** The value when the option is left out (absent: required, or set by the method). */
  readonly default?: number;
  /** One line saying what the option does, for help texts and the docs. */
  readonly help: string;
}

/** A choice option: the strings allowed, its default and its meaning. */
export interface ChoiceOptionRule {
  /** The kind: one of a few strings. */
  readonly type: 'choice';
  /** The strings allowed. */
  readonly choices: readonly string[];
  /** The value when the option is left out (absent: required). */
  readonly default?: string;
  /** One line saying what the option does, for help texts and the docs. */
  readonly help: string;
}

/** One option of a method. */
export type OptionRule = NumberOptionRule | ChoiceOptionRule;

/** What `rule` allows, in words: e.g. `an integer >= 1`, `one of 'kernels', 'all'`. */
export function describeOptionRule(rule: OptionRule): string {
  return rule.type === 'number' ? describeRule(rule.range) : `one of ${rule.choices.map((c) => `'${c}'`).join(', ')}`;
}

/**
 * `value` checked against a number rule, its default when undefined.
 * @throws TypeError for a non-number (or a missing value without default); RangeError outside the range.
 */
export function readNumberOption(where: string, name: string, rule: NumberOptionRule, value: unknown): number {
  return checkNumber(where, name, value, rule.default, rule.range);
}

/** `value` checked against a choice rule, its default when undefined. */
export function readChoiceOption<T extends string>(where: string, name: string, rule: ChoiceOptionRule, value: unknown): T {
  if (rule.default === undefined && value === undefined) throw new TypeError(`${where}: ${name} is required (${describeOptionRule(rule)})`);
  return checkChoice(where, name, value, rule.default as T, rule.choices as readonly T[]);
}

/** The options every sharpness-aware optimiser takes (besides `base`), as data. */
export const COMMON_OPTION_RULES = {
  rho: { type: 'number', range: { min: 0 }, help: 'neighbourhood radius of the climb' },
  weightDecay: { type: 'number', range: { min: 0 }, default: 0, help: 'coupled L2 weight decay added to the direction' },
  eps: { type: 'number', range: { min: 0 }, default: 1e-12, help: 'added to norms in denominators' },
  interval: {
    type: 'number',
    range: { min: 1, integer: true },
    default: 1,
    help: 'climb only on steps 1, 1+k, 1+2k, ... (SAM every k steps); the others are the base step',
  },
  climbProbability: {
    type: 'number',
    range: { min: 0, max: 1 },
    help: 'RST: climb on a step with this probability (a seeded draw each step)',
  },
  seed: { type: 'number', range: { integer: true }, default: 0, help: "seed of the optimiser's random draws" },
  microBatches: {
    type: 'number',
    range: { min: 1, integer: true },
    default: 1,
    help: 'm-sharpness: one perturbation per micro-batch, directions averaged',
  },
  accumulation: {
    type: 'number',
    range: { min: 1, integer: true },
    default: 1,
    help: 'gradient accumulation: each batch evaluated in this many parts',
  },
} as const satisfies Record<string, OptionRule>;

/** ASAM's (and Adaptive-GSAM's adaptive climb's) options. */
export const ADAPTIVE_OPTION_RULES = {
  eta: { type: 'number', range: { min: 0 }, default: 0.01, help: 'ASAM: T = |w| + eta on the scaled variables' },
  scope: { type: 'choice', choices: ['kernels', 'all'], default: 'kernels', help: 'ASAM: which variables the climb scales by |w|' },
} as const satisfies Record<string, OptionRule>;

/** GSAM's weight of the orthogonal ascent (required: 0 gives SAM). */
export const SURROGATE_GAP_ALPHA_RULE = {
  type: 'number',
  range: { min: 0 },
  help: 'GSAM: weight of the ascent along the part of g orthogonal to g_p (0 gives SAM)',
} as const satisfies NumberOptionRule;
