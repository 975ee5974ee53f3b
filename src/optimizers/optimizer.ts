/**
 * `SharpnessAwareOptimizer`: a `tf.Optimizer` that wraps a base optimiser and runs the two-pass step
 * of step.ts inside `minimize`, so `model.compile({ optimizer })` + `model.fit` work unchanged and
 * report the CLEAN loss. It takes any ascent rule, descent rule and climb policy; the four named
 * optimisers (presets.ts) are thin subclasses that choose them.
 */
import * as tf from '@tensorflow/tfjs';
import { sharedReference } from '../util/sharedReference.js';
import { Rng } from '../util/random.js';
import { disposeForgottenOptimizerState, repairRestoredOptimizer } from '../util/tfjsFixes.js';
import { checkNumber, checkOptionsObject, describeValue } from '../util/validation.js';
import { COMMON_OPTION_RULES, readNumberOption } from './options.js';
import type { AscentRule } from './ascent.js';
import { allOf, everyKthStep, everyStep, randomClimb, type ClimbPolicy } from './climb.js';
import type { DescentRule, ExampleLossClosure } from './descent.js';
import type { NamedTensor, RuleState } from './ruleState.js';
import { getLearningRate, isProportionalRho, rhoAt, type RhoOption } from './schedules.js';
import {
  checkStepCombination,
  defaultTrainableVariables,
  isExampleLossClosure,
  stepSettings,
  stepWithSettings,
  type StepSettings,
} from './step.js';

export type { NamedTensor } from './ruleState.js';

/** Options every sharpness-aware optimiser takes. */
export interface CommonOptions {
  /** The optimiser that applies the final direction d (e.g. `tf.train.sgd(0.1)`); owned by the wrapper. */
  base: tf.Optimizer;
  /** Neighbourhood radius: a number >= 0, a function of the step, or {@link proportionalRho}. */
  rho: RhoOption;
  /** Coupled L2 weight decay added to d (as PyTorch SGD's weight_decay). Default 0. */
  weightDecay?: number;
  /** Added to norms in denominators. Default 1e-12. */
  eps?: number;
  /**
   * Climb only on the 1st, (1+k)-th, (1+2k)-th, ... step, `k = interval` (SAM every k steps); the
   * other steps take the base optimiser's step from the clean gradient (or the descent rule's
   * one-pass direction: LookSAM's reuse). On top of the method's own schedule. Default 1 (every step).
   */
  interval?: number;
  /**
   * RST: each step draws `u ~ U[0, 1)` from a generator seeded by `seed` and climbs when
   * `u < climbProbability` (1: the method itself, 0: the base optimiser); the generator's state is
   * saved with the optimiser. On top of the method's own schedule and `interval`. Default: no draw.
   */
  climbProbability?: number;
  /** Seeds the optimiser's random draws (RST's climbs, ESAM's weight masks). Default 0. */
  seed?: number;
  /**
   * m-sharpness: one perturbation per micro-batch, directions averaged by size (see
   * `sharpnessAwareStep`). Needs a loss closure with one loss per example: `minimize(exampleLosses(...))`;
   * `model.fit` cannot split its batches. Default 1.
   */
  microBatches?: number;
  /**
   * Gradient accumulation over this many parts of each mini-batch (the step on the whole batch, a
   * part's activations in memory at a time). Needs `minimize(exampleLosses(...))`. Default 1.
   */
  accumulation?: number;
}

/** Options of a {@link SharpnessAwareOptimizer} built directly from its rules. */
export interface SharpnessAwareOptions extends CommonOptions {
  /** The climb, e.g. `euclideanAscent()`. */
  ascent: AscentRule;
  /** The descent, e.g. `surrogateGapDescent({ alpha: 0.1 })`. */
  descent: DescentRule;
  /** Which steps climb; default {@link everyStep}. */
  climb?: ClimbPolicy;
}

/** The option names shared by all presets (for unknown-key checks). */
export const COMMON_OPTION_NAMES = [
  'base',
  'rho',
  'weightDecay',
  'eps',
  'interval',
  'climbProbability',
  'seed',
  'microBatches',
  'accumulation',
] as const;

/** The validated common settings. */
export interface CommonSettings {
  base: tf.Optimizer;
  rho: RhoOption;
  weightDecay: number;
  eps: number;
  interval: number;
  /** undefined: no draw (every step the schedule allows climbs). */
  climbProbability: number | undefined;
  seed: number;
  microBatches: number;
  accumulation: number;
}

/** Validates the options shared by every preset; throws a TypeError or RangeError naming the bad option. */
export function validateCommonOptions(className: string, options: CommonOptions): CommonSettings {
  checkOptionsObject(className, 'options', options, '{ base: tf.train.sgd(0.1), rho: 0.05 }');
  const { base, rho } = options;
  if (!(base instanceof tf.Optimizer) || typeof (base as tf.Optimizer).getClassName !== 'function') {
    throw new TypeError(`${className}: base must be a tf.Optimizer (e.g. tf.train.sgd(0.1)), got ${describeValue(base)}`);
  }
  if (typeof rho === 'number') readNumberOption(className, 'rho', COMMON_OPTION_RULES.rho, rho);
  else if (typeof rho !== 'function' && !isProportionalRho(rho)) {
    throw new TypeError(
      `${className}: rho must be a finite number >= 0, a function of the step, or proportionalRho(...), got ${describeValue(rho)}`,
    );
  }
  const r = COMMON_OPTION_RULES;
  const weightDecay = readNumberOption(className, 'weightDecay', r.weightDecay, options.weightDecay);
  const eps = readNumberOption(className, 'eps', r.eps, options.eps);
  const interval = readNumberOption(className, 'interval', r.interval, options.interval);
  const climbProbability =
    options.climbProbability === undefined
      ? undefined
      : readNumberOption(className, 'climbProbability', r.climbProbability, options.climbProbability);
  const seed = readNumberOption(className, 'seed', r.seed, options.seed);
  const microBatches = readNumberOption(className, 'microBatches', r.microBatches, options.microBatches);
  const accumulation = readNumberOption(className, 'accumulation', r.accumulation, options.accumulation);
  return { base, rho, weightDecay, eps, interval, climbProbability, seed, microBatches, accumulation };
}

/**
 * The seeds of an optimiser's generators, drawn from its `seed` in this order: the climb draws
 * (RST), then the rules' (ESAM's weight masks), so that the two streams differ.
 */
export function optimizerSeeds(seed: number): {
  /** Seeds the climb policy's draws (RST). */
  climb: number;
  /** Seeds the rules' draws (ESAM's weight masks). */
  rules: number;
} {
  const rng = new Rng(seed);
  return { climb: rng.seed(), rules: rng.seed() };
}

/** Checks that `rule` has the method a rule of `kind` must have. */
function checkRule(where: string, kind: string, rule: unknown, method: string): void {
  if (typeof (rule as Record<string, unknown> | null)?.[method] !== 'function') {
    throw new TypeError(`${where}: ${kind} must be an object with a ${method}() method, got ${describeValue(rule)}`);
  }
}

/** The prefixes under which getWeights saves each part of the state, in order. */
const STATE_PREFIXES = ['ascent', 'descent', 'climb'] as const;

/**
 * The step around a base optimiser: one ascent rule, one descent rule, a climb policy, a rho
 * schedule. Usable directly with any pair of rules:
 * `new SharpnessAwareOptimizer({ base: tf.train.sgd(0.1), rho: 0.05, ascent: euclideanAscent(), descent: perturbedDescent() })`.
 *
 * `minimize(f)` calls `f` twice per climbing step, first at w (clean), then at w + e, and once on a
 * step the climb policy skips. After each step {@link lastLoss}, {@link lastPerturbedLoss} and
 * {@link lastSurrogateGap} hold that step's values. `applyGradients` alone is the base optimiser's
 * update (no sharpness-aware step). Built directly from rules it cannot be serialised by
 * `getConfig` (rules are code); its state still saves and restores with `getWeights`/`setWeights`.
 */
export class SharpnessAwareOptimizer extends tf.Optimizer {
  /** The class name tfjs's getClassName and error messages use; presets override it (this class itself is not registered). */
  static readonly className: string = 'SharpnessAwareOptimizer';
  /** The optimiser that applies the final direction. */
  readonly base: tf.Optimizer;
  /** The rho setting (constant, function, or proportional rule). */
  readonly rho: RhoOption;
  /** Coupled L2 weight decay. */
  readonly weightDecay: number;
  /** Denominator guard. */
  readonly eps: number;
  /** The climb from w to w + e. */
  protected readonly ascentRule: AscentRule;
  /** How g and g_p combine into the direction d. */
  protected readonly descentRule: DescentRule;
  /** Which steps climb (two passes) and which take the one-pass step; default {@link everyStep}. */
  protected readonly climbPolicy: ClimbPolicy;
  /** Climb only every `interval`-th step (1: every step the method's schedule allows). */
  readonly interval: number;
  /** RST's climb probability, or undefined when no step draws. */
  readonly climbProbability: number | undefined;
  /** Seed of the optimiser's random draws. */
  readonly seed: number;
  /** m-sharpness: perturbations per mini-batch. */
  readonly microBatches: number;
  /** Gradient accumulation: parts each mini-batch is evaluated in. */
  readonly accumulation: number;
  private stepCount = 0;
  private lastRho: number | null = null;
  /**
   * The last step's losses, as many tensors after every step (so that `tf.memory().numTensors`
   * does not move with the kind of step): after a one-pass step perturbedLoss shares loss's buffer
   * and onePass is true (h = 0).
   */
  private lastTensors: { loss: tf.Scalar; perturbedLoss: tf.Scalar; onePass: boolean } | null = null;
  /** The step's settings, checked once here rather than on every step. */
  private readonly settings: StepSettings;

  constructor(options: SharpnessAwareOptions) {
    super();
    const where = new.target.className;
    const settings = validateCommonOptions(where, options);
    checkRule(where, 'ascent', options.ascent, 'perturbation');
    checkRule(where, 'descent', options.descent, 'direction');
    if (options.climb !== undefined) checkRule(where, 'climb', options.climb, 'climbs');
    const { interval, climbProbability, seed, microBatches, accumulation } = settings;
    checkStepCombination(where, {
      ascent: options.ascent,
      descent: options.descent,
      microBatches,
      accumulation,
      exampleShare: options.descent.exampleShare ?? 1,
    });
    this.settings = stepSettings({
      ascent: options.ascent,
      descent: options.descent,
      weightDecay: settings.weightDecay,
      eps: settings.eps,
      microBatches,
      accumulation,
    });
    this.base = settings.base;
    this.rho = settings.rho;
    this.weightDecay = settings.weightDecay;
    this.eps = settings.eps;
    this.interval = interval;
    this.climbProbability = climbProbability;
    this.seed = seed;
    this.microBatches = microBatches;
    this.accumulation = accumulation;
    this.ascentRule = options.ascent;
    this.descentRule = options.descent;
    // The common schedule options narrow the method's own policy; without them it is used as given.
    const extra = [
      ...(interval > 1 ? [everyKthStep(interval)] : []),
      ...(climbProbability !== undefined ? [randomClimb(climbProbability, optimizerSeeds(seed).climb)] : []),
    ];
    this.climbPolicy = extra.length === 0 ? (options.climb ?? everyStep()) : allOf(...(options.climb ? [options.climb] : []), ...extra);
  }

  /**
   * tf.Optimizer answers `instanceof` by duck typing (anything with minimize, computeGradients and
   * applyGradients is a tf.Optimizer), which this class and its presets would inherit: then every
   * tfjs optimiser would be `instanceof SAM`. Here `instanceof` follows the real prototype chain.
   */
  static override [Symbol.hasInstance](value: unknown): boolean {
    return Function.prototype[Symbol.hasInstance].call(this, value);
  }

  /**
   * True when a step needs one loss per example (`minimize(exampleLosses(...))`): ESAM's data
   * selection, micro-batches (m-sharpness) or gradient accumulation.
   */
  get needsExampleLosses(): boolean {
    return this.microBatches > 1 || this.accumulation > 1 || (this.descentRule.exampleShare ?? 1) < 1;
  }

  /** Steps taken so far (the rho schedule's position). */
  get step(): number {
    return this.stepCount;
  }

  /** rho for the next step, from the schedule and the base optimiser's current learning rate. */
  currentRho(): number {
    return rhoAt(this.rho, { step: this.stepCount, learningRate: getLearningRate(this.base) });
  }

  /** rho used by the last step, or null before the first. */
  get lastRhoUsed(): number | null {
    return this.lastRho;
  }

  /** Clean loss L(w) of the last step, or null before the first. */
  get lastLoss(): number | null {
    return this.lastTensors === null ? null : this.lastTensors.loss.dataSync()[0];
  }

  /** Perturbed loss L(w + e) of the last step, or null before the first. */
  get lastPerturbedLoss(): number | null {
    return this.lastTensors === null ? null : this.lastTensors.perturbedLoss.dataSync()[0];
  }

  /** Surrogate gap h = L(w + e) - L(w) of the last step (0 when it made one pass), or null before the first. */
  get lastSurrogateGap(): number | null {
    if (this.lastTensors === null) return null;
    const { loss, perturbedLoss, onePass } = this.lastTensors;
    // The float32 difference, as tf.sub computes it.
    return onePass ? 0 : Math.fround(perturbedLoss.dataSync()[0] - loss.dataSync()[0]);
  }

  /**
   * The sharpness-aware direction: asks the climb policy whether this step climbs, runs the passes
   * and returns the clean loss and, per variable, the direction d the base optimiser should apply.
   * Does not change any variable.
   */
  override computeGradients(
    f: (() => tf.Scalar) | ExampleLossClosure,
    varList?: tf.Variable[],
  ): {
    /** The clean loss L(w). */
    value: tf.Scalar;
    /** The direction d per variable name (weight decay included). */
    grads: tf.NamedTensorMap;
  } {
    const vars = varList ?? defaultTrainableVariables();
    const rho = this.currentRho();
    const climb = this.climbPolicy.climbs({ step: this.stepCount });
    const result = stepWithSettings(f, vars, {
      ...this.settings,
      rho: checkNumber('sharpnessAwareStep', 'rho', rho, undefined, { min: 0 }),
      climb,
    });
    this.lastRho = rho;
    const onePass = result.perturbedLoss === null;
    this.rememberLast({
      loss: sharedReference(result.loss),
      perturbedLoss: result.perturbedLoss ?? sharedReference(result.loss),
      onePass,
    });
    const grads: tf.NamedTensorMap = {};
    result.vars.forEach((v, i) => (grads[v.name] = result.gradients[i]));
    return { value: result.loss, grads };
  }

  /** Keeps this step's losses for lastLoss & co., freeing the previous step's. */
  private rememberLast(values: { loss: tf.Scalar; perturbedLoss: tf.Scalar; onePass: boolean } | null): void {
    if (this.lastTensors !== null) {
      this.lastTensors.loss.dispose();
      this.lastTensors.perturbedLoss.dispose();
    }
    // keep(): model.fit runs the step inside tf.tidy, which would otherwise dispose these.
    this.lastTensors =
      values === null ? null : { loss: tf.keep(values.loss), perturbedLoss: tf.keep(values.perturbedLoss), onePass: values.onePass };
  }

  /**
   * One full sharpness-aware step: both passes (one if the step does not climb), then the base
   * optimiser applies d. Returns the clean loss L(w) when `returnCost` is true. `f` is the closure
   * of the batch's mean loss that tfjs (and `model.fit`) passes, or an {@link ExampleLossClosure}
   * (`exampleLosses(size, losses)`), which ESAM's data selection, `microBatches` and `accumulation`
   * need.
   */
  override minimize(f: (() => tf.Scalar) | ExampleLossClosure, returnCost = false, varList?: tf.Variable[]): tf.Scalar | null {
    if (typeof f !== 'function' && !isExampleLossClosure(f)) {
      throw new TypeError(
        `${this.getClassName()}.minimize: f must be a loss closure () => tf.Scalar or exampleLosses(size, losses), got ${describeValue(f)}`,
      );
    }
    const vars = varList ?? defaultTrainableVariables();
    const { value, grads } = this.computeGradients(f, vars);
    // An array over every variable keeps positions stable for base optimisers that index their
    // slots by position (tfjs momentum), also when a variable got no gradient this step.
    this.applyGradients(vars.map((v) => ({ name: v.name, tensor: grads[v.name] as tf.Tensor })));
    tf.dispose(grads);
    if (returnCost) return value;
    value.dispose();
    return null;
  }

  /** Applies `variableGradients` with the base optimiser and advances the step (and rho schedule). */
  override applyGradients(variableGradients: tf.NamedTensorMap | NamedTensor[]): void {
    this.base.applyGradients(variableGradients);
    this.stepCount += 1;
    this.incrementIterations();
  }

  /** The rules' states by prefix (only the rules that have one). */
  private ruleStates(): [prefix: string, state: RuleState][] {
    const owners = { ascent: this.ascentRule, descent: this.descentRule, climb: this.climbPolicy };
    return STATE_PREFIXES.flatMap((prefix) => {
      const state = owners[prefix].state;
      return state === undefined ? [] : [[prefix, state] as [string, RuleState]];
    });
  }

  /**
   * The full state: this wrapper's step count (`iter`), the base optimiser's weights prefixed with
   * `base/`, then each stateful rule's state prefixed with `ascent/`, `descent/` or `climb/`.
   * Restoring them with {@link setWeights} resumes training exactly.
   */
  override async getWeights(): Promise<NamedTensor[]> {
    const baseWeights = await this.base.getWeights();
    return [
      { name: 'iter', tensor: tf.scalar(this.stepCount, 'int32') },
      ...baseWeights.map((w) => ({ name: `base/${w.name}`, tensor: w.tensor })),
      ...this.ruleStates().flatMap(([prefix, state]) => state.save().map((w) => ({ name: `${prefix}/${w.name}`, tensor: w.tensor }))),
    ];
  }

  /**
   * Restores the state saved by {@link getWeights} (the tensors stay the caller's). A restored Adam
   * base gets its running beta powers rebuilt bit-exactly (tfjs recomputes them with `pow`), so a
   * resumed run continues exactly as one that never stopped.
   */
  override async setWeights(weightValues: NamedTensor[]): Promise<void> {
    const where = `${this.getClassName()}.setWeights`;
    if (!Array.isArray(weightValues) || weightValues.length === 0 || weightValues[0]?.name !== 'iter') {
      throw new TypeError(`${where}: expected the list returned by getWeights() (first entry 'iter')`);
    }
    const parts = new Map<string, NamedTensor[]>([
      ['base', []],
      ...this.ruleStates().map(([prefix]) => [prefix, []] as [string, NamedTensor[]]),
    ]);
    for (const w of weightValues.slice(1)) {
      const slash = w.name.indexOf('/');
      const part = parts.get(w.name.slice(0, slash));
      if (slash < 0 || part === undefined) {
        throw new TypeError(`${where}: unexpected weight '${w.name}' (expected ${[...parts.keys()].map((k) => `${k}/...`).join(', ')})`);
      }
      part.push({ name: w.name.slice(slash + 1), tensor: w.tensor });
    }
    const step = (await weightValues[0].tensor.data())[0];
    await this.base.setWeights(parts.get('base') as NamedTensor[]);
    repairRestoredOptimizer(this.base);
    for (const [prefix, state] of this.ruleStates()) state.load(parts.get(prefix) as NamedTensor[]);
    this.stepCount = step;
    this.iterations_ = step;
  }

  /** Serialisable configuration (a rho given as a function cannot be serialised). */
  override getConfig(): tf.serialization.ConfigDict {
    if (typeof this.rho === 'function') {
      throw new Error(
        `${this.getClassName()}.getConfig: rho is a function, which cannot be serialised; use a number or proportionalRho(...)`,
      );
    }
    // The schedule and batch options appear only when set, so a preset's config is what it was before they existed.
    return {
      base: { className: this.base.getClassName(), config: this.base.getConfig() },
      rho: (typeof this.rho === 'number' ? this.rho : { ...this.rho }) as tf.serialization.ConfigDictValue,
      weightDecay: this.weightDecay,
      eps: this.eps,
      ...(this.interval !== 1 ? { interval: this.interval } : {}),
      ...(this.climbProbability !== undefined ? { climbProbability: this.climbProbability } : {}),
      ...(this.seed !== 0 ? { seed: this.seed } : {}),
      ...(this.microBatches !== 1 ? { microBatches: this.microBatches } : {}),
      ...(this.accumulation !== 1 ? { accumulation: this.accumulation } : {}),
      ...this.presetConfig(),
    };
  }

  /**
   * Rebuilds a preset from {@link getConfig}'s output (tfjs's serialisation calls this): the config
   * holds the preset's own options plus the base optimiser as `{ className, config }`.
   */
  static override fromConfig<T extends tf.serialization.Serializable>(
    cls: tf.serialization.SerializableConstructor<T>,
    config: tf.serialization.ConfigDict,
  ): T {
    const construct = cls as unknown as new (options: CommonOptions) => T;
    return new construct({ ...(config as object), base: deserializeBaseOptimizer(config.base) } as CommonOptions);
  }

  /**
   * The preset's own options for {@link getConfig}. Rules given directly are code, not data, so the
   * class used directly has none to give.
   */
  protected presetConfig(): tf.serialization.ConfigDict {
    throw new Error(
      `${this.getClassName()}.getConfig: an optimiser built directly from rules cannot be serialised; use a preset (SAM, ASAM, GSAM, AdaptiveGSAM, LookSAM, MomentumSAM, ESAM) or a subclass that implements presetConfig()`,
    );
  }

  /** Disposes the base optimiser's state, the rules' states and the kept last-step values. */
  override dispose(): void {
    this.rememberLast(null);
    for (const [, state] of this.ruleStates()) state.dispose();
    this.base.dispose();
    disposeForgottenOptimizerState(this.base);
    super.dispose();
  }
}

/** Rebuilds a base optimiser from `{ className, config }` through tfjs's serialisation registry. */
export function deserializeBaseOptimizer(value: unknown): tf.Optimizer {
  const spec = value as { className?: unknown; config?: unknown } | null;
  if (spec === null || typeof spec !== 'object' || typeof spec.className !== 'string') {
    throw new TypeError(`base must be a tf.Optimizer or { className, config }, got ${describeValue(value)}`);
  }
  const entry = tf.serialization.SerializationMap.getMap().classNameMap[spec.className];
  if (entry === undefined) throw new RangeError(`base: unknown optimizer class '${spec.className}'`);
  const [cls, fromConfig] = entry;
  return fromConfig(cls, (spec.config ?? {}) as tf.serialization.ConfigDict) as unknown as tf.Optimizer;
}
