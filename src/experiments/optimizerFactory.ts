/**
 * Builds the optimiser a run spec describes: the base tfjs optimiser (sgd / momentum / adam), the
 * sharpness-aware wrapper around it, the rho schedule, and the per-step learning-rate schedule.
 * Every default the spec may omit lives in {@link OPTIMIZER_DEFAULTS}, so the CLI can show them.
 */
import * as tf from '@tensorflow/tfjs';
import {
  METHODS,
  methodOptions,
  methodRow,
  proportionalRho,
  setLearningRate,
  SharpnessAwareOptimizer,
  type MethodName,
  type RhoOption,
} from '../optimizers/index.js';
import { PRESET_OPTION_RULES } from '../optimizers/presets.js';
import { disposeForgottenOptimizerState } from '../util/tfjsFixes.js';
import type { BaseOptimizerSpec, OptimizerSpec } from './schema.js';

/** The values used when a spec leaves an optimiser option out (from the method table; shown by the CLI). */
export const OPTIMIZER_DEFAULTS = Object.freeze({
  /**
   * Neighbourhood radius per method (each row's default; 0 for SGD). ASAM's and Adaptive-GSAM's are
   * 10x SAM's because their climb is scaled elementwise: ASAM's by T = |w| + eta, Adaptive-GSAM's
   * (elementwise ascent) by |w| + gamma, and with weights well under 1 that shrinks e far below SAM's
   * at the same rho; 0.5 is ASAM's usual value and the one the Adaptive-GSAM examples use.
   */
  rho: Object.freeze(Object.fromEntries(METHODS.map((m) => [m.name, (m.defaults as { rho?: number }).rho ?? 0]))) as Readonly<
    Record<MethodName, number>
  >,
  /** GSAM / Adaptive-GSAM weight of the orthogonal ascent (GSAM's typical value). */
  alpha: methodRow('gsam').defaults.alpha as number,
  /** ASAM's T = |w| + eta. */
  eta: PRESET_OPTION_RULES.ASAM.eta.default,
  /** Adaptive-GSAM's elementwise (|w| + gamma). */
  gamma: PRESET_OPTION_RULES.AdaptiveGSAM.gamma.default,
  /** Momentum coefficient of the 'momentum' base. */
  momentum: 0.9,
  /** Coupled L2 weight decay. */
  weightDecay: 0,
  /** Learning-rate schedule. */
  schedule: 'constant' as const,
  /** rho schedule; with 'proportional', rho decays with the learning rate down to rhoMin. */
  rhoSchedule: 'constant' as const,
  rhoMin: 0,
  /** Adaptive-GSAM ascent rule. */
  ascent: 'elementwise' as const,
});

/**
 * The learning rate at 0-based step `step` of a run of `totalSteps` steps:
 * 'constant' lr0; 'cosine' lr0 * (1 + cos(pi * step / totalSteps)) / 2 (reaches 0 at the end of
 * the run); 'step' lr0, then x0.1 from 50 % of the run and x0.01 from 75 %.
 */
export function learningRateAt(base: BaseOptimizerSpec, step: number, totalSteps: number): number {
  if (!Number.isInteger(totalSteps) || totalSteps <= 0) throw new Error(`totalSteps must be a positive integer, got ${totalSteps}`);
  if (!Number.isInteger(step) || step < 0 || step > totalSteps)
    throw new Error(`step must be an integer in [0, ${totalSteps}], got ${step}`);
  const lr0 = base.learningRate;
  const schedule = base.schedule ?? OPTIMIZER_DEFAULTS.schedule;
  switch (schedule) {
    case 'constant':
      return lr0;
    case 'cosine':
      return (lr0 * (1 + Math.cos((Math.PI * step) / totalSteps))) / 2;
    case 'step':
      return step >= 0.75 * totalSteps ? lr0 * 0.01 : step >= 0.5 * totalSteps ? lr0 * 0.1 : lr0;
    default:
      throw new Error(`base.schedule must be one of constant, cosine, step; got ${String(schedule)}`);
  }
}

/** The smallest learning rate a schedule reaches (the lrMin of GSAM's proportional rho). */
export function minLearningRate(base: BaseOptimizerSpec): number {
  const schedule = base.schedule ?? OPTIMIZER_DEFAULTS.schedule;
  return schedule === 'cosine' ? 0 : schedule === 'step' ? base.learningRate * 0.01 : base.learningRate;
}

/** A run's optimiser with what the training loop needs to drive it. */
export interface BuiltOptimizer {
  /** What the loop calls `minimize` on (the wrapper, or the base for plain SGD). */
  optimizer: tf.Optimizer;
  /** The base tfjs optimiser (receives the learning rate). */
  base: tf.Optimizer;
  /** The sharpness-aware wrapper, or null for plain SGD without weight decay. */
  sharpnessAware: SharpnessAwareOptimizer | null;
  /** Whether perturbed loss and surrogate gap mean anything (false for 'sgd' and 'msam'). */
  perturbs: boolean;
  /** Whether a step needs one loss per example (`minimize(exampleLosses(...))`: ESAM, micro-batches, accumulation). */
  exampleLosses: boolean;
  /** Sets the base learning rate for 0-based run step `step` (call before each step). */
  setStep(step: number): void;
  /** Frees the optimiser's tensors. */
  dispose(): void;
}

function createBase(base: BaseOptimizerSpec): tf.Optimizer {
  switch (base.name) {
    case 'sgd':
      return tf.train.sgd(base.learningRate);
    case 'momentum':
      return tf.train.momentum(base.learningRate, base.momentum ?? OPTIMIZER_DEFAULTS.momentum);
    case 'adam':
      return tf.train.adam(base.learningRate);
    default:
      throw new Error(`base.name must be one of sgd, momentum, adam; got ${String((base as { name: unknown }).name)}`);
  }
}

/**
 * Builds the optimiser for a spec, from its row in the method table: the base, the rho setting
 * (constant, or GSAM's proportional rule over this run's learning rates), the method's constructor
 * options from the spec's fields (its defaults where the spec leaves one out).
 * @param totalSteps optimiser steps in the whole run (epochs x steps per epoch), for the schedules.
 * @param seed seeds the optimiser's random draws (RST's climbs, ESAM's weight masks); default 0.
 */
export function buildOptimizer(spec: { optimizer: OptimizerSpec; base: BaseOptimizerSpec }, totalSteps: number, seed = 0): BuiltOptimizer {
  const { optimizer: o, base: b } = spec;
  const row = methodRow(o.name);
  const base = createBase(b);
  const weightDecay = b.weightDecay ?? OPTIMIZER_DEFAULTS.weightDecay;
  let rho: RhoOption = 0;
  if ('rho' in row.fields) {
    const rhoValue = o.rho ?? OPTIMIZER_DEFAULTS.rho[o.name];
    rho =
      (o.rhoSchedule ?? OPTIMIZER_DEFAULTS.rhoSchedule) === 'proportional'
        ? proportionalRho({
            rhoMax: rhoValue,
            rhoMin: o.rhoMin ?? OPTIMIZER_DEFAULTS.rhoMin,
            lrMax: b.learningRate,
            lrMin: minLearningRate(b),
          })
        : rhoValue;
  }
  let built: tf.Optimizer;
  try {
    built = row.create(methodOptions(o.name, o, { base, rho, weightDecay, seed }));
  } catch (err) {
    base.dispose();
    throw err;
  }
  const wrapper = built instanceof SharpnessAwareOptimizer ? built : null;
  let currentLr = b.learningRate;
  return {
    optimizer: wrapper ?? base,
    base,
    sharpnessAware: wrapper,
    perturbs: row.perturbs,
    exampleLosses: wrapper?.needsExampleLosses ?? false,
    setStep(step: number): void {
      const lr = learningRateAt(b, step, totalSteps);
      // Only touch the optimiser when the rate changes: SGD re-creates a tensor on every set.
      if (lr !== currentLr) {
        setLearningRate(base, lr);
        currentLr = lr;
      }
    },
    dispose(): void {
      // The wrapper disposes its base; disposing a tfjs variable twice throws.
      (wrapper ?? base).dispose();
      disposeForgottenOptimizerState(base);
    },
  };
}
