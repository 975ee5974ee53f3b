/**
 * The named optimisers, each one constructor over an ascent rule, a descent rule and a climb
 * policy: the four of the report (DESIGN.md's 2x2 table) and the cheaper variants (LookSAM,
 * MomentumSAM, ESAM), with their option rules (options.ts; the method table derives the run-spec
 * schema and the CLI from the same rules) and tfjs serialisation registration.
 */
import * as tf from '@tensorflow/tfjs';
import { adaptiveAscent, elementwiseAscent, euclideanAscent, momentumAscent, stochasticAscent, type AdaptiveScope } from './ascent.js';
import { everyKthStep } from './climb.js';
import { lookSamDescent, perturbedDescent, sharpnessSensitiveDescent, surrogateGapDescent } from './descent.js';
import { COMMON_OPTION_NAMES, SharpnessAwareOptimizer, optimizerSeeds, validateCommonOptions, type CommonOptions } from './optimizer.js';
import { ADAPTIVE_OPTION_RULES, SURROGATE_GAP_ALPHA_RULE, readChoiceOption, readNumberOption, type OptionRule } from './options.js';
import { describeValue, rejectUnknownKeys } from '../util/validation.js';

/** Options of {@link SAM}. */
export type SAMOptions = CommonOptions;

/** Options of {@link ASAM}. */
export interface ASAMOptions extends CommonOptions {
  /** T = |w| + eta on scaled variables (default 0.01). */
  eta?: number;
  /** Which variables are scaled: 'kernels' (rank >= 2; default), 'all', or a predicate. */
  scope?: AdaptiveScope;
}

/** Options of {@link GSAM}. */
export interface GSAMOptions extends CommonOptions {
  /** Weight of the ascent along the part of g orthogonal to g_p (0 gives SAM). */
  alpha: number;
}

/** Options of {@link AdaptiveGSAM}. */
export interface AdaptiveGSAMOptions extends CommonOptions {
  /** GSAM's weight of the ascent along the part of g orthogonal to g_p (>= 0). */
  alpha: number;
  /** Elementwise climb: (|w| + gamma) ⊙ g (default 0.01; 0 allowed). */
  gamma?: number;
  /** 'elementwise' (the report's rule, default) or 'adaptive' (ASAM's rule). */
  ascent?: 'elementwise' | 'adaptive';
  /** ASAM's eta, with ascent 'adaptive' (default 0.01). */
  eta?: number;
  /** ASAM's scope, with ascent 'adaptive' (default 'kernels'). */
  scope?: AdaptiveScope;
}

/** Options of {@link LookSAM}. */
export interface LookSAMOptions extends CommonOptions {
  /** Climb on every k-th step, the first step included (steps 1, 1+k, ...); the others reuse g_v. Default 5. */
  k?: number;
  /** Weight of the reused direction: `d = g + alpha ‖g‖ g_v / ‖g_v‖` (default 0.7). */
  alpha?: number;
}

/** Options of {@link MomentumSAM}: the common ones; `base` must be `tf.train.momentum(lr, mu)` without Nesterov. */
export type MomentumSAMOptions = CommonOptions;

/** Options of {@link ESAM}. */
export interface ESAMOptions extends CommonOptions {
  /** Stochastic weight perturbation: each weight is perturbed with probability beta, e scaled by 1/beta (in (0, 1], default 0.5). */
  beta?: number;
  /** Sharpness-sensitive data selection: the share of the batch (in (0, 1], default 0.5) whose loss rises most is descended on. */
  gamma?: number;
}

/** The rules of each preset's own options (beside the common ones of options.ts), by class name. */
export const PRESET_OPTION_RULES = {
  SAM: {},
  ASAM: ADAPTIVE_OPTION_RULES,
  GSAM: { alpha: SURROGATE_GAP_ALPHA_RULE },
  AdaptiveGSAM: {
    alpha: SURROGATE_GAP_ALPHA_RULE,
    gamma: { type: 'number', range: { min: 0 }, default: 0.01, help: 'Adaptive-GSAM: the elementwise climb scales g by |w| + gamma' },
    ascent: {
      type: 'choice',
      choices: ['elementwise', 'adaptive'],
      default: 'elementwise',
      help: "Adaptive-GSAM's climb: the report's elementwise rule or ASAM's adaptive one",
    },
    ...ADAPTIVE_OPTION_RULES,
  },
  LookSAM: {
    k: {
      type: 'number',
      range: { min: 1, integer: true },
      default: 5,
      help: 'LookSAM: climb on every k-th step (the first climbs); the others reuse the stored direction',
    },
    alpha: {
      type: 'number',
      range: { min: 0 },
      default: 0.7,
      help: 'LookSAM: weight of the reused direction, d = g + alpha ‖g‖ g_v / ‖g_v‖',
    },
  },
  MomentumSAM: {},
  ESAM: {
    beta: {
      type: 'number',
      range: { min: 0, minExclusive: true, max: 1 },
      default: 0.5,
      help: 'ESAM: each weight is perturbed with probability beta (e scaled by 1/beta)',
    },
    gamma: {
      type: 'number',
      range: { min: 0, minExclusive: true, max: 1 },
      default: 0.5,
      help: 'ESAM: descend on this share of the batch, the examples whose loss rises most',
    },
  },
} as const satisfies Record<string, Record<string, OptionRule>>;

function validateScope(className: string, scope: unknown): AdaptiveScope {
  if (typeof scope === 'function') return scope as AdaptiveScope;
  return readChoiceOption<'kernels' | 'all'>(className, 'scope', ADAPTIVE_OPTION_RULES.scope, scope);
}

function requireAlpha(className: string, alpha: unknown): number {
  if (alpha === undefined) throw new TypeError(`${className}: alpha is required (a finite number >= 0; 0 gives SAM)`);
  return readNumberOption(className, 'alpha', SURROGATE_GAP_ALPHA_RULE, alpha);
}

/** The known option names of a preset: the common ones and its own. */
function optionNames(className: keyof typeof PRESET_OPTION_RULES): string[] {
  return [...COMMON_OPTION_NAMES, ...Object.keys(PRESET_OPTION_RULES[className])];
}

function scopeConfig(className: string, scope: AdaptiveScope): string {
  if (typeof scope === 'function') throw new Error(`${className}.getConfig: scope is a function, which cannot be serialised`);
  return scope;
}

/**
 * SAM (Foret et al.): climb `e = rho g / (‖g‖ + eps)`, descend with the gradient at w + e.
 * @example model.compile({ optimizer: new SAM({ base: tf.train.momentum(0.1, 0.9), rho: 0.05 }), loss: 'categoricalCrossentropy' })
 */
export class SAM extends SharpnessAwareOptimizer {
  /** The name tfjs serialisation registers the class under. */
  static override readonly className = 'SAM';

  constructor(options: SAMOptions) {
    rejectUnknownKeys('SAM', options ?? {}, optionNames('SAM'));
    super({ ...validateCommonOptions('SAM', options), ascent: euclideanAscent(), descent: perturbedDescent() });
  }

  protected override presetConfig(): tf.serialization.ConfigDict {
    return {};
  }
}

/**
 * ASAM (Kwon et al.): the climb measured in the scale-invariant norm `T = |w| + eta`,
 * `e = rho T² g / (‖T g‖ + eps)`; descend with the gradient at w + e.
 */
export class ASAM extends SharpnessAwareOptimizer {
  /** The name tfjs serialisation registers the class under. */
  static override readonly className = 'ASAM';
  /** T = |w| + eta on the scaled variables. */
  readonly eta: number;
  /** Which variables the climb scales. */
  readonly scope: AdaptiveScope;

  constructor(options: ASAMOptions) {
    rejectUnknownKeys('ASAM', options ?? {}, optionNames('ASAM'));
    const common = validateCommonOptions('ASAM', options);
    const eta = readNumberOption('ASAM', 'eta', ADAPTIVE_OPTION_RULES.eta, options.eta);
    const scope = validateScope('ASAM', options.scope ?? 'kernels');
    super({ ...common, ascent: adaptiveAscent({ eta, scope }), descent: perturbedDescent() });
    this.eta = eta;
    this.scope = scope;
  }

  protected override presetConfig(): tf.serialization.ConfigDict {
    return { eta: this.eta, scope: scopeConfig('ASAM', this.scope) };
  }
}

/**
 * GSAM (Zhuang et al.): SAM's climb; descend with `g_p - alpha g_perp`, where `g_perp` is the part of
 * the clean gradient orthogonal to the perturbed one. `alpha = 0` is SAM.
 */
export class GSAM extends SharpnessAwareOptimizer {
  /** The name tfjs serialisation registers the class under. */
  static override readonly className = 'GSAM';
  /** Weight of the ascent along the part of g orthogonal to g_p. */
  readonly alpha: number;

  constructor(options: GSAMOptions) {
    rejectUnknownKeys('GSAM', options ?? {}, optionNames('GSAM'));
    const common = validateCommonOptions('GSAM', options);
    const alpha = requireAlpha('GSAM', options.alpha);
    super({ ...common, ascent: euclideanAscent(), descent: surrogateGapDescent({ alpha }) });
    this.alpha = alpha;
  }

  protected override presetConfig(): tf.serialization.ConfigDict {
    return { alpha: this.alpha };
  }
}

/**
 * Adaptive-GSAM (the report's proposal): GSAM's descent with a scale-invariant climb, by default the
 * report's elementwise rule `e = rho (|w| + gamma) ⊙ g / (‖g‖ + eps)`, or ASAM's rule with
 * `ascent: 'adaptive'` (then `eta` and `scope` apply).
 */
export class AdaptiveGSAM extends SharpnessAwareOptimizer {
  /** The name tfjs serialisation registers the class under. */
  static override readonly className = 'AdaptiveGSAM';
  /** Weight of the ascent along the part of g orthogonal to g_p. */
  readonly alpha: number;
  /** The elementwise climb's (|w| + gamma). */
  readonly gamma: number;
  /** Which climb: the report's elementwise rule or ASAM's adaptive one. */
  readonly ascent: 'elementwise' | 'adaptive';
  /** ASAM's eta (used with ascent 'adaptive'). */
  readonly eta: number;
  /** ASAM's scope (used with ascent 'adaptive'). */
  readonly scope: AdaptiveScope;

  constructor(options: AdaptiveGSAMOptions) {
    rejectUnknownKeys('AdaptiveGSAM', options ?? {}, optionNames('AdaptiveGSAM'));
    const common = validateCommonOptions('AdaptiveGSAM', options);
    const rules = PRESET_OPTION_RULES.AdaptiveGSAM;
    const alpha = requireAlpha('AdaptiveGSAM', options.alpha);
    const gamma = readNumberOption('AdaptiveGSAM', 'gamma', rules.gamma, options.gamma);
    const ascent = readChoiceOption<'elementwise' | 'adaptive'>('AdaptiveGSAM', 'ascent', rules.ascent, options.ascent);
    const eta = readNumberOption('AdaptiveGSAM', 'eta', rules.eta, options.eta);
    const scope = validateScope('AdaptiveGSAM', options.scope ?? 'kernels');
    if (ascent === 'elementwise' && (options.eta !== undefined || options.scope !== undefined)) {
      throw new TypeError(
        `AdaptiveGSAM: eta and scope apply only with ascent 'adaptive' (got ascent ${describeValue(ascent)}); use gamma for the elementwise climb`,
      );
    }
    const rule = ascent === 'elementwise' ? elementwiseAscent({ gamma }) : adaptiveAscent({ eta, scope });
    super({ ...common, ascent: rule, descent: surrogateGapDescent({ alpha }) });
    this.alpha = alpha;
    this.gamma = gamma;
    this.ascent = ascent;
    this.eta = eta;
    this.scope = scope;
  }

  protected override presetConfig(): tf.serialization.ConfigDict {
    return this.ascent === 'elementwise'
      ? { alpha: this.alpha, gamma: this.gamma, ascent: this.ascent }
      : { alpha: this.alpha, gamma: this.gamma, ascent: this.ascent, eta: this.eta, scope: scopeConfig('AdaptiveGSAM', this.scope) };
  }
}

/**
 * LookSAM (Liu et al. 2022): SAM's climb every k-th step (the first step climbs), storing the part
 * `g_v` of the perturbed gradient orthogonal to the clean one; the steps in between take one pass
 * and descend along `g + alpha ‖g‖ g_v / ‖g_v‖` (see `lookSamDescent`). `k = 1` is SAM.
 * @example new LookSAM({ base: tf.train.momentum(0.05, 0.9), rho: 0.05, k: 5, alpha: 0.7 })
 */
export class LookSAM extends SharpnessAwareOptimizer {
  /** The name tfjs serialisation registers the class under. */
  static override readonly className = 'LookSAM';
  /** Climb every k-th step. */
  readonly k: number;
  /** Weight of the reused direction. */
  readonly alpha: number;

  constructor(options: LookSAMOptions) {
    rejectUnknownKeys('LookSAM', options ?? {}, optionNames('LookSAM'));
    const common = validateCommonOptions('LookSAM', options);
    const rules = PRESET_OPTION_RULES.LookSAM;
    const k = readNumberOption('LookSAM', 'k', rules.k, options.k);
    const alpha = readNumberOption('LookSAM', 'alpha', rules.alpha, options.alpha);
    super({ ...common, ascent: euclideanAscent(), descent: lookSamDescent({ alpha }), climb: everyKthStep(k) });
    this.k = k;
    this.alpha = alpha;
  }

  protected override presetConfig(): tf.serialization.ConfigDict {
    return { k: this.k, alpha: this.alpha };
  }
}

/**
 * The base's momentum of the `index`-th variable of the step, or null before its first update.
 * tfjs's momentum keeps one slot per position of the gradient list `minimize` hands it (every
 * variable, in order), and a restored optimiser keeps the names of the variables it was saved
 * from, so the slot is found by position, as tfjs itself does, not by name.
 */
function momentumOf(base: tf.Optimizer, index: number): tf.Tensor | null {
  const slots = (base as unknown as { accumulations?: ({ variable: tf.Variable } | undefined)[] }).accumulations ?? [];
  return slots[index]?.variable ?? null;
}

/**
 * MomentumSAM (MSAM, Becker et al. 2024, as `optimizer/msam.py` of MarlonBecker/MSAM): climbs
 * along the base's momentum instead of the gradient, `e = -rho v / (‖v‖ + eps)`, so a step needs ONE
 * forward-backward pass, at w + e; the base applies that gradient (plus weight decay, also taken at
 * w + e as msam.py does). Where msam.py leaves the weights at the perturbed point between steps,
 * here they are back at w after every step, so evaluation, checkpoints and saved models see w. The
 * loss a step reports is L(w + e), the only loss it computes. `base` must be momentum SGD
 * (`tf.train.momentum(lr, mu)`, not Nesterov): its velocity is the climb direction.
 */
export class MomentumSAM extends SharpnessAwareOptimizer {
  /** The name tfjs serialisation registers the class under. */
  static override readonly className = 'MomentumSAM';

  constructor(options: MomentumSAMOptions) {
    rejectUnknownKeys('MomentumSAM', options ?? {}, optionNames('MomentumSAM'));
    const common = validateCommonOptions('MomentumSAM', options);
    const base = common.base;
    if (base.getClassName() !== 'Momentum') {
      throw new TypeError(
        `MomentumSAM: base must be momentum SGD (tf.train.momentum(lr, 0.9)): MSAM climbs along its velocity; got ${base.getClassName()}`,
      );
    }
    if ((base as unknown as { useNesterov?: boolean }).useNesterov === true) {
      throw new RangeError(
        'MomentumSAM: base must not use Nesterov momentum (msam.py climbs along the plain velocity), got useNesterov true',
      );
    }
    super({ ...common, ascent: momentumAscent((_v, index) => momentumOf(base, index)), descent: perturbedDescent() });
  }

  protected override presetConfig(): tf.serialization.ConfigDict {
    return {};
  }
}

/**
 * ESAM (Du et al. 2022): SAM with stochastic weight perturbation (each weight perturbed with
 * probability `beta`, the perturbation scaled by 1/beta; see `stochasticAscent`) and
 * sharpness-sensitive data selection (the pass at w + e descends on the `gamma` share of the batch
 * whose loss rises most; see `sharpnessSensitiveDescent`). `gamma < 1` needs one loss per example:
 * `minimize(exampleLosses(...))` (the runner does this); `model.fit` cannot give them (see the
 * README). `beta = 1, gamma = 1` is SAM exactly.
 */
export class ESAM extends SharpnessAwareOptimizer {
  /** The name tfjs serialisation registers the class under. */
  static override readonly className = 'ESAM';
  /** Share of weights perturbed. */
  readonly beta: number;
  /** Share of examples descended on. */
  readonly gamma: number;

  constructor(options: ESAMOptions) {
    rejectUnknownKeys('ESAM', options ?? {}, optionNames('ESAM'));
    const common = validateCommonOptions('ESAM', options);
    const rules = PRESET_OPTION_RULES.ESAM;
    const beta = readNumberOption('ESAM', 'beta', rules.beta, options.beta);
    const gamma = readNumberOption('ESAM', 'gamma', rules.gamma, options.gamma);
    const descent = gamma === 1 ? perturbedDescent() : sharpnessSensitiveDescent({ gamma });
    super({ ...common, ascent: stochasticAscent({ beta, seed: optimizerSeeds(common.seed).rules }), descent });
    this.beta = beta;
    this.gamma = gamma;
  }

  protected override presetConfig(): tf.serialization.ConfigDict {
    return { beta: this.beta, gamma: this.gamma };
  }
}

for (const cls of [SAM, ASAM, GSAM, AdaptiveGSAM, LookSAM, MomentumSAM, ESAM])
  tf.serialization.registerClass(cls as unknown as tf.serialization.SerializableConstructor<tf.serialization.Serializable>);
