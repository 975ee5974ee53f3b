/**
 * The four optimisers of the report, each one line over an ascent rule and a descent rule
 * (DESIGN.md's 2x2 table), plus their option checks and tfjs serialisation registration.
 */
import * as tf from '@tensorflow/tfjs';
import { adaptiveAscent, elementwiseAscent, euclideanAscent, type AdaptiveScope } from './ascent.js';
import { perturbedDescent, surrogateGapDescent } from './descent.js';
import {
  COMMON_OPTION_NAMES,
  SharpnessAwareOptimizer,
  validateCommonOptions,
  type CommonOptions,
} from './optimizer.js';
import { checkChoice, checkNumber, describeValue, rejectUnknownKeys } from '../util/validation.js';

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

function validateScope(className: string, scope: unknown): AdaptiveScope {
  if (typeof scope === 'function') return scope as AdaptiveScope;
  return checkChoice(className, 'scope', scope, 'kernels', ['kernels', 'all'] as const);
}

function requireAlpha(className: string, alpha: unknown): number {
  if (alpha === undefined) throw new TypeError(`${className}: alpha is required (a finite number >= 0; 0 gives SAM)`);
  return checkNumber(className, 'alpha', alpha, undefined, { min: 0 });
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
    rejectUnknownKeys('SAM', options ?? {}, COMMON_OPTION_NAMES);
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
    rejectUnknownKeys('ASAM', options ?? {}, [...COMMON_OPTION_NAMES, 'eta', 'scope']);
    const common = validateCommonOptions('ASAM', options);
    const eta = checkNumber('ASAM', 'eta', options.eta, 0.01, { min: 0 });
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
    rejectUnknownKeys('GSAM', options ?? {}, [...COMMON_OPTION_NAMES, 'alpha']);
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
    rejectUnknownKeys('AdaptiveGSAM', options ?? {}, [...COMMON_OPTION_NAMES, 'alpha', 'gamma', 'ascent', 'eta', 'scope']);
    const common = validateCommonOptions('AdaptiveGSAM', options);
    const alpha = requireAlpha('AdaptiveGSAM', options.alpha);
    const gamma = checkNumber('AdaptiveGSAM', 'gamma', options.gamma, 0.01, { min: 0 });
    const ascent = checkChoice('AdaptiveGSAM', 'ascent', options.ascent, 'elementwise', ['elementwise', 'adaptive'] as const);
    const eta = checkNumber('AdaptiveGSAM', 'eta', options.eta, 0.01, { min: 0 });
    const scope = validateScope('AdaptiveGSAM', options.scope ?? 'kernels');
    if (ascent === 'elementwise' && (options.eta !== undefined || options.scope !== undefined)) {
      throw new TypeError(`AdaptiveGSAM: eta and scope apply only with ascent 'adaptive' (got ascent ${describeValue(ascent)}); use gamma for the elementwise climb`);
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

for (const cls of [SAM, ASAM, GSAM, AdaptiveGSAM]) tf.serialization.registerClass(cls as unknown as tf.serialization.SerializableConstructor<tf.serialization.Serializable>);
