/**
 * rho schedules and the learning-rate accessors they need. A schedule is either a plain function of
 * the step (not serialisable) or a {@link ProportionalRho} description (serialisable), so that an
 * optimiser using GSAM's rule can be saved and restored.
 */
import * as tf from '@tensorflow/tfjs';
import { checkNumber, describeValue } from '../util/validation.js';

/** What a rho schedule is told each step: the step index (0-based) and the base learning rate now. */
export interface RhoContext {
  /** The step about to be taken, from 0. */
  readonly step: number;
  /** The base optimiser's learning rate now. */
  readonly learningRate: number;
}

/** A user function of the step returning rho for that step (must be finite and >= 0). */
export type RhoFunction = (ctx: RhoContext) => number;

/**
 * GSAM's rule: rho proportional to the learning rate,
 * `rho_t = rhoMin + (rhoMax - rhoMin) * (lr_t - lrMin) / (lrMax - lrMin)`, and `rhoMax` when
 * `lrMax == lrMin`.
 */
export interface ProportionalRho {
  /** Marks the description as this rule. */
  readonly type: 'proportional';
  /** rho at the largest learning rate. */
  readonly rhoMax: number;
  /** rho at the smallest learning rate. */
  readonly rhoMin: number;
  /** The largest learning rate of the run. */
  readonly lrMax: number;
  /** The smallest learning rate of the run. */
  readonly lrMin: number;
}

/** Anything accepted as `rho`: a constant, a function of the step, or GSAM's proportional rule. */
export type RhoOption = number | RhoFunction | ProportionalRho;

/** Builds GSAM's learning-rate-proportional rho schedule (validated). */
export function proportionalRho(options: { rhoMax: number; rhoMin?: number; lrMax: number; lrMin?: number }): ProportionalRho {
  const where = 'proportionalRho';
  if (typeof options !== 'object' || options === null) {
    throw new TypeError(`${where}: options must be an object like { rhoMax: 0.05, lrMax: 0.1 }, got ${describeValue(options)}`);
  }
  const rhoMax = checkNumber(where, 'rhoMax', options.rhoMax, undefined, { min: 0 });
  const rhoMin = checkNumber(where, 'rhoMin', options.rhoMin, 0, { min: 0 });
  const lrMax = checkNumber(where, 'lrMax', options.lrMax, undefined, { min: 0 });
  const lrMin = checkNumber(where, 'lrMin', options.lrMin, 0, { min: 0 });
  if (rhoMin > rhoMax) throw new RangeError(`${where}: rhoMin must be <= rhoMax, got rhoMin=${rhoMin}, rhoMax=${rhoMax}`);
  if (lrMin > lrMax) throw new RangeError(`${where}: lrMin must be <= lrMax, got lrMin=${lrMin}, lrMax=${lrMax}`);
  return { type: 'proportional', rhoMax, rhoMin, lrMax, lrMin };
}

/** rho for one step under any {@link RhoOption}; throws if a user function returns a bad value. */
export function rhoAt(rho: RhoOption, ctx: RhoContext): number {
  if (typeof rho === 'number') return rho;
  if (typeof rho === 'function') {
    const value = rho(ctx);
    if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
      const message = `rho schedule returned ${describeValue(value)} at step ${ctx.step}; rho must be a finite number >= 0`;
      throw typeof value === 'number' ? new RangeError(message) : new TypeError(message);
    }
    return value;
  }
  const { rhoMax, rhoMin, lrMax, lrMin } = rho;
  if (lrMax === lrMin) return rhoMax;
  return rhoMin + ((rhoMax - rhoMin) * (ctx.learningRate - lrMin)) / (lrMax - lrMin);
}

/** True when `x` is a {@link ProportionalRho} description. */
export function isProportionalRho(x: unknown): x is ProportionalRho {
  return typeof x === 'object' && x !== null && (x as { type?: unknown }).type === 'proportional';
}

type WithLearningRate = { learningRate?: unknown; setLearningRate?: (lr: number) => void };

/** The current learning rate of a tfjs optimiser (SGD, momentum, Adam, RMSProp, ...); NaN if it has none. */
export function getLearningRate(optimizer: tf.Optimizer): number {
  const lr = (optimizer as unknown as WithLearningRate).learningRate;
  return typeof lr === 'number' ? lr : Number.NaN;
}

/**
 * Sets the learning rate of a tfjs optimiser. SGD and momentum cache `-lr` in a tensor, so their own
 * `setLearningRate` must be used; the others read the `learningRate` field at every step.
 */
export function setLearningRate(optimizer: tf.Optimizer, learningRate: number): void {
  checkNumber('setLearningRate', 'learningRate', learningRate, undefined, { min: 0 });
  const target = optimizer as unknown as WithLearningRate & { base?: tf.Optimizer };
  if (target.base !== undefined && typeof target.base === 'object') {
    setLearningRate(target.base, learningRate); // a sharpness-aware wrapper: set its base
    return;
  }
  if (typeof target.setLearningRate === 'function') target.setLearningRate(learningRate);
  else if (typeof target.learningRate === 'number') target.learningRate = learningRate;
  else throw new TypeError(`setLearningRate: optimizer ${optimizer.getClassName()} has no learning rate to set`);
}
