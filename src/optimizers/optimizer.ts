/**
 * `SharpnessAwareOptimizer`: a `tf.Optimizer` that wraps a base optimiser and runs the two-pass step
 * of step.ts inside `minimize`, so `model.compile({ optimizer })` + `model.fit` work unchanged and
 * report the CLEAN loss. The four named optimisers (presets.ts) are thin subclasses.
 */
import * as tf from '@tensorflow/tfjs';

/** A named tensor, as tfjs optimisers exchange weights (tfjs does not re-export this type). */
export interface NamedTensor {
  name: string;
  tensor: tf.Tensor;
}
import type { AscentRule } from './ascent.js';
import type { DescentRule } from './descent.js';
import { getLearningRate, isProportionalRho, rhoAt, type RhoOption } from './schedules.js';
import { defaultTrainableVariables, sharpnessAwareStep } from './step.js';
import { describe, requireFiniteNonNegative } from './validation.js';

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
}

/** The option names shared by all presets (for unknown-key checks). */
export const COMMON_OPTION_NAMES = ['base', 'rho', 'weightDecay', 'eps'] as const;

/** The validated common settings. */
interface CommonSettings {
  base: tf.Optimizer;
  rho: RhoOption;
  weightDecay: number;
  eps: number;
}

/** Validates the options shared by every preset; throws an error naming the bad option. */
export function validateCommonOptions(className: string, options: CommonOptions): CommonSettings {
  if (typeof options !== 'object' || options === null) {
    throw new Error(`${className}: options must be an object like { base: tf.train.sgd(0.1), rho: 0.05 }`);
  }
  const { base, rho } = options;
  if (!(base instanceof tf.Optimizer) || typeof (base as tf.Optimizer).getClassName !== 'function') {
    throw new Error(`${className}: base must be a tf.Optimizer (e.g. tf.train.sgd(0.1)), got ${describe(base)}`);
  }
  if (typeof rho === 'number') requireFiniteNonNegative(`${className}: rho`, rho);
  else if (typeof rho !== 'function' && !isProportionalRho(rho)) {
    throw new Error(`${className}: rho must be a finite number >= 0, a function of the step, or proportionalRho(...), got ${describe(rho)}`);
  }
  const weightDecay = requireFiniteNonNegative(`${className}: weightDecay`, options.weightDecay ?? 0);
  const eps = requireFiniteNonNegative(`${className}: eps`, options.eps ?? 1e-12);
  return { base, rho, weightDecay, eps };
}

/**
 * The common machinery of SAM, ASAM, GSAM and Adaptive-GSAM: one ascent rule, one descent rule,
 * a rho schedule, a base optimiser.
 *
 * `minimize(f)` calls `f` twice per step, first at w (clean), then at w + e. After each step
 * {@link lastLoss}, {@link lastPerturbedLoss} and {@link lastSurrogateGap} hold that step's values.
 * `applyGradients` alone is the base optimiser's update (no sharpness-aware step).
 */
export abstract class SharpnessAwareOptimizer extends tf.Optimizer {
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
  private stepCount = 0;
  private lastRho: number | null = null;
  private lastTensors: { loss: tf.Scalar; perturbedLoss: tf.Scalar; surrogateGap: tf.Scalar } | null = null;

  protected constructor(settings: CommonSettings, ascent: AscentRule, descent: DescentRule) {
    super();
    this.base = settings.base;
    this.rho = settings.rho;
    this.weightDecay = settings.weightDecay;
    this.eps = settings.eps;
    this.ascentRule = ascent;
    this.descentRule = descent;
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

  /** Surrogate gap h = L(w + e) - L(w) of the last step, or null before the first. */
  get lastSurrogateGap(): number | null {
    return this.lastTensors === null ? null : this.lastTensors.surrogateGap.dataSync()[0];
  }

  /**
   * The sharpness-aware direction: runs both passes and returns the clean loss and, per variable,
   * the direction d the base optimiser should apply. Does not change any variable.
   */
  override computeGradients(
    f: () => tf.Scalar,
    varList?: tf.Variable[],
  ): {
    /** The clean loss L(w). */
    value: tf.Scalar;
    /** The direction d per variable name (weight decay included). */
    grads: tf.NamedTensorMap;
  } {
    const vars = varList ?? defaultTrainableVariables();
    const rho = this.currentRho();
    const result = sharpnessAwareStep(f, vars, {
      ascent: this.ascentRule,
      descent: this.descentRule,
      rho,
      weightDecay: this.weightDecay,
      eps: this.eps,
    });
    this.lastRho = rho;
    // keep(): model.fit runs the step inside tf.tidy, which would otherwise dispose these.
    const kept = {
      loss: tf.keep(result.loss.clone()),
      perturbedLoss: tf.keep(result.perturbedLoss),
      surrogateGap: tf.keep(result.surrogateGap),
    };
    if (this.lastTensors !== null) tf.dispose([this.lastTensors.loss, this.lastTensors.perturbedLoss, this.lastTensors.surrogateGap]);
    this.lastTensors = kept;
    const grads: tf.NamedTensorMap = {};
    result.vars.forEach((v, i) => (grads[v.name] = result.gradients[i]));
    return { value: result.loss, grads };
  }

  /**
   * One full sharpness-aware step: both passes, then the base optimiser applies d.
   * Returns the clean loss L(w) when `returnCost` is true.
   */
  override minimize(f: () => tf.Scalar, returnCost = false, varList?: tf.Variable[]): tf.Scalar | null {
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

  /**
   * The full state: this wrapper's step count (`iter`), then the base optimiser's weights prefixed
   * with `base/`. Restoring them with {@link setWeights} resumes training exactly.
   */
  override async getWeights(): Promise<NamedTensor[]> {
    const baseWeights = await this.base.getWeights();
    return [
      { name: 'iter', tensor: tf.scalar(this.stepCount, 'int32') },
      ...baseWeights.map((w) => ({ name: `base/${w.name}`, tensor: w.tensor })),
    ];
  }

  /** Restores the state saved by {@link getWeights}. */
  override async setWeights(weightValues: NamedTensor[]): Promise<void> {
    if (!Array.isArray(weightValues) || weightValues.length === 0 || weightValues[0].name !== 'iter') {
      throw new Error(`${this.getClassName()}.setWeights: expected the list returned by getWeights() (first entry 'iter')`);
    }
    const step = (await weightValues[0].tensor.data())[0];
    const rest = weightValues.slice(1).map((w) => {
      if (!w.name.startsWith('base/')) throw new Error(`${this.getClassName()}.setWeights: unexpected weight '${w.name}' (expected base/...)`);
      return { name: w.name.slice('base/'.length), tensor: w.tensor };
    });
    await this.base.setWeights(rest);
    this.stepCount = step;
    this.iterations_ = step;
  }

  /** Serialisable configuration (a rho given as a function cannot be serialised). */
  override getConfig(): tf.serialization.ConfigDict {
    if (typeof this.rho === 'function') {
      throw new Error(`${this.getClassName()}.getConfig: rho is a function, which cannot be serialised; use a number or proportionalRho(...)`);
    }
    return {
      base: { className: this.base.getClassName(), config: this.base.getConfig() },
      rho: (typeof this.rho === 'number' ? this.rho : { ...this.rho }) as tf.serialization.ConfigDictValue,
      weightDecay: this.weightDecay,
      eps: this.eps,
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

  /** The preset's own options for {@link getConfig}. */
  protected abstract presetConfig(): tf.serialization.ConfigDict;

  /** Disposes the base optimiser's state and the kept last-step values. */
  override dispose(): void {
    if (this.lastTensors !== null) tf.dispose([this.lastTensors.loss, this.lastTensors.perturbedLoss, this.lastTensors.surrogateGap]);
    this.lastTensors = null;
    this.base.dispose();
    // tfjs 4.22's MomentumOptimizer.dispose() forgets SGD's cached -lr scalar `c`.
    const c = (this.base as unknown as { c?: tf.Tensor }).c;
    if (c !== undefined && !c.isDisposed) c.dispose();
    super.dispose();
  }
}

/** Rebuilds a base optimiser from `{ className, config }` through tfjs's serialisation registry. */
export function deserializeBaseOptimizer(value: unknown): tf.Optimizer {
  const spec = value as { className?: unknown; config?: unknown } | null;
  if (spec === null || typeof spec !== 'object' || typeof spec.className !== 'string') {
    throw new Error(`base must be a tf.Optimizer or { className, config }, got ${describe(value)}`);
  }
  const entry = tf.serialization.SerializationMap.getMap().classNameMap[spec.className];
  if (entry === undefined) throw new Error(`base: unknown optimizer class '${spec.className}'`);
  const [cls, fromConfig] = entry;
  return fromConfig(cls, (spec.config ?? {}) as tf.serialization.ConfigDict) as unknown as tf.Optimizer;
}
